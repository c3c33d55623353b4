"""Label runs: the officials' tools for one verification code per package (see STYLE §10).

What a serial code is and what scanning one shows belong to verification
(:mod:`catalogue.verification.serial_codes`, :mod:`catalogue.verification.serials`, the
``label_run`` tables in :mod:`catalogue.verification.models`); this package builds on it
and verification never imports it. ``runs`` issues and withdraws runs under the
certificate's owner rule, ``writing`` streams a run's codes as CSV, ``sheets`` draws
print-ready PDF label sheets, ``tasks`` are the background jobs, ``views`` the workspace
pages and ``cli`` the ``flask labels`` commands.
"""
