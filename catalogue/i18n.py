"""Locale negotiation and formatting helpers.

Order: an explicit ``?lang=`` on the URL, then the remembered switch (cookie),
then ``Accept-Language``, then Vietnamese.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import unquote, urlencode, urlsplit

from flask import Flask, abort, redirect, request, url_for
from flask_babel import format_date, format_decimal, get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from catalogue.clock import VIETNAM, aware

LOCALES = ("vi", "en")
COOKIE = "lang"


def select_locale() -> str:
    explicit = request.args.get("lang")
    if explicit in LOCALES:
        return explicit
    remembered = request.cookies.get(COOKIE)
    if remembered in LOCALES:
        return remembered
    return request.accept_languages.best_match(LOCALES) or "vi"


#: Control characters (a CR/LF would break the ``Location`` header) and backslashes
#: (browsers read ``/\\host`` as another site), raw or percent-encoded.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def safe_next(target: str | None, fallback: str = "/") -> str:
    """Only same-site relative paths; other sites go to ``fallback``.

    A ``next`` that could break or bend the redirect header is refused (400):
    such a link was tampered with, and following it silently hides that.
    """
    if not target:
        return fallback
    if _UNSAFE.search(target) or _UNSAFE.search(unquote(target)):
        abort(400)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def switch_language(code: str) -> Response:
    """Remember the visitor's language and go back where they were."""
    target = safe_next(request.args.get("next"))
    response = redirect(target)
    if code in LOCALES:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def fmt_date(value: date | datetime | None, unknown: str | None = None) -> str:
    """A date in the visitor's locale; unknown dates say so instead of inventing one."""
    if value is None:
        return unknown if unknown is not None else _("unknown")
    return format_date(value, format="medium" if str(get_locale()) == "en" else "dd/MM/yyyy")


def local_time(at: datetime) -> datetime:
    """A stored instant in Vietnam time (stored instants are UTC; a naive one is taken as UTC)."""
    return aware(at).astimezone(VIETNAM)


def fmt_time(at: datetime) -> str:
    """Date and time in Vietnam time, in the current language ("15/06/2026 03:00"): every page's rule."""
    local = local_time(at)
    return f"{fmt_date(local.date())} {local.strftime('%H:%M')}"


def fmt_number(value: int | float | None) -> str:
    return "" if value is None else format_decimal(value)


def lang_url(code: str) -> str:
    """The switch link for ``code``, returning to this page without a stale ``?lang=``."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    here = request.path + ("?" + urlencode(args) if args else "")
    return url_for("switch_language", code=code, next=here)


def init_app(app: Flask) -> None:
    app.add_template_filter(fmt_date, "date")
    app.add_template_filter(fmt_number, "number")
    app.add_template_filter(fmt_time, "time")
    app.add_template_global(lang_url, "lang_url")
    app.add_url_rule("/lang/<code>", "switch_language", switch_language)

    @app.context_processor
    def _locale_context() -> dict[str, object]:
        return {"current_locale": str(get_locale()), "LOCALES": LOCALES, "LANG_COOKIE": COOKIE}
