"""The workspace's records list: filters by status, level, year, round, producer and text, sorts,
pages, exports exactly what the filter shows, and never shows another province's records.

The clock is frozen at 2026-06-15: the statuses below follow from the dates chosen for it.
Every product made here carries the word "Zô Thử" so a filter on it isolates them from the seed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine
from catalogue.registry import certificates, finder
from catalogue.registry.models import Certificate, Product
from catalogue.vocab import Level
from tests.fixtures.workspace import login, make_user, province

TAG = "Zô Thử"

#: name → (province, level, year, issued, printed expiry, certificate number)
CERTS: dict[str, tuple[str, Level, int, date, date | None, str]] = {
    "valid": ("Lào Cai", Level.TINH, 2025, date(2025, 8, 15), None, "ZT-001/GCN"),
    "expired": ("Lào Cai", Level.TINH, 2021, date(2021, 3, 1), date(2024, 3, 1), "ZT-002/GCN"),
    "lapsed": ("Lào Cai", Level.HUYEN, 2020, date(2020, 5, 1), None, "ZT-003/GCN"),
    "revoked": ("Lào Cai", Level.TINH, 2024, date(2024, 6, 1), None, "ZT-004/GCN"),
    "national": ("Lào Cai", Level.QUOC_GIA, 2024, date(2024, 9, 1), date(2029, 9, 1), "ZT-005/BCT"),
    "hue_valid": ("Huế", Level.TINH, 2025, date(2025, 9, 1), None, "ZT-101/GCN"),
    "hue_expired": ("Huế", Level.TINH, 2019, date(2019, 4, 1), date(2022, 4, 1), "ZT-102/GCN"),
}
PRODUCTS = {
    "valid": "Chè Shan tuyết Zô Thử",
    "expired": "Mật ong bạc hà Zô Thử",
    "lapsed": "Đào rừng sấy Zô Thử",
    "revoked": "Rượu ngô men lá Zô Thử",
    "national": "Gạo Séng Cù Zô Thử",
    "hue_valid": "Mè xửng Zô Thử",
    "hue_expired": "Nón lá Zô Thử",
}
PRODUCERS = {
    "valid": "HTX Zô Thử Bắc Hà",
    "expired": "HTX Zô Thử Bắc Hà",
    "lapsed": "HTX Zô Thử Sa Pa",
    "revoked": "HTX Zô Thử Sa Pa",
    "national": "HTX Zô Thử Mường Khương",
    "hue_valid": "Cơ sở Zô Thử Huế",
    "hue_expired": "Cơ sở Zô Thử Huế",
}
LAO_CAI = {"valid", "expired", "lapsed", "revoked", "national"}
HUE = {"hue_valid", "hue_expired"}


@pytest.fixture
def world(seeded_app: Flask, make_certificate: Callable[..., str]) -> dict[str, Any]:
    """Seven certificates in two provinces, one revoked, and a Lào Cai product with no certificate."""
    ids: dict[str, int] = {}
    for key, (where, level, year, issued, expires, number) in CERTS.items():
        code = make_certificate(
            product=PRODUCTS[key], producer=PRODUCERS[key], province=where, level=level, year=year,
            issued_on=issued, expires_on=expires, certificate_number=number,
        )  # fmt: skip
        with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
            ids[key] = s.exec(select(Certificate.id).where(Certificate.verify_code == code)).one()
    with seeded_app.app_context(), Session(get_engine(), expire_on_commit=False) as s:
        cert = s.get(Certificate, ids["revoked"])
        certificates.revoke_certificate(
            s, actor=SYSTEM, certificate=cert, reason="vi phạm", reference="9/QĐ", on=date(2025, 1, 10)
        )
        bare = Product(name="Măng khô Zô Thử", slug="mang-kho-zo-thu", province_id=province(s, "Lào Cai").id)
        s.add(bare)
        s.commit()
        ids["bare_product"] = int(bare.id)  # type: ignore[arg-type]
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    make_user(seeded_app, "hue@so.gov.vn", "province", "Huế")
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    return ids


def client_for(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def shown(client: FlaskClient, **params: Any) -> list[int]:
    """Certificate ids on the page, in order (product rows without one are ``-product id``)."""
    params.setdefault("q", TAG)
    response = client.get("/admin/records", query_string={"lang": "en", **params})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return [
        int(m.group(2)) if m.group(1) == "certificate" else -int(m.group(2))
        for m in re.finditer(r'data-(certificate|product)="(\d+)"', page)
    ]


def certs(world: dict[str, Any], *keys: str) -> set[int]:
    return {world[k] for k in keys}


def test_status_and_level_filters_return_exactly_the_matching_rows(seeded_app: Flask, world: dict) -> None:
    ministry = client_for(seeded_app, "cuc@moit.gov.vn")
    assert set(shown(ministry, status="valid")) == certs(world, "valid", "national", "hue_valid")
    assert set(shown(ministry, status="expired")) == certs(world, "expired", "lapsed", "hue_expired")
    assert set(shown(ministry, status="lapsed")) == certs(world, "lapsed")
    assert set(shown(ministry, status="revoked")) == certs(world, "revoked")
    assert shown(ministry, status="none") == [-world["bare_product"]]
    assert set(shown(ministry, level="tinh")) == certs(
        world, "valid", "expired", "revoked", "hue_valid", "hue_expired"
    )
    assert set(shown(ministry, level="huyen")) == certs(world, "lapsed")
    assert set(shown(ministry, status="valid", level="tinh")) == certs(world, "valid", "hue_valid")
    assert set(shown(ministry, status="expired", level="tinh")) == certs(world, "expired", "hue_expired")
    # No filter: every certificate and the product not yet certified.
    assert set(shown(ministry)) == set(world.values()) - {world["bare_product"]} | {-world["bare_product"]}
    page = ministry.get("/admin/records", query_string={"lang": "en", "q": TAG, "status": "lapsed"})
    assert "past standard validity" in page.get_data(as_text=True)


def test_year_round_producer_and_text_filters(seeded_app: Flask, world: dict) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    assert set(shown(client, year="2024")) == certs(world, "revoked", "national")
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        cert = s.get(Certificate, world["lapsed"])
        round_id, product = cert.round_id, s.get(Product, cert.product_id)
        producer_id = product.producer_id
    assert set(shown(client, round=str(round_id))) == certs(world, "lapsed")
    assert set(shown(client, producer=str(producer_id))) == certs(world, "lapsed", "revoked")
    # Text: with diacritics, without, in capitals, and a certificate number.
    for q in ("Đào rừng", "dao rung", "DAO RUNG sấy"):
        assert set(shown(client, q=q)) == certs(world, "lapsed"), q
    assert set(shown(client, q="zt-005")) == certs(world, "national")
    assert set(shown(client, q="sa pa zo thu")) == certs(world, "lapsed", "revoked")
    # The filter's lists offer what the official's records hold.
    page = client.get("/admin/records?lang=en").get_data(as_text=True)
    producers = page[page.index('id="f-producer"') : page.index("</select>", page.index('id="f-producer"'))]
    assert f'<option value="{producer_id}"' in producers
    assert 'for="f-status"' in page and 'for="f-level"' in page


def test_sort_orders(seeded_app: Flask, world: dict, clock: time_machine.Traveller) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    w, bare = world, -world["bare_product"]
    # Product name, alphabetically as Vietnamese reads without marks (Đ with D).
    assert shown(client, sort="product") == [
        w["valid"],
        w["lapsed"],
        w["national"],
        bare,
        w["expired"],
        w["revoked"],
    ]
    # Year, newest first; same year by product name; no certificate last.
    assert shown(client, sort="year") == [
        w["valid"],
        w["national"],
        w["revoked"],
        w["expired"],
        w["lapsed"],
        bare,
    ]
    # Level, highest first, then newest.
    assert shown(client, sort="level") == [
        w["national"],
        w["valid"],
        w["revoked"],
        w["expired"],
        w["lapsed"],
        bare,
    ]
    assert shown(client, sort="number") == [
        w[k] for k in ("valid", "expired", "lapsed", "revoked", "national")
    ] + [bare]
    # Recently changed (the default): a product edited later comes first.
    clock.shift(timedelta(hours=2))
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        cert = s.get(Certificate, world["expired"])
        cert.updated_at = cert.updated_at + timedelta(days=1)
        s.add(cert)
        s.commit()
    assert shown(client)[0] == world["expired"]


def test_paging_with_page_numbers(seeded_app: Flask, world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finder, "PER_PAGE", 2)
    monkeypatch.setattr(finder.find, "__defaults__", (2,))
    client = client_for(seeded_app, "laocai@so.gov.vn")
    pages = [shown(client, sort="number", page=str(n)) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 2, 2]
    assert sum(pages, []) == [world[k] for k in ("valid", "expired", "lapsed", "revoked", "national")] + [
        -world["bare_product"]
    ]
    page = client.get("/admin/records", query_string={"lang": "en", "q": TAG, "page": "2"}).get_data(
        as_text=True
    )
    assert "6 records match." in page
    assert 'aria-current="page">2<' in page and "page=3" in page and "page=1" in page
    assert shown(client, sort="number", page="99") == pages[2]  # past the end: the last page


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_export_holds_exactly_the_filtered_rows(seeded_app: Flask, world: dict) -> None:
    ministry = client_for(seeded_app, "cuc@moit.gov.vn")
    query = {"lang": "en", "q": TAG, "status": "expired"}
    for rows in (
        _csv(ministry.get("/admin/records.csv", query_string=query)),
        _xlsx(ministry.get("/admin/records.xlsx", query_string=query)),
    ):
        assert sorted(r["Certificate number"] for r in rows) == ["ZT-002/GCN", "ZT-003/GCN", "ZT-102/GCN"]
        by_number = {r["Certificate number"]: r for r in rows}
        assert by_number["ZT-003/GCN"]["Product"] == PRODUCTS["lapsed"]  # Vietnamese intact
        assert by_number["ZT-003/GCN"]["Expiry basis"] == "assumed by the registry"
        assert by_number["ZT-002/GCN"]["Expiry basis"] == "as stated in the decision"
        assert by_number["ZT-002/GCN"]["Expires on"] == "2024-03-01"
        assert by_number["ZT-102/GCN"]["Province now"] == "Huế"
        assert by_number["ZT-002/GCN"]["Certificate form"].endswith(f"/admin/certificates/{world['expired']}")
        assert "/admin/products/" in by_number["ZT-002/GCN"]["Product form"]
        assert by_number["ZT-002/GCN"]["Public page"].startswith("http")
    # The whole result, not only the page shown.
    everything = _csv(ministry.get("/admin/records.csv", query_string={"q": TAG, "page": "2"}))
    assert len(everything) == len(world)


def test_export_beyond_the_limit_is_refused_with_a_message(
    seeded_app: Flask, world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finder, "EXPORT_LIMIT", 3)
    ministry = client_for(seeded_app, "cuc@moit.gov.vn")
    response = ministry.get(
        "/admin/records.csv", query_string={"lang": "en", "q": TAG}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "an export holds at most 3" in response.get_data(as_text=True)


def test_a_province_official_never_sees_another_provinces_records(seeded_app: Flask, world: dict) -> None:
    hue = client_for(seeded_app, "hue@so.gov.vn")
    assert set(shown(hue)) == certs(world, "hue_valid", "hue_expired")
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        lao_cai = province(s, "Lào Cai").id
        lc_producer = s.get(Product, s.get(Certificate, world["valid"]).product_id).producer_id
    page = hue.get("/admin/records?lang=en").get_data(as_text=True)
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        lc_round = s.get(Certificate, world["valid"]).round_id
        hue_round = s.get(Certificate, world["hue_valid"]).round_id
    rounds = page[page.index('id="f-round"') : page.index("</select>", page.index('id="f-round"'))]
    assert f'<option value="{hue_round}"' in rounds and f'<option value="{lc_round}"' not in rounds
    assert 'id="f-province"' not in page  # the province filter is the ministry's
    # Forged parameters: another province, another province's producer, its round.
    assert shown(hue, round=str(lc_round)) == []
    assert set(shown(hue, province=str(lao_cai))) == certs(world, "hue_valid", "hue_expired")
    assert shown(hue, producer=str(lc_producer)) == []
    rows = _csv(hue.get("/admin/records.csv", query_string={"lang": "en", "province": str(lao_cai)}))
    assert rows and {r["Province now"] for r in rows} == {"Huế"}
    assert not {r["Certificate number"] for r in rows} & {CERTS[k][5] for k in LAO_CAI}
    with seeded_app.test_request_context(), Session(get_engine()) as s:
        from catalogue.accounts.models import User

        user = s.exec(select(User).where(User.email == "hue@so.gov.vn")).one()
        ids = finder.matching_ids(s, user, finder.parse_filter({"q": TAG, "province": str(lao_cai)}))
        assert set(ids) == certs(world, "hue_valid", "hue_expired")
        assert finder.matching_ids(s, None, finder.parse_filter({})) == []


def test_ministry_sees_every_province_and_filters_by_one(seeded_app: Flask, world: dict) -> None:
    ministry = client_for(seeded_app, "cuc@moit.gov.vn")
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        hue_id = province(s, "Huế").id
    assert set(shown(ministry, province=str(hue_id))) == certs(world, "hue_valid", "hue_expired")
    assert 'id="f-province"' in ministry.get("/admin/records").get_data(as_text=True)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"status": "nonsense"},
        {"year": "99999999"},
        {"level": "<script>"},
        {"round": "-1", "producer": "x", "province": "1e9", "sort": "drop table"},
        {"page": "0", "q": "%_'\""},
        {"q": "x" * 500},
    ],
)
def test_bad_parameters_give_the_page_not_an_error(seeded_app: Flask, world: dict, params: dict) -> None:
    ministry = client_for(seeded_app, "cuc@moit.gov.vn")
    assert ministry.get("/admin/records", query_string=params).status_code == 200
    assert ministry.get("/admin/records.csv", query_string=params).status_code == 200


def test_permission_walk(seeded_app: Flask, world: dict) -> None:
    anonymous = seeded_app.test_client()
    for path in ("/admin/records", "/admin/records.csv", "/admin/records.xlsx"):
        response = anonymous.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login"), path
    lao_cai = client_for(seeded_app, "laocai@so.gov.vn")
    assert set(shown(lao_cai)) == certs(world, *LAO_CAI) | {-world["bare_product"]}
    hue = client_for(seeded_app, "hue@so.gov.vn")
    assert not set(shown(hue)) & (certs(world, *LAO_CAI) | {-world["bare_product"]})
    ministry = client_for(seeded_app, "cuc@moit.gov.vn")
    assert set(shown(ministry)) >= certs(world, *LAO_CAI, *HUE)


def test_each_row_links_to_its_forms_and_public_page(seeded_app: Flask, world: dict) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    page = client.get("/admin/records", query_string={"q": "ZT-004", "lang": "en"}).get_data(as_text=True)
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        product = s.get(Product, s.get(Certificate, world["revoked"]).product_id)
    assert f'href="/admin/products/{product.id}"' in page
    assert f'href="/admin/certificates/{world["revoked"]}"' in page
    assert f"/p/{product.slug}" in page or product.slug in page
    assert "Revoked" in page


def test_the_list_hands_picked_or_all_matching_certificates_to_a_decision(
    seeded_app: Flask, world: dict
) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    page = client.get("/admin/records", query_string={"lang": "en", "q": TAG, "level": "tinh"}).get_data(
        as_text=True
    )
    form = page[page.index('id="bulk"') - 60 : page.index("</form>", page.index('id="bulk"'))]
    assert 'method="get" action="/admin/decisions/new"' in form
    assert f'name="certificate" value="{world["valid"]}"' in form
    assert 'name="all" value="1"' in form and "All 3 certificates matching this filter" in form
    assert 'name="action" value="revoke"' in form and 'name="action" value="reinstate"' in form
    assert 'name="level" value="tinh"' in form and f'name="q" value="{TAG}"' in form
    # "All matching" sends the filter: the decision gets exactly the list's certificates, in scope.
    query = {"lang": "en", "action": "revoke", "all": "1", "q": TAG, "level": "tinh"}
    picked = client.get("/admin/decisions/new", query_string=query).get_data(as_text=True)
    ids = re.search(r'name="ids" type="hidden" value="([\d,]*)"', picked)
    assert ids and {int(i) for i in ids.group(1).split(",")} == certs(world, "valid", "expired", "revoked")
