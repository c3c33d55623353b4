"""``/api/v1/events`` against the database, and the OpenAPI description of the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.db import get_engine
from catalogue.fairs.models import Event
from catalogue.places.models import Province
from tests import seeddata


def _events(app: Flask) -> dict[str, tuple[Event, Province | None]]:
    with app.app_context(), Session(get_engine()) as s:
        return {e.slug: (e, s.get(Province, e.province_id) if e.province_id else None)
                for e in s.exec(select(Event)).all()}  # fmt: skip


def test_events_api_lists_every_fair_and_showroom_as_in_the_database(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    response = client.get("/api/v1/events")
    assert response.status_code == 200 and response.is_json
    data = response.get_json()
    rows = _events(seeded_app)
    assert data["total"] == len(data["items"]) == len(rows) == seeddata.events()
    for item in data["items"]:
        event, province = rows[item["slug"]]
        assert item["name"] == event.name and item["kind"] == event.kind
        assert item["start_date"] == (event.start_date.isoformat() if event.start_date else None)
        assert item["end_date"] == (event.end_date.isoformat() if event.end_date else None)
        assert item["venue"] == event.venue and item["organiser"] == event.organiser
        assert item["province"]["as_printed"] == (province.short_name if province else None)
        # Each item's url is its public page, and it answers.
        assert urlsplit(item["url"]).path == f"/events/{event.slug}"
        assert client.get(urlsplit(item["url"]).path).status_code == 200
        # A calendar only for fairs whose first day is known.
        has_ics = event.kind == "fair" and event.start_date is not None
        assert (item["ics_url"] is not None) is has_ics
        if has_ics:
            assert client.get(urlsplit(item["ics_url"]).path).status_code == 200


def test_events_api_resolves_old_provinces_to_current_ones(seeded_client: FlaskClient) -> None:
    items = {i["slug"]: i for i in seeded_client.get("/api/v1/events").get_json()["items"]}
    kien_giang = next(i for i in items.values() if i["province"]["as_printed"] == "Kiên Giang")
    assert kien_giang["province"]["current"] == "Tỉnh An Giang"
    assert kien_giang["province"]["current_slug"] == "an-giang"


def test_events_api_order_is_upcoming_then_past_newest_first_then_undated_then_showrooms(
    seeded_client: FlaskClient,
) -> None:
    items = seeded_client.get("/api/v1/events").get_json()["items"]
    kinds = [i["kind"] for i in items]
    assert kinds == sorted(kinds)  # "fair" < "showroom": showrooms last
    last_days = [i["end_date"] or i["start_date"] for i in items if i["kind"] == "fair"]
    dated = [d for d in last_days if d]
    assert dated == sorted(dated, reverse=True)


def test_events_api_is_cacheable_json(seeded_client: FlaskClient) -> None:
    response = seeded_client.get("/api/v1/events")
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_events_api_on_an_empty_registry(client: FlaskClient) -> None:
    assert client.get("/api/v1/events").get_json() == {"total": 0, "items": []}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_describes_the_whole_public_api(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["servers"] == [{"url": "http://registry.test"}]
    assert {"/api/v1/products", "/api/v1/products.csv", "/api/v1/verify/{code}", "/api/v1/verify",
            "/api/v1/events", "/api/v1/openapi.json", "/healthz"} <= set(spec["paths"])  # fmt: skip
    params = {p["name"] for p in spec["paths"]["/api/v1/products"]["get"]["parameters"]}
    expected = {
        "q",
        "group",
        "province",
        "region",
        "level",
        "year",
        "status",
        "sort",
        "page",
        "per_page",
        "cursor",
    }
    assert params == expected
    status = next(p for p in spec["paths"]["/api/v1/products"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"]["default"] == ["valid"] and "all" in status["schema"]["items"]["enum"]
    assert "404" in spec["paths"]["/api/v1/verify/{code}"]["get"]["responses"]
    # Every reference points at a defined schema.
    schemas = spec["components"]["schemas"]
    refs = _refs(spec)
    assert refs, "the spec references no schema"
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_openapi_enums_match_the_vocabulary(client: FlaskClient) -> None:
    from catalogue.vocab import Level, ProductGroup, Region

    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert set(schemas["Level"]["enum"]) == {v.value for v in Level}
    assert set(schemas["Region"]["enum"]) == {v.value for v in Region}
    assert set(schemas["ProductGroup"]["enum"]) == {v.value for v in ProductGroup}


def test_unknown_api_paths_answer_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]
