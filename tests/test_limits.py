"""Limits that hold and a crowd that is served (issue 13, item 5).

Verification: a fair's visitors behind one Wi-Fi address all get their verdict,
while one client hammering one code, or walking through codes, is slowed.
Sign-in: the per-e-mail limit is kept in the database, so every worker (here:
two apps on one data folder) enforces it together. Every 429 says when to come
back (``Retry-After``); a ``next`` that would break the redirect header is a 400.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits import parse_many
from werkzeug.test import TestResponse

from catalogue import create_app
from catalogue.accounts import throttle
from tests.conftest import base_overrides
from tests.fixtures.workspace import PASSWORD, csrf_token, make_user

FAIR_WIFI = "203.0.113.7"
CROWD = 150


@pytest.fixture
def seeded_app(make_app: Callable[..., Flask]) -> Flask:
    """The seeded app with the limits switched on (``make_certificate`` writes into it)."""
    return make_app(seeded=True, RATELIMIT_ENABLED=True)


def _per_minute(app: Flask, setting: str) -> int:
    """The per-minute figure of a limit setting, as configured (never hard-coded here)."""
    return next(item.amount for item in parse_many(app.config[setting]) if item.GRANULARITY.name == "minute")


def _client(app: Flask, address: str | None = None) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address or FAIR_WIFI
    return client


def _fair_certificates(app: Flask, count: int) -> list[str]:
    """``count`` real certificates written through the real write path in one transaction
    (the ``make_certificate`` fixture commits each one: too slow for a crowd)."""
    from sqlmodel import Session

    from catalogue.db import get_engine
    from catalogue.places.services import Provinces
    from catalogue.registry.records import WriteContext, upsert_record
    from catalogue.registry.rows import RecordInput
    from catalogue.vocab import Level, ProductGroup
    from tests.conftest import VERIFY_KEYS

    with app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        provinces = Provinces.load(session)
        province = provinces.match("Lào Cai")
        assert province is not None
        ctx = WriteContext(provinces=provinces, validity_years=3, verify_keys=dict(VERIFY_KEYS),
                           verify_key_id="a", actor_label="test")  # fmt: skip
        results = [
            upsert_record(
                session,
                RecordInput(
                    product=f"Sản phẩm hội chợ {n}",
                    producer=f"HTX Hội chợ {n}",
                    province=province,
                    level=Level.TINH,
                    year=2025,
                    group=ProductGroup.CHE_BIEN,
                    certificate_number=f"HC-{n:03d}/GCN-SCT",
                ),
                ctx,
            )
            for n in range(count)
        ]
        session.commit()
        return [str(r.certificate.verify_code) for r in results]


def _certificate(make: Callable[..., str], number: str, product: str = "Chè Shan tuyết kiểm thử") -> str:
    """A real certificate (real write path, real signed code)."""
    return make(certificate_number=number, product=product, year=2025)


def _retry_after(response: TestResponse) -> int:
    value = int(response.headers["Retry-After"])
    assert 0 < value <= 3600
    return value


# ----------------------------------------------------------------------------- verification


def test_a_fair_crowd_behind_one_wifi_address_all_get_their_verdict(seeded_app: Flask) -> None:
    codes = _fair_certificates(seeded_app, CROWD)
    assert len(set(codes)) == CROWD
    phones = [_client(seeded_app) for _ in range(CROWD)]
    statuses = [
        (phone.get(f"/api/v1/verify/{code}") if n % 3 == 0 else phone.get(f"/v/{code}")).status_code
        for n, (phone, code) in enumerate(zip(phones, codes, strict=True))
    ]
    assert statuses.count(200) == CROWD, f"{statuses.count(429)} of {CROWD} visitors were refused"


def test_one_client_hammering_one_code_is_slowed(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code, other = (
        _certificate(make_certificate, "BUA-1/GCN"),
        _certificate(make_certificate, "BUA-2/GCN", "Khác"),
    )
    figure = _per_minute(seeded_app, "VERIFY_RATE_LIMIT")
    client = _client(seeded_app)
    statuses = [client.get(f"/v/{code}").status_code for _ in range(figure)]
    assert statuses == [200] * figure
    page = client.get(f"/v/{code}")
    assert page.status_code == 429 and _retry_after(page) <= 60
    api = client.get(f"/api/v1/verify/{code}")  # the page and the API share the budget
    assert (
        api.status_code == 429
        and api.get_json()["error"]["code"] == "too_many_requests"
        and _retry_after(api) <= 60
    )
    # The same client still verifies another product.
    assert client.get(f"/v/{other}").status_code == 200


def test_walking_through_codes_is_slowed(seeded_app: Flask, make_certificate: Callable[..., str]) -> None:
    real = _certificate(make_certificate, "DI-1/GCN")
    figure = _per_minute(seeded_app, "VERIFY_FAILED_RATE_LIMIT")
    client = _client(seeded_app)
    guesses = [f"{real[:-4]}{n:04d}" for n in range(figure + 5)]
    statuses = [
        (client.get(f"/v/{g}") if n % 2 else client.get(f"/api/v1/verify/{g}")).status_code
        for n, g in enumerate(guesses)
    ]
    assert statuses[:figure] == [404] * figure
    assert set(statuses[figure:]) == {429}
    refused = client.get(f"/v/{guesses[0]}zz")
    assert refused.status_code == 429 and _retry_after(refused) <= 60
    # Numbers can be walked too.
    assert client.get("/api/v1/verify", query_string={"number": "KHONG-CO/GCN"}).status_code == 429
    # Another address is not affected.
    assert _client(seeded_app, "198.51.100.1").get(f"/v/{real}").status_code == 200


def _walk_until_refused(client: FlaskClient, real: str, figure: int, forwarded_for: str) -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for}
    return [client.get(f"/v/{real[:-4]}{n:04d}", headers=headers).status_code for n in range(figure + 1)]


def test_behind_a_trusted_proxy_each_visitor_is_counted_by_their_own_address(
    make_app: Callable[..., Flask],
) -> None:
    """Behind the README's reverse proxy every request comes from the proxy's address."""
    behind = make_app(seeded=True, RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1)
    real = _certificate_code(behind)
    figure = _per_minute(behind, "VERIFY_FAILED_RATE_LIMIT")
    proxy = _client(behind, "10.0.0.2")
    assert _walk_until_refused(proxy, real, figure, "198.51.100.7")[-1] == 429
    # A visitor behind the same proxy is not slowed by another's walk.
    assert proxy.get(f"/v/{real}", headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 200


def test_without_a_trusted_proxy_a_forwarded_address_is_not_believed(seeded_app: Flask) -> None:
    """A client cannot dodge its limit by sending a new X-Forwarded-For with each request."""
    real = _certificate_code(seeded_app)
    figure = _per_minute(seeded_app, "VERIFY_FAILED_RATE_LIMIT")
    client = _client(seeded_app, "198.51.100.9")
    statuses = [
        client.get(f"/v/{real[:-4]}{n:04d}", headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code
        for n in range(figure + 1)
    ]
    assert statuses[:figure] == [404] * figure and statuses[-1] == 429


def _certificate_code(app: Flask) -> str:
    """A stored, correctly signed code of the seed (any: only its key check matters here)."""
    from sqlalchemy import text

    from catalogue.db import get_engine

    with app.app_context(), get_engine().connect() as conn:
        return str(conn.execute(text("SELECT verify_code FROM certificate ORDER BY id LIMIT 1")).scalar_one())


# ----------------------------------------------------------------------------- sign-in


def _attempt(
    client: FlaskClient, email: str, password: str = "wrong password", next_: str = ""
) -> TestResponse:
    token = csrf_token(client)
    query = {"next": next_} if next_ else {}
    return client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": password}, query_string=query
    )


def test_sign_in_limit_per_email_is_shared_by_every_worker(seeded_app: Flask) -> None:
    make_user(seeded_app, "a@so.gov.vn", "ministry")
    # A second worker: another app on the same data folder (and database).
    other_worker = create_app(
        {**base_overrides(seeded_app.config["CATALOGUE_DATA_DIR"]), "RATELIMIT_ENABLED": True}
    )
    workers = (seeded_app, other_worker)
    figure = throttle.PER_EMAIL.attempts
    statuses = [
        _attempt(_client(workers[n % 2], f"10.1.{n // 200}.{n % 200}"), "A@so.gov.vn ").status_code
        for n in range(figure)
    ]
    assert statuses == [200] * figure  # wrong password: the form again
    refused = _attempt(_client(other_worker, "10.9.9.9"), "a@so.gov.vn", PASSWORD)
    assert refused.status_code == 429
    assert 60 < _retry_after(refused) <= 3600
    assert "Retry-After" in _attempt(_client(seeded_app, "10.9.9.8"), "a@so.gov.vn", PASSWORD).headers
    # Another official signs in normally.
    make_user(seeded_app, "b@so.gov.vn", "ministry")
    assert _attempt(_client(other_worker, "10.9.9.7"), "b@so.gov.vn", PASSWORD).status_code == 302


def test_sign_in_limit_per_address_says_when_to_retry(seeded_app: Flask) -> None:
    client = _client(seeded_app)
    figure = throttle.PER_CLIENT.attempts
    statuses = [_attempt(client, f"x{n}@so.gov.vn").status_code for n in range(figure)]
    assert statuses == [200] * figure
    refused = _attempt(client, "new@so.gov.vn")
    assert refused.status_code == 429 and 0 < _retry_after(refused) <= 60


# ----------------------------------------------------------------------------- next=


@pytest.mark.parametrize(
    "target",
    [
        "/%0d%0aX:1",
        "/%0aSet-Cookie:a=b",
        "/%250d%250aX:1",
        "/\\evil.example",
        "/%5C%5Cevil.example",
        "/a%00b",
    ],
)
def test_language_switch_refuses_a_header_breaking_next(seeded_app: Flask, target: str) -> None:
    response = seeded_app.test_client().get(f"/lang/en?next={target}")
    assert response.status_code == 400
    assert "X" not in response.headers and "Set-Cookie" not in str(response.headers).split("lang=")[0]


def test_language_switch_still_goes_back_and_never_leaves_the_site(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    assert client.get("/lang/en?next=/provinces%3Fpage%3D2").headers["Location"] == "/provinces?page=2"
    assert client.get("/lang/en?next=//evil.example/x").headers["Location"] == "/"


def test_sign_in_refuses_a_header_breaking_next(seeded_app: Flask) -> None:
    make_user(seeded_app, "a@so.gov.vn", "ministry")
    client = seeded_app.test_client()
    assert client.get("/admin/login?next=/%0d%0aX:1").status_code == 400
    token = csrf_token(client)
    response = client.post(
        "/admin/login?next=/admin/%0d%0aX:1",
        data={"csrf_token": token, "email": "a@so.gov.vn", "password": PASSWORD},
    )
    assert response.status_code == 400 and "X" not in response.headers
    # A plain next still brings the official where they were going.
    ok = client.post(
        "/admin/login?next=/admin/audit",
        data={"csrf_token": token, "email": "a@so.gov.vn", "password": PASSWORD},
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/audit"
