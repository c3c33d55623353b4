"""The API keeps its contract: real answers validated against the generated OpenAPI document.

A fixed list of real requests (openapi-core, no generated cases, so it stays fast)
covers every documented endpoint and every documented status code, both languages
and each kind of error; requests the spec calls invalid must be refused with a 400,
and those it calls valid must not be. Undeclared methods answer 405 in the one error
shape, never a page.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlalchemy import delete, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select
from werkzeug.test import TestResponse

from catalogue.accounts.permissions import SYSTEM
from catalogue.audit.models import OutboxEvent
from catalogue.clock import utcnow
from catalogue.db import get_engine, get_session, pk
from catalogue.label_runs import runs
from catalogue.opendata.changes import Position
from catalogue.registry.models import Certificate, Product
from catalogue.search.cursor import Cursor
from catalogue.verification import serial_codes
from tests.conftest import VERIFY_KEYS, PausedBuild

BASE = "http://registry.test"  # PUBLIC_BASE_URL in tests, the spec's server
EN, VI = {"Accept-Language": "en"}, {"Accept-Language": "vi"}


@dataclass(frozen=True)
class Case:
    path: str
    status: int
    #: Whether the spec itself accepts the request (None: not asked, e.g. a date that does not exist).
    valid: bool | None = True
    headers: dict[str, str] | None = None


def _cases(code: str, number: str, expired: str = "", withdrawn: str = "") -> list[Case]:
    long = "x" * 101
    return [
        # products
        Case("/api/v1/products", 200, headers=VI),
        Case("/api/v1/products?q=nuoc+mam&status=all&per_page=5&lang=en", 200),
        Case(
            "/api/v1/products?status=valid&status=expired&year=2024&year=2025&sort=newest&page=2",
            200,
            headers=EN,
        ),
        Case("/api/v1/products?group=thu_cong_my_nghe&level=tinh&region=phia_bac&province=an-giang", 200),
        # Names work too, beyond the contract (which promises only the facets' values).
        Case("/api/v1/products?group=Handicrafts&province=Dong%20Thap&status=all", 200, valid=False),
        Case("/api/v1/products?status=ALL", 400, valid=False),  # the documented values, exactly
        Case("/api/v1/products?page=999", 200),
        Case("/api/v1/products?province=Atlantis", 400, valid=False, headers=EN),
        Case("/api/v1/products?group=weapons", 400, valid=False, headers=VI),
        Case("/api/v1/products?per_page=101", 400, valid=False, headers=EN),
        Case("/api/v1/products?per_page=0", 400, valid=False),
        Case("/api/v1/products?page=abc", 400, valid=False, headers=VI),
        Case("/api/v1/products?page=10001", 400, valid=False),
        Case("/api/v1/products?status=maybe", 400, valid=False, headers=EN),
        Case("/api/v1/products?sort=random", 400, valid=False),
        Case("/api/v1/products?year=1899", 400, valid=False),
        Case("/api/v1/products?year=20x4", 400, valid=False),
        Case("/api/v1/products?q=" + "a" * 201, 400, valid=False, headers=EN),
        # products.csv
        Case("/api/v1/products.csv?q=tra&status=all", 200, headers=EN),
        Case("/api/v1/products.csv", 200, headers=VI),
        Case("/api/v1/products.csv?status=bogus", 400, valid=False),
        # verify by code
        Case(f"/api/v1/verify/{code}", 200, headers=VI),
        Case(f"/api/v1/verify/{code.lower()}?as_of=2025-03-14", 200, headers=EN),
        Case(f"/api/v1/verify/{code}?as_of=yesterday", 400, valid=False, headers=EN),
        Case(f"/api/v1/verify/{code}?as_of=2999-01-01", 400, headers=VI),
        Case(f"/api/v1/verify/{code}?as_of=2025-02-30", 400, valid=None),
        Case("/api/v1/verify/KAAAAAAAAAAAAAAAA", 404),
        Case("/api/v1/verify/not-a-code", 404),
        # signed credentials and the revocation lists
        Case(f"/api/v1/verify/{code}/credential", 200),
        Case(f"/api/v1/verify/{code.lower()}/credential", 200, headers=EN),
        Case("/api/v1/verify/KAAAAAAAAAAAAAAAA/credential", 404),
        *([Case(f"/api/v1/verify/{withdrawn}/credential", 410, headers=VI)] if withdrawn else []),
        Case("/api/v1/status-lists/0", 200),
        Case("/api/v1/status-lists/4096", 404, headers=EN),
        # verify by number
        Case(f"/api/v1/verify?number={quote(number)}", 200),
        Case(f"/api/v1/verify?number={quote('  ' + number.lower() + ' ')}&lang=vi", 200),
        Case("/api/v1/verify?number=999/XYZ", 404),
        Case("/api/v1/verify", 400, valid=False, headers=EN),
        Case("/api/v1/verify?number=%20%20", 400, valid=False, headers=VI),
        Case("/api/v1/verify?number=" + long, 400, valid=False),
        # the change feed
        Case("/api/v1/changes?since=now", 200),
        Case("/api/v1/changes?limit=3", 200),
        Case("/api/v1/changes?since=c1.bogus", 400, valid=None, headers=EN),
        Case("/api/v1/changes?limit=501", 400, valid=False),
        Case(f"/api/v1/changes?since={expired}", 410, headers=VI),
        # the rest
        Case("/api/v1/events", 200),
        Case("/api/v1/openapi.json", 200),
        Case("/healthz", 200),
    ]


_OPENAPI: dict[str, OpenAPI] = {}


def _text(body: bytes) -> str:
    return body.decode("utf-8")


def _openapi(client: FlaskClient) -> tuple[OpenAPI, dict[str, Any]]:
    """The served document, checked against the OpenAPI 3.1 schema once per session."""
    document = client.get("/api/v1/openapi.json", base_url=BASE).get_json()
    if "spec" not in _OPENAPI:
        # openapi-core reads only JSON and forms itself
        text = {"text/csv": _text, "text/plain": _text, "application/vc+jwt": _text}
        _OPENAPI["spec"] = OpenAPI.from_dict(document, config=Config(extra_media_type_deserializers=text))
    return _OPENAPI["spec"], document


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def _check(openapi: OpenAPI, response: TestResponse) -> None:
    request = WerkzeugOpenAPIRequest(response.request)
    openapi.validate_response(request, WerkzeugOpenAPIResponse(response))


@pytest.fixture
def seen() -> set[tuple[str, str, int]]:
    return set()


def _documented(document: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {(path, method, int(status)) for path, methods in document["paths"].items()
            for method, op in methods.items() for status in op["responses"]}  # fmt: skip


def _template(path: str) -> str:
    path = path.split("?")[0]
    if path.startswith("/api/v1/verify/"):
        return "/api/v1/verify/{code}/credential" if path.endswith("/credential") else "/api/v1/verify/{code}"
    return "/api/v1/status-lists/{number}" if path.startswith("/api/v1/status-lists/") else path


def _withdrawn_label(app: Flask, code: str) -> str:
    """A package's code from a label run withdrawn as a lost roll."""
    with app.app_context(), Session(get_engine(), expire_on_commit=False) as s:
        cert = s.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        run = runs.issue_run(s, actor=SYSTEM, certificate=cert, count=1)
        s.commit()
        runs.withdraw(s, actor=SYSTEM, run=run, first=1, last=1, reason="Mất cuộn tem")
        s.commit()
        return next(iter(serial_codes.serial_codes(VERIFY_KEYS, run.key_id, pk(run), 1, 1)))


