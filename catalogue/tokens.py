"""Opaque URL-safe tokens for public clients (the change feed's and the product walk's cursors).

A token is a kind-and-version prefix, then JSON (zlib-compressed when asked) in base64url
without padding. Clients never read inside: the format can change behind a new prefix.
Tokens are not signed on purpose: a mirror keeps its cursor for weeks, and a rotated
``SECRET_KEY`` must not strand it; whoever decodes one checks its values' ranges.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

#: The most a compressed token may inflate to (a hostile token cannot take memory).
MAX_INFLATED = 64_000


def pack(prefix: str, data: Any, *, compress: bool = False) -> str:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    if compress:
        raw = zlib.compress(raw, 9)
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unpack(prefix: str, text: str, *, max_length: int, compressed: bool = False) -> Any:
    """The JSON value of a token made by :func:`pack` with ``prefix``; ``ValueError`` otherwise."""
    if not text.startswith(prefix) or len(text) > max_length:
        raise ValueError("not a token of this kind")
    body = text[len(prefix) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if compressed:
            inflate = zlib.decompressobj()
            raw = inflate.decompress(raw, MAX_INFLATED)
            if inflate.unconsumed_tail:
                raise ValueError("token too large")
        return json.loads(raw)
    except (zlib.error, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
