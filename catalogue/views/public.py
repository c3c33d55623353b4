"""Blueprint "public": the registry's pages for everyone."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text

from catalogue.db import get_session

bp = Blueprint("public", __name__)


@bp.get("/")
def home() -> str:
    return render_template("public/index.html")


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """``ok`` when the database answers (and the index, once search exists)."""
    try:
        get_session().exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return "database unavailable", 503, {"Content-Type": "text/plain"}
    return "ok", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}
