"""The verify page's cache: each worker keeps the rendered verdict and fills in the count.

The hot path (a plain scan) reads the certificate's state, appends the check to
the check log (never the registry's write lock), then fills the count into the
page's HTML, rendered once per (certificate version, language, day, validity
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
_COUNT_SLOT, _WARN_SLOT = "\x00count\x00", "\x00warn\x00"


@dataclass(frozen=True)
class Page:
    """One rendered verdict, split around the count and the warning it does not hold."""

    born: float
    check: svc.CertificateCheck
    etag: str
    head: str
    middle: str
    tail: str
    #: The language's catalogue and warning, so a hit needs no Babel look-ups.
    translations: Any
    warning: str


_DATES: dict[tuple[str, date], str] = {}


def _count_html(count: int, first: datetime | None, locale: str, translations: Any) -> str:
    """ "12 times since 3 Mar 2026", straight from the catalogue (no Jinja on the hot path)."""
    # Below 1,000 every locale writes the number the same way.
    num = str(count) if count < 1000 else format_decimal(count)
    text = translations.ngettext("%(num)s time", "%(num)s times", count) % {"num": num}
    if first is not None:
        day = first.astimezone(VIETNAM).date()
        shown = _DATES.get((locale, day))
        if shown is None:
            shown = _DATES.setdefault((locale, day), fmt_date(day))
        text += " " + translations.gettext("since %(date)s") % {"date": shown}
    return str(Markup.escape(text))  # plain str: concatenated with the cached page text


def warn_html(translations: Any) -> str:
    """The copied-code warning in the language of ``translations``."""
    message = translations.gettext(
        "This code has been checked unusually often. One package is normally checked only a few "
        "times: the code may have been copied onto other packages. Compare the photo, name and "
        "producer above with what you hold."
    )
    return str(Markup('<p class="warn" role="note">%s</p>') % message)


def count_parts(
    count: int | None, first: datetime | None, locale: str, translations: Any, warning: str
) -> tuple[str, str]:
    """The "Checked" cell and, for a suspicious count, the copied-code warning.

    ``count`` None: the check log could not be reached; the verdict stands alone.
    """
    if count is None:
        return str(Markup.escape(translations.gettext("not available right now"))), ""
    return (_count_html(count, first, locale, translations),
            warning if count > svc.SUSPICIOUS_CHECKS else "")  # fmt: skip


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
    html = render("verify/result.html", **result_context(check, today, policy), as_of=None,
                  as_of_error=None, as_of_raw="", count_html=Markup(_COUNT_SLOT),
                  warn_html=Markup(_WARN_SLOT))  # fmt: skip
    head, _, rest = html.partition(_COUNT_SLOT)
    middle, _, tail = rest.partition(_WARN_SLOT)
    if len(pages) >= _PAGE_CACHE_MAX:
        pages.clear()
    translations = get_translations()
    page = pages[key] = Page(
        now, check, svc.etag(check, locale, today, None, None, policy.key), head, middle, tail,
        translations, warn_html(translations),
    )  # fmt: skip
    return page
