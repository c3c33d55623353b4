"""Reading a verification request: the printed code, the ``?as_of`` day, the device
pseudonym, and the verdict's caching headers.

Shared by the verify pages (:mod:`catalogue.verification.views`, :mod:`catalogue.verification.labels`)
and the JSON API (:mod:`catalogue.api.views`), so a code, a date or a device is read
one way whichever door the request came through.
"""

from __future__ import annotations

import re
from datetime import date

from flask import Response, current_app, request
from flask_babel import gettext

from catalogue.clock import today as clock_today
from catalogue.registry.codes import parse_code
from catalogue.verification.bots import is_preview_fetcher
from catalogue.verification.devices import device_hash
from catalogue.verification.serial_codes import parse_serial

#: Pages that show a verdict: must reach the app on every view (see :mod:`catalogue.verification.views`).
PAGE_CACHE = "private, no-cache"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Canonical codes remembered per app; the memo is emptied when it reaches this size.
_KNOWN_CODES_MAX = 8192


def canonical_code(raw: str | None) -> str | None:
    """Canonical code (a certificate's, or a package's serial code) or None; pure computation,
    no database work.

    Correctly signed codes are remembered per app (a printed code is scanned
    again and again); rejected ones are not, so forgeries cannot fill the cache.
    """
    known: dict[str, str] = current_app.extensions.setdefault("verify_codes", {})
    canonical = known.get(raw) if raw else None
    if canonical is None:
        keys = current_app.config["VERIFY_KEYS"]
        canonical = parse_code(raw, keys)
        if canonical is None:  # a package's own code: each is scanned a few times, so never memoised
            serial = parse_serial(raw, keys)
            return serial.code if serial is not None else None
        if raw:
            if len(known) >= _KNOWN_CODES_MAX:
                known.clear()
            known[raw] = canonical
    return canonical


def parse_as_of(raw: str | None) -> tuple[date | None, str | None]:
    """``(day, error)`` for ``?as_of=``; error is a translated sentence."""
    if raw is None or raw == "":
        return None, None
    try:
        if not _ISO_DAY.match(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        return None, gettext("Enter the date as year-month-day, for example 2025-03-14.")
    if day > clock_today():
        return None, gettext("That date is in the future: choose the day you bought the product.")
    return day, None


def device() -> str:
    """This client's daily pseudonym for the check log (no address is stored)."""
    return device_hash(current_app.config["SECRET_KEY"], clock_today(), request.remote_addr,
                       request.user_agent.string)  # fmt: skip


def counts_as_scan() -> bool:
    """Whether this request counts as a check: a plain GET by a person, never a HEAD or a
    link-preview fetcher (:mod:`catalogue.verification.bots`)."""
    return request.method == "GET" and not is_preview_fetcher(request.user_agent.string)


def page_headers(response: Response, tag: str) -> Response:
    """A verdict's headers: revalidated on every view, weak ETag ``tag`` (the count left out)."""
    response.headers["Cache-Control"] = PAGE_CACHE
    response.set_etag(tag, weak=True)
    response.vary.update({"Accept-Language", "Cookie"})
    return response
