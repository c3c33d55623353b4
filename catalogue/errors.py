"""App-wide error pages that never leak a stack trace.

HTML for pages, JSON under ``/api/``; both in the visitor's language. A view
that aborts with its own ``description`` gets it shown as the message.
"""

from __future__ import annotations

import math

from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from catalogue.api import errors as api_errors
from catalogue.db import get_session
from catalogue.extensions import retry_after_seconds

MEGABYTE = 1024 * 1024
#: Seconds a visitor is asked to wait when SQLite's writer is busy with a publish.
BUSY_RETRY_SECONDS = 30

#: Titles and explanations for the codes a visitor may meet.
_MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Please check what you entered.")),
    403: (_l("Access denied"), _l("You do not have permission to see this page.")),
    404: (_l("Page not found"), _l("There is no page at this address.")),
    405: (_l("Method not allowed"), _l("This address does not accept that kind of request.")),
    410: (_l("No longer here"), _l("What was at this address has been removed.")),
    413: (_l("File too large"), _l("The file you sent is larger than allowed.")),
    503: (
        _l("Busy for a moment"),
        _l("The registry is saving a large publication. Nothing you sent was saved; try again in a minute."),
    ),
    429: (
        _l("Too many requests"),
        _l("Too many requests from your connection. Please wait a minute and try again."),
    ),
}


def _wants_json() -> bool:
    """The API, and the GS1 resolver (``/01/…``), whose readers are programs as much as phones."""
    return request.path.startswith(("/api/", "/01/")) or request.path == "/01"


def _texts(exc: HTTPException) -> tuple[str, str | None]:
    title, message = _MESSAGES.get(exc.code or 500, (exc.name, None))
    # A description set by the view (already translated) beats the generic one.
    if exc.description and exc.description != type(exc).description:
        return str(title), exc.description
    if exc.code == 413:
        return str(title), _too_large()
    return str(title), str(message) if message else None


def _megabytes(size: int, *, above: int | None = None) -> str:
    """``size`` bytes in MB to one decimal in the visitor's locale (``40.2``, ``40,2``); a size
    ``above`` a limit is rounded up when rounding would make it read as the limit (32.1, not 32.0)."""
    tenths = round(size * 10 / MEGABYTE)
    if above is not None and tenths * MEGABYTE <= above * 10:
        tenths = math.ceil(size * 10 / MEGABYTE)
    return format_decimal(tenths / 10, format="#,##0.0" if above is not None else "#,##0.#")


def _too_large() -> str:
    """413: what was sent and the limit (the request's declared length is known before reading it)."""
    generic = str(_MESSAGES[413][1])
    size, limit = request.content_length, current_app.config.get("MAX_CONTENT_LENGTH")
    if not size or not limit:
        return generic
    detail = _("The file is %(size)s MB; the limit is %(limit)s MB.",
               size=_megabytes(size, above=limit), limit=_megabytes(limit))  # fmt: skip
    return f"{generic} {detail}"


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    assert exc.code is not None  # Flask returns a code-less HTTPException itself, unhandled
    title, message = _texts(exc)
    headers = {"Cache-Control": "no-store"} if (exc.code or 500) >= 500 else {}
    if exc.code in (429, 503):
        headers = {"Cache-Control": "no-store", "Retry-After": str(retry_after_seconds(exc))}
    if exc.code == 405:  # RFC 9110: a 405 names the methods the resource has, on every page
        headers.update((k, v) for k, v in exc.get_headers() if k == "Allow")
    if _wants_json():  # the API's one error shape (catalogue.api.errors)
        return api_errors.http_error(exc, message or title, headers)
    if exc.code == 404:
        return render_template("errors/404.html", error=exc), 404, headers
    return render_template("errors/error.html", error=exc, title=title, message=message), exc.code, headers


def _database_busy(exc: Exception) -> bool:
    """SQLite's single writer is held longer than a request may wait (a long publish)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def _server_error(exc: Exception) -> ResponseReturnValue:
    try:
        get_session().rollback()
    except Exception:  # noqa: BLE001, S110 - the page must render whatever the DB state
        pass
    if _database_busy(exc):
        return _http_error(ServiceUnavailable(retry_after=BUSY_RETRY_SECONDS))
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path, exc_info=exc)
    headers = {"Cache-Control": "no-store"}
    if _wants_json():
        message = _l("The error has been logged. Please try again in a moment.")
        return api_errors.error_response(500, str(message), headers)
    return render_template("errors/500.html"), 500, headers


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
