"""``/healthz``: whether this node can answer (its database and its search index), for load balancers.

A module of its own because it asks two features (the registry's database, search's index)
and belongs to neither; never cached.
"""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from catalogue.db import get_session
from catalogue.search import sync as search_sync
from catalogue.search.reader import IndexBuilding

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """``ok`` when the database answers and the index is readable.

    While a first index is built in the background the node still serves every page
    but search (which answers 503 with progress), so it stays healthy: 200 with
    ``ok; search index building (done/total)``.
    """
    try:
        get_session().connection().execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return "database unavailable", 503, {"Content-Type": "text/plain"}
    try:
        search_sync.snapshot().searcher.doc_count()
    except IndexBuilding as building:
        detail = f"ok; search index building ({building.done}/{building.total})"
        return detail, 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return "search index unavailable", 503, {"Content-Type": "text/plain"}
    return "ok", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}
