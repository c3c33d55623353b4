"""App-wide HTML error pages that never leak a stack trace."""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from catalogue.db import get_session


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    if _wants_json():
        return {"error": exc.name, "message": exc.description}, exc.code
    template = "errors/404.html" if exc.code == 404 else "errors/error.html"
    return render_template(template, error=exc), exc.code


def _server_error(exc: Exception):  # type: ignore[no-untyped-def]
    try:
        get_session().rollback()
    except Exception:  # noqa: BLE001, S110 - the page must render whatever the DB state
        pass
    if _wants_json():
        return {"error": "Internal Server Error"}, 500
    return render_template("errors/500.html"), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