def _expired_cursor(app: Flask) -> str:
    """A cursor older than the retention whose changes were pruned since."""
    with app.app_context(), Session(get_engine()) as s:
        product_id = s.exec(select(Product.id)).first()
        s.add_all([OutboxEvent(product_id=product_id), OutboxEvent(product_id=product_id)])
        s.commit()
        newest = s.exec(select(func.max(OutboxEvent.id))).one()
        s.exec(delete(OutboxEvent).where(col(OutboxEvent.id) < newest))
        s.commit()
    return Position(Cursor(0), utcnow() - timedelta(days=app.config["OUTBOX_DAYS"] + 1)).token()


def test_real_answers_follow_the_spec(
    seeded_client: FlaskClient, seeded_codes: list[str], make_certificate: Callable[..., str]
) -> None:
    openapi, document = _openapi(seeded_client)
    covered = set()
    messages: dict[tuple[str, str], str] = {}
    number = "45/GCN-SCT"
    labelled = make_certificate(certificate_number="46/GCN-SCT", year=2026, issued_on=date(2026, 1, 5))
    make_certificate(certificate_number=number, year=2025, issued_on=date(2025, 8, 15))
    app = seeded_client.application
    for case in _cases(seeded_codes[0], number, _expired_cursor(app), _withdrawn_label(app, labelled)):
        response = seeded_client.get(case.path, base_url=BASE, headers=case.headers)
        assert response.status_code == case.status, (case.path, response.get_data(as_text=True)[:300])
        _check(openapi, response)
        if case.valid is not None:
            request = WerkzeugOpenAPIRequest(response.request)
            if case.valid:
                openapi.validate_request(request)
            else:
                with pytest.raises(Exception):  # noqa: B017 - openapi-core's several validation errors
                    openapi.validate_request(request)
        if case.status == 400:
            error = response.get_json()["error"]
            assert error["code"] == "bad_request" and error["message"]
            if case.headers:
                messages[(case.path.split("=")[0], case.headers["Accept-Language"])] = error["message"]
        covered.add((_template(case.path), "get", case.status))
    # Messages are in the request's language.
    assert "Unknown province" in messages[("/api/v1/products?province", "en")]
    assert "Unknown" not in messages[("/api/v1/products?group", "vi")]
    assert "per_page" in messages[("/api/v1/products?per_page", "en")]
    # Every documented answer but the rate limit, busy and building ones (below) was met; 414 comes
    # from the HTTP server (gunicorn's request-line limit), before the application.
    rare = {414, 429, 503}
    missing = {d for d in _documented(document) if d[2] not in rare} - covered
    assert not missing, missing


