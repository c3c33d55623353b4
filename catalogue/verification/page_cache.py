"""The verify page's cache: each worker keeps the rendered verdict and fills in the count.

The hot path (a plain scan) reads the certificate's state, appends the check to
the check log (never the registry's write lock), then fills the count (device-days)
into the page's HTML, rendered once per (certificate version, language, day, validity
policy) and kept per app in each worker for :data:`PAGE_TTL` seconds. The read
returns the certificate's ``updated_at``, ``revoked_on`` and ``expires_on``, so a
revocation, reinstatement or correction shows at once; an edit of the product or
producer (other tables) shows within :data:`PAGE_TTL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from time import monotonic
from typing import Any

from flask import current_app
from flask_babel import format_decimal, get_translations
from markupsafe import Markup
from sqlalchemy import Connection

from catalogue.clock import VIETNAM
from catalogue.i18n import fmt_date
from catalogue.registry.status import current_policy
from catalogue.verification import services as svc
from catalogue.verification.rendering import render, result_context

PAGE_TTL = 60.0
_PAGE_CACHE_MAX = 4096
_COUNT_SLOT = "\x00count\x00"


@dataclass(frozen=True)
class Page:
    """One rendered verdict, split around the count it does not hold."""

    born: float
    check: svc.CertificateCheck
    etag: str
    head: str
    tail: str
    #: The language's catalogue, so a hit needs no Babel look-ups.
    translations: Any


_DATES: dict[tuple[str, date], str] = {}


def count_html(device_days: int | None, first: datetime | None, locale: str, translations: Any) -> str:
    """The "Checked" cell, straight from the catalogue (no Jinja on the hot path): "12 times since
    3 Mar 2026 (each device counts once a day)", ``first`` being where device-days start (loads
    counted before the check log have no devices); ``device_days`` None: the check log could not be
    reached, the verdict stands alone."""
    if device_days is None:
        return str(Markup.escape(translations.gettext("not available right now")))
    # Below 1,000 every locale writes the number the same way.
    num = str(device_days) if device_days < 1000 else format_decimal(device_days)
    text = translations.ngettext("%(num)s time", "%(num)s times", device_days) % {"num": num}
    if first is not None:
        day = first.astimezone(VIETNAM).date()
        shown = _DATES.get((locale, day))
        if shown is None:
            shown = _DATES.setdefault((locale, day), fmt_date(day))
        text += " " + translations.gettext("since %(date)s") % {"date": shown}
    text += " " + translations.gettext("(each phone or computer counts once a day)")
    return str(Markup.escape(text))  # plain str: concatenated with the cached page text


def cached_page(conn: Connection, counted: svc.Counted, code: str, locale: str, today: date) -> Page | None:
    """This worker's rendering of the verdict for ``counted``, rendered now when it has none
    fresh; None when the certificate was deleted meanwhile."""
    pages: dict[tuple[Any, ...], Page] = current_app.extensions.setdefault("verify_pages", {})
    policy = current_policy(conn)  # on the request's connection when the cached policy runs out
    # The policy is part of the key: a new setting changes an assumed validity at once.
    key = (counted.id, counted.updated_at, counted.revoked_on, counted.expires_on, locale, today, policy.key)
    page = pages.get(key)
    now = monotonic()
    if page is not None and now - page.born < PAGE_TTL:
        return page
    check = svc.find_by_code(conn, code)
    if check is None:  # deleted between the two statements
        return None
    html = render("verify/result.html", **result_context(check, today, policy, conn), as_of=None,
                  as_of_error=None, as_of_raw="", count_html=Markup(_COUNT_SLOT))  # fmt: skip
    head, _, tail = html.partition(_COUNT_SLOT)
    if len(pages) >= _PAGE_CACHE_MAX:
        pages.clear()
    page = pages[key] = Page(
        now, check, svc.etag(check, locale, today, None, None, policy.key), head, tail, get_translations()
    )
    return page
