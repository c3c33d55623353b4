"""A device's daily pseudonym: lets the check log tell devices apart without storing an address."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date


def device_hash(secret: str, day: date, address: str | None, user_agent: str | None) -> str:
    """HMAC of the client address and User-Agent, keyed by the app secret and the day.

    The day in the key rotates the pseudonym daily, so checks can be grouped per
    device within a day (distinct devices, copied codes) but not followed across
    days; the secret stops anyone holding the log from testing candidate
    addresses. 128 bits, hex.
    """
    key = f"{secret}|{day.isoformat()}".encode()
    message = f"{address or ''}|{user_agent or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