def test_every_api_route_is_documented_and_every_other_method_is_a_json_405(
    seeded_app: Flask, seeded_client: FlaskClient
) -> None:
    openapi, document = _openapi(seeded_client)
    api_rules = {r.rule for r in seeded_app.url_map.iter_rules() if r.rule.startswith("/api/v1/")}
    documented = {
        p.replace("{code}", "<code>").replace("{number}", "<int:number>") for p in document["paths"]
    }
    assert api_rules <= documented
    for path in ("/api/v1/products", "/api/v1/products.csv", "/api/v1/verify/K123", "/api/v1/verify",
                 "/api/v1/events", "/api/v1/openapi.json"):  # fmt: skip
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = seeded_client.open(path, method=method, base_url=BASE, headers=EN)
            assert response.status_code == 405 and response.is_json, (method, path)
            assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "HEAD"}
            jsonschema.validate(response.get_json(), _schema(document, "Error"))
            assert response.get_json()["error"]["code"] == "method_not_allowed"
        preflight = seeded_client.open(path, method="OPTIONS", base_url=BASE)
        assert preflight.status_code == 204 and not preflight.data
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    # /healthz is in the document too; outside /api its 405 is a page, still naming its methods.
    for method in ("POST", "TRACE"):
        refused = seeded_client.open("/healthz", method=method, base_url=BASE)
        assert refused.status_code == 405
        assert {m.strip() for m in refused.headers["Allow"].split(",")} >= {"GET", "HEAD"}
    vi = seeded_client.delete("/api/v1/events", base_url=BASE, headers=VI).get_json()["error"]["message"]
    en = seeded_client.delete("/api/v1/events", base_url=BASE, headers=EN).get_json()["error"]["message"]
    assert vi != en
    missing = seeded_client.get("/api/v1/nothing-here", base_url=BASE)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    jsonschema.validate(missing.get_json(), _schema(document, "Error"))


