"""Random secrets handed to a browser (a sign-in key, a reset link's token) and the hash kept of them.

Only the SHA-256 is stored, so a copy of the database opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
