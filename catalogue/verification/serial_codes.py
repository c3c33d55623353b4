"""Serial codes: one per package, in the same ``/v/<code>`` space as certificate codes.

A serial code is ``K`` (key id, one symbol) + the run id (5 symbols) + the serial
(4 symbols) + a MAC (12 symbols, 60 bits of HMAC-SHA256 keyed by key ``K``), in
the Crockford base32 alphabet of :mod:`catalogue.registry.codes`: 22 symbols,
so it never reads as a 17-symbol certificate code. The MAC makes a code
unguessable and rejects a typo or a forgery before any database work; nothing
about a code is stored until it is scanned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from catalogue.registry.codes import ALPHABET, normalise

RUN_LEN = 5
SERIAL_LEN = 4
MAC_LEN = 12
CODE_LEN = 1 + RUN_LEN + SERIAL_LEN + MAC_LEN
#: The largest run id and serial the code has room for.
MAX_RUN_ID = 32**RUN_LEN - 1
MAX_SERIAL = 32**SERIAL_LEN - 1
#: Domain separation: a label MAC can never be replayed as a certificate code's check.
_DOMAIN = b"label:"
_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_CROCKFORD = str.maketrans(_RFC4648, ALPHABET)
#: Every two-symbol pair, so a serial is encoded with two look-ups.
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


@dataclass(frozen=True)
class SerialCode:
    code: str
    run_id: int
    serial: int


def _number(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(ALPHABET[rem])
    return "".join(reversed(out))


def _mac(signer: hmac.HMAC, body: str) -> str:
    h = signer.copy()
    h.update(body.encode())
    return base64.b32encode(h.digest()[:8]).decode()[:MAC_LEN].translate(_TO_CROCKFORD)


def _signer(key: str) -> hmac.HMAC:
    return hmac.new(key.encode(), _DOMAIN, hashlib.sha256)


def serial_code(keys: dict[str, str], key_id: str, run_id: int, serial: int) -> str:
    """The code printed on package ``serial`` of run ``run_id``."""
    return next(serial_codes(keys, key_id, run_id, serial, serial))


def serial_codes(keys: dict[str, str], key_id: str, run_id: int, first: int, last: int) -> Iterator[str]:
    """Codes ``first..last`` of a run, fast (a million in a few seconds): the keyed
    hash is prepared once and copied per code."""
    if not 0 < run_id <= MAX_RUN_ID or not 0 < first <= last <= MAX_SERIAL:
        raise ValueError("run id or serial out of range")
    kid = key_id.upper()
    if len(kid) != 1 or kid not in ALPHABET:
        raise ValueError("A verification key id must be one symbol of the code alphabet.")
    signer = _signer(keys[key_id])
    head = kid + _number(run_id, RUN_LEN)
    pairs = _PAIRS
    for serial in range(first, last + 1):
        body = head + pairs[serial >> 10] + pairs[serial & 1023]
        yield body + _mac(signer, body)


def parse_serial(raw: str | None, keys: dict[str, str]) -> SerialCode | None:
    """The serial code ``raw`` names, or None when it is malformed, unsigned or forged."""
    if not raw or len(raw) > 64:
        return None
    code = normalise(raw)
    if len(code) != CODE_LEN or any(c not in _VALUE for c in code):
        return None
    key = {k.upper(): v for k, v in keys.items()}.get(code[0])
    if key is None:
        return None
    body, mac = code[:-MAC_LEN], code[-MAC_LEN:]
    if not hmac.compare_digest(_mac(_signer(key), body), mac):
        return None
    run_id = _decode(code[1 : 1 + RUN_LEN])
    serial = _decode(code[1 + RUN_LEN : 1 + RUN_LEN + SERIAL_LEN])
    if run_id == 0 or serial == 0:
        return None
    return SerialCode(code, run_id, serial)


def _decode(symbols: str) -> int:
    value = 0
    for c in symbols:
        value = value * 32 + _VALUE[c]
    return value


def printed_serial(serial: int) -> str:
    """A serial as labels and pages print it: six digits, so a roll sorts and reads alike."""
    return f"{serial:06d}"


def is_serial(code: str) -> bool:
    """Whether a canonical code is a serial code (by its length alone)."""
    return len(code) == CODE_LEN
