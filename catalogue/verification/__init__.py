"""Verification: what happens when a shopper scans a code (see STYLE §10; more moves here later)."""
