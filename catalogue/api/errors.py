"""The one shape of every JSON error under ``/api/``: ``{"error": {"code", "message"}}``.

Before, errors came in three shapes (a translated title, ``"bad_request"``, a
``status``); clients had to guess. The app's error handler
(:mod:`catalogue.errors`) hands every HTTP error on an ``/api/`` path here —
400, 404, 405 (with ``Allow``), 429 and 503 (with ``Retry-After``), 500 — so
routing errors (an unknown path, an undeclared method) get the same shape as the
views' own. The message is in the request's language. The verify endpoints' 404
``{"status": "unknown"}`` is an answer, not an error (:class:`~catalogue.api.answers.UnknownCode`).
The error models (:class:`Error`, :class:`BuildingError`) live here, with the code that answers them.
"""

from __future__ import annotations

from typing import Literal

from flask import Response, current_app
from pydantic import Field
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from catalogue.api.answers import Model
from catalogue.search.reader import IndexBuilding

ErrorCode = Literal[
    "bad_request", "not_found", "gone", "method_not_allowed", "too_many_requests", "search_index_building",
    "service_unavailable", "internal_error",
]  # fmt: skip


class ErrorDetail(Model):
    code: ErrorCode = Field(description="Stable key of the kind of error.")
    message: str = Field(description="What went wrong and what to do, in the request's language.")


class Error(Model):
    """The one shape of every JSON error under ``/api/``."""

    error: ErrorDetail


class BuildProgress(Model):
    done: int
    total: int


class BuildingError(Error):
    """503 while this server builds its first search index."""

    building: BuildProgress = Field(description="Products indexed so far, of all.")


_CODES: dict[int, ErrorCode] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    410: "gone",
    429: "too_many_requests",
    503: "service_unavailable",
    500: "internal_error",
}


def json_response(model: Model, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise an answer model (its JSON, not Flask's) with ``status`` and ``headers``."""
    body = model.model_dump_json(exclude_unset=True)
    return current_app.response_class(body, status=status, headers=headers, mimetype="application/json")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    code = _CODES.get(status, "bad_request" if status < 500 else "internal_error")
    return json_response(Error(error=ErrorDetail(code=code, message=message)), status, headers)


def http_error(exc: HTTPException, message: str, headers: dict[str, str]) -> Response:
    """``exc`` on an ``/api/`` path, with the translated ``message`` and the handler's headers
    (``Cache-Control``, ``Retry-After``); a 405 also says which methods the path takes."""
    headers = dict(headers)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(exc.code or 500, message, headers)


def index_building(exc: IndexBuilding, message: str, retry_after: int) -> Response:
    """503 while this server builds its first search index, with the build's progress."""
    body = BuildingError(
        error=ErrorDetail(code="search_index_building", message=message),
        building=BuildProgress(done=exc.done, total=exc.total),
    )
    return json_response(body, 503, {"Retry-After": str(retry_after), "Cache-Control": "no-store"})
