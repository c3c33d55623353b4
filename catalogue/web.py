"""Response-wide concerns: security headers and template globals."""

from __future__ import annotations

from flask import Flask, Response

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


def init_app(app: Flask) -> None:
    app.after_request(_security_headers)
    app.jinja_env.globals.update(
        Level=vocab.Level,
        Region=vocab.Region,
        ProductGroup=vocab.ProductGroup,
        ProducerKind=vocab.ProducerKind,
        EventKind=vocab.EventKind,
        CertificateStatus=vocab.CertificateStatus,
    )
