"""Response-wide concerns: security headers and template globals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request, session, url_for
from werkzeug.routing import IntegerConverter, Map

from catalogue import vocab

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def public_cache(max_age: int, *, cors: bool = False) -> Callable[[Response], Response]:
    """An ``after_request`` hook making successful public answers cacheable, with an ETag.

    Pages vary on the language inputs; one that consumed a flashed message (the
    session changed) is never shared. ``cors`` opens read-only API answers to other sites.
    """

    def hook(response: Response) -> Response:
        if response.status_code != 200 or "Cache-Control" in response.headers:
            return response
        if session.modified:
            response.headers["Cache-Control"] = "private, no-store"
            return response
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        response.vary.update({"Accept-Language", "Cookie"})
        if cors:
            response.headers.setdefault("Access-Control-Allow-Origin", "*")
        if not response.direct_passthrough and not response.is_streamed:
            response.add_etag()
            response.make_conditional(request)
        return response

    return hook


class RowId(IntegerConverter):
    """``<int:…>`` in every route: a number past the databases' 64-bit integers matches no route
    (404), instead of failing in the driver (``OverflowError``, a 500); only ASCII digits (Python's
    ``\\d`` also takes "٣"), and no leading zeros, so one record has one address."""

    regex = r"0|[1-9][0-9]*"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute public URL on ``PUBLIC_BASE_URL``, never the request's host: answers, feeds and
    files are cached, mirrored and read elsewhere, and a proxy's internal name must not leak into them."""
    return str(current_app.config["PUBLIC_BASE_URL"]) + url_for(endpoint, **values)


def init_app(app: Flask) -> None:
    app.after_request(_security_headers)
    app.jinja_env.globals.update(
        Level=vocab.Level,
        Region=vocab.Region,
        ProductGroup=vocab.ProductGroup,
        ProducerKind=vocab.ProducerKind,
        EventKind=vocab.EventKind,
        CertificateStatus=vocab.CertificateStatus,
        AUDIT_ACTIONS=vocab.AUDIT_ACTIONS,
        AUDIT_ENTITIES=vocab.AUDIT_ENTITIES,
    )
