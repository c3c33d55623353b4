"""Verification: what happens when a shopper scans a code (see STYLE §10).

``services`` looks certificates up and counts checks (the check log is ``counting``,
devices per day; ``bots`` the link-preview fetchers it never counts); ``serial_codes``
and ``serials`` are a package's own code (a label run's serial) and what it says,
``history`` answers "was it valid on that day", ``fake_reports`` stores shoppers'
reports; ``requests`` reads a verify request (code, ``?as_of``, device) for the pages
and the API, ``limits`` holds their rate limits; ``views`` is the "verify" blueprint,
answered from ``page_cache``, ``labels`` the "labels" blueprint, ``reports`` the workspace's list.
"""
