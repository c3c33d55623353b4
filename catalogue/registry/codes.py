"""Verification codes printed as QR on packaging; ``/v/<code>`` never changes meaning.

A code is ``K`` (key id, one symbol) + 13 random symbols (65 bits) + 3 check
symbols (15 bits of HMAC-SHA256 keyed by key ``K``), in Crockford's base32
alphabet (no I, L, O, U). Parsing is case-insensitive, maps look-alikes
(I/L→1, O→0), and rejects a typo or forgery before any database work. Keys are
rotated by adding a new key id: codes already printed keep verifying.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LEN = 13
CHECK_LEN = 3
CODE_LEN = 1 + RANDOM_LEN + CHECK_LEN
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _check(key: str, body: str) -> str:
    digest = hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:4], "big")
    out = []
    for _ in range(CHECK_LEN):
        number, rem = divmod(number, 32)
        out.append(ALPHABET[rem])
    return "".join(out)


def new_code(keys: dict[str, str], key_id: str) -> str:
    """A fresh random code signed with ``keys[key_id]``."""
    kid = key_id.upper()
    if len(kid) != 1 or kid not in ALPHABET:
        raise ValueError("A verification key id must be one symbol of the code alphabet.")
    body = kid + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LEN))
    return body + _check(keys[key_id], body)


def normalise(raw: str) -> str:
    """Upper-case, drop spaces and dashes, and map look-alike letters."""
    return raw.strip().upper().replace("-", "").replace(" ", "").translate(_LOOKALIKES)


def parse_code(raw: str | None, keys: dict[str, str]) -> str | None:
    """The canonical code, or None when it is malformed, unsigned or forged."""
    if not raw or len(raw) > 64:
        return None
    code = normalise(raw)
    if len(code) != CODE_LEN or any(c not in ALPHABET for c in code):
        return None
    by_symbol = {k.upper(): v for k, v in keys.items()}
    key = by_symbol.get(code[0])
    if key is None:
        return None
    body, check = code[:-CHECK_LEN], code[-CHECK_LEN:]
    if not hmac.compare_digest(_check(key, body), check):
        return None
    return code
