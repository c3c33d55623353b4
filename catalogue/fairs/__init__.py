"""Trade fairs and showrooms: their exhibitors, public pages, calendar files and workspace.

``models`` (tables), ``pages`` (read models, also the fairs on the registry's pages),
``calendar`` (.ics), ``services`` (audited edits), ``forms``, ``views`` (blueprint
"fairs") and ``workspace`` (blueprint "fairs_admin", under /admin). Fairs build on
the registry; the registry never imports them.
"""