def test_rate_limited_answers_follow_the_spec(make_app: Callable[..., Flask]) -> None:
    app = make_app(seeded=True, RATELIMIT_ENABLED=True, VERIFY_RATE_LIMIT="2 per minute",
                   VERIFY_FAILED_RATE_LIMIT="1 per minute")  # fmt: skip
    client = app.test_client()
    openapi, _ = _openapi(client)
    with app.app_context():
        code = (
            get_session().connection().execute(text("SELECT verify_code FROM certificate LIMIT 1")).scalar()
        )
    assert [client.get(f"/api/v1/verify/{code}", base_url=BASE).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    limited = client.get(f"/api/v1/verify/{code}", base_url=BASE, headers=EN)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["error"]["code"] == "too_many_requests"
    _check(openapi, limited)
    other = app.test_client()
    assert other.get("/api/v1/verify?number=NONE-1", base_url=BASE).status_code == 404
    refused = other.get("/api/v1/verify?number=NONE-2", base_url=BASE)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    _check(openapi, refused)


def test_busy_and_failing_answers_keep_the_error_shape(
    seeded_client: FlaskClient, seeded_codes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalogue.verification import services as verification

    openapi, document = _openapi(seeded_client)

    def locked(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(verification, "find_by_number", locked)
    monkeypatch.setattr(verification, "find_by_code", locked)
    for path in ("/api/v1/verify?number=1/QD", f"/api/v1/verify/{seeded_codes[0]}"):
        busy = seeded_client.get(path, base_url=BASE, headers=EN)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
        assert busy.get_json()["error"]["code"] == "service_unavailable"
        assert "saving a large publication" in busy.get_json()["error"]["message"]
        _check(openapi, busy)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(verification, "find_by_number", broken)
    failed = seeded_client.get("/api/v1/verify?number=1/QD", base_url=BASE, headers=EN)
    assert failed.status_code == 500 and "boom" not in failed.get_data(as_text=True)
    assert failed.get_json()["error"]["code"] == "internal_error"
    jsonschema.validate(failed.get_json(), _schema(document, "Error"))


@pytest.fixture
def no_index(seeded_app: Flask, paused_build: PausedBuild) -> Iterator[FlaskClient]:
    from catalogue.search import building

    root = Path(seeded_app.config["INDEX_DIR"])
    shutil.rmtree(root)
    yield seeded_app.test_client()
    paused_build.release.set()
    building.wait(root)


def test_search_answers_503_with_progress_while_the_index_is_built(
    no_index: FlaskClient, paused_build: PausedBuild
) -> None:
    openapi, _ = _openapi(no_index)
    for path in ("/api/v1/products?q=tra", "/api/v1/products.csv"):
        response = no_index.get(path, base_url=BASE, headers=EN)
        assert paused_build.reached.wait(30)
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        body = response.get_json()
        assert body["error"]["code"] == "search_index_building" and set(body["building"]) == {"done", "total"}
        _check(openapi, response)


def test_the_api_page_is_rendered_from_the_spec(seeded_client: FlaskClient) -> None:
    _, document = _openapi(seeded_client)
    for lang in ("en", "vi"):
        page = seeded_client.get(f"/api?lang={lang}")
        assert page.status_code == 200 and page.mimetype == "text/html"
        html = page.get_data(as_text=True)
        assert f'<html lang="{lang}">' in html and "<script" not in html
        for path, methods in document["paths"].items():
            for op in methods.values():
                assert f'id="{op["operationId"]}"' in html and path in html
        assert 'href="/api/shapes#schema-ProductPage"' in html, "a type links to its shape"
        shapes = seeded_client.get(f"/api/shapes?lang={lang}").get_data(as_text=True)
        for name in document["components"]["schemas"]:
            assert f'id="schema-{name}"' in shapes
    home = seeded_client.get("/?lang=en").get_data(as_text=True)
    assert 'href="/api">Open data API' in home
