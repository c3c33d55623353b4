"""Decision-list imports: reading uploaded files within fixed bounds (DESIGN §4, §7).

``files`` holds the bounded readers; :mod:`catalogue.imports.checking` still
checks, stages and reports the rows (it moves here in a later issue).
"""
