"""Label runs: one verification code per package (see STYLE §10).

``codes`` makes and reads a serial code (run + serial + keyed MAC, never stored),
``models`` holds runs and withdrawn ranges, ``runs`` issues and withdraws them
under the certificate's owner rule, ``lookup`` answers a scanned serial code,
``writing`` streams a run's codes as CSV, ``sheets`` draws print-ready PDF label
sheets, ``tasks`` are the background jobs, ``views`` the workspace pages and
``cli`` the ``flask labels`` commands.
"""
