"""``/statistics``: certified products counted by year and level, province, group and status.

:mod:`.counts` works the numbers out (grouped SQL, the registry's status rule),
:mod:`.charts` draws them as accessible SVG on the server, :mod:`.views` serves
the page and the same numbers as CSV.
"""
