"""Blueprint "api": the public JSON API under ``/api/v1`` (DESIGN §4).

The product search endpoints live with the search blueprint (one query function
for HTML and JSON) and verification with the verify blueprint; this module
serves the fairs/showrooms list and the OpenAPI description of the whole API.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, url_for

from catalogue.clock import today
from catalogue.db import get_session
from catalogue.openapi import spec
from catalogue.services import pages
from catalogue.services.places import Provinces
from catalogue.web import public_cache

bp = Blueprint("api", __name__, url_prefix="/api/v1")


bp.after_request(public_cache(60, cors=True))


@bp.get("/events")
def events() -> dict[str, Any]:
    """Every fair and showroom: current/upcoming first, then past, undated, showrooms."""
    lists = pages.event_lists(get_session(), Provinces.load(get_session()), today())
    items = []
    for view in lists.upcoming + lists.past + lists.undated + lists.showrooms:
        slug = view.event.slug
        items.append(pages.event_json(
            view,
            url=url_for("public.event", slug=slug, _external=True),
            ics_url=url_for("public.event_ics", slug=slug, _external=True) if view.has_calendar else None,
        ))  # fmt: skip
    return {"total": len(items), "items": items}


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec(current_app.config["PUBLIC_BASE_URL"]))
