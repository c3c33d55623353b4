"""Full-text search: a Whoosh index derived from the database (DESIGN §3).

Only this package imports Whoosh. ``schema`` builds documents, ``index`` owns
the on-disk index (``builds`` rebuilds it, ``drain`` applies the ``outbox`` past each
build's ``cursor`` under one writer lock, ``reader`` answers from it, ``sync`` keeps it in
step), ``params`` reads what a search asks for and ``query`` turns
:class:`~catalogue.search.params.SearchParams` into results.
"""
