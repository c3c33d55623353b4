"""Blueprint "dcat": the downloads' catalogue for open-data portals (:mod:`.dcat`)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app

from catalogue.db import get_session
from catalogue.opendata import dcat
from catalogue.web import public_cache

bp = Blueprint("dcat", __name__)
#: Harvesters fetch from other sites; a new generation shows within ten minutes anyway.
bp.after_request(public_cache(600, cors=True))


def _answer(data: dict[str, Any], mimetype: str) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, indent=1), mimetype=mimetype)


@bp.get("/data/catalog.jsonld")
def catalog() -> Response:
    return _answer(dcat.catalog_jsonld(dcat.facts(current_app, get_session())), "application/ld+json")


@bp.get("/data.json")
def data_json() -> Response:
    return _answer(dcat.data_json(dcat.facts(current_app, get_session())), "application/json")
