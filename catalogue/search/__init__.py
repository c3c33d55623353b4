"""Full-text search: a Whoosh index derived from the database (DESIGN §3).

Only this package imports Whoosh. ``schema`` builds documents, ``index`` owns
the on-disk index (open, rebuild, drain the outbox under one writer lock) and
``query`` turns :class:`~catalogue.search.query.SearchParams` into results.
"""
