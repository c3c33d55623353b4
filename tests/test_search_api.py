"""The search page, /api/v1/products and its CSV: one search, clear errors, no 500s."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from catalogue.db import get_session
from tests import seeddata
from tests.test_search_sync import publish


@pytest.fixture
def client(seeded_app: Flask) -> FlaskClient:
    return seeded_app.test_client()


def test_api_shape_and_items(client: FlaskClient) -> None:
    data = client.get("/api/v1/products?q=gom+bat+trang&status=all").get_json()
    keys = {"total", "items", "facets", "page", "per_page", "suggestion", "status_rules", "next_cursor"}
    keys.add("next")
    assert set(data) == keys
    data = client.get("/api/v1/products?q=nuoc+mam+phu+quoc").get_json()
    item = data["items"][0]
    assert item["name"].startswith("Nước mắm truyền thống Phú Quốc")
    assert item["url"].startswith("http://") and "/products/nuoc-mam-truyen-thong-phu-quoc" in item["url"]
    assert item["province"]["current_slug"] == "an-giang" and item["province"]["as_printed"] == "Kiên Giang"
    cert = item["certificates"][0]
    assert {"number", "level", "year", "expires_on", "expiry_basis", "status", "verify_url"} <= set(cert)
    assert set(data["facets"]) == {"group", "province", "region", "level", "year", "status"}
    assert "an-giang" in {f["value"] for f in data["facets"]["province"]}  # the item's province
    assert all({"value", "label", "count"} == set(f) for f in data["facets"]["province"])


def test_api_da_nang_includes_the_quang_nam_2021_national_products(client: FlaskClient) -> None:
    data = client.get("/api/v1/products?province=Da%20Nang&status=all&per_page=100").get_json()
    names = {i["name"] for i in data["items"]}
    assert {"Bánh chưng Bà Ba Hội", "Khay trà tiến Vua", "Giá treo và bảo chúng nhỏ"} <= names
    assert data["total"] == len(data["items"])


@pytest.mark.parametrize(("query", "needle"), [
    ("page=abc", "page number"),
    ("page=0", "page number"),
    ("page=-3", "page number"),
    ("per_page=101", "per_page"),
    ("per_page=x", "per_page"),
    ("q=" + "a" * 1000, "too long"),
    ("province=Atlantis", "Unknown province"),
    ("province=Ha%20Noj", "Hà Nội"),  # a close name is suggested
    ("group=weapons", "Unknown product group"),
    ("level=galactic", "Unknown level"),
    ("region=mars", "Unknown region"),
    ("year=20x4", "not a year"),
    ("status=maybe", "Unknown status"),
    ("sort=random", "Unknown sort"),
])  # fmt: skip
def test_bad_api_input_is_a_clear_400(client: FlaskClient, query: str, needle: str) -> None:
    response = client.get("/api/v1/products?" + query, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert needle in response.get_json()["error"]["message"]


@pytest.mark.parametrize("query", ["page=abc", "q=" + "b" * 1000, "province=Atlantis", "year=1"])
def test_bad_page_input_is_a_400_page_with_the_message(client: FlaskClient, query: str) -> None:
    response = client.get("/search?" + query)
    assert response.status_code == 400
    assert 'class="flash flash-error"' in response.get_data(as_text=True)


def test_bad_input_message_in_vietnamese(client: FlaskClient) -> None:
    response = client.get("/api/v1/products?page=abc", headers={"Accept-Language": "vi"})
    assert response.status_code == 400 and response.get_json()["error"]["message"]


def test_page_past_the_end_is_empty_not_an_error(client: FlaskClient) -> None:
    data = client.get("/api/v1/products?page=999").get_json()
    assert data["items"] == [] and data["total"] > 0
    page = client.get("/search?page=999&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "There are no results on this page." in html and 'href="/search">Go to the first page' in html


def test_search_page_shows_facets_results_and_highlights(client: FlaskClient) -> None:
    html = client.get("/search?q=nuoc+mam&lang=en").get_data(as_text=True)
    assert "<mark>Nước</mark> <mark>mắm</mark>" in html
    assert "Product group" in html and "Province" in html and "Status" in html
    assert 'class="n"' in html  # counts beside facet values
    assert "/api/v1/products.csv?q=nuoc+mam" in html
    assert 'class="badge badge-valid"' in html


def test_active_filter_is_shown_and_removable(client: FlaskClient) -> None:
    html = client.get("/search?q=nuoc+mam&province=an-giang&lang=en").get_data(as_text=True)
    assert 'class="chip" href="/search?q=nuoc+mam"' in html
    assert "An Giang" in html


def test_empty_state_offers_the_suggestion(client: FlaskClient) -> None:
    # Every "bánh chưng" of the seed has expired: the suggestion is offered where it finds them.
    html = client.get("/search?q=b%C3%A1nh+ch%C6%B0g&status=all&lang=en").get_data(as_text=True)
    assert "No products match your search." in html
    assert "Did you mean" in html and "bánh chưng" in html
    assert "/search?q=b%C3%A1nh+ch%C6%B0ng" in html


def test_search_page_in_vietnamese(client: FlaskClient) -> None:
    response = client.get("/search?q=tra", headers={"Accept-Language": "vi"})
    assert response.status_code == 200
    assert '<html lang="vi">' in response.get_data(as_text=True)


def test_search_page_pagination_links(client: FlaskClient) -> None:
    html = client.get("/search?status=all&lang=en").get_data(as_text=True)
    assert 'rel="next" href="/search?status=all&amp;page=2"' in html
    assert f"Page 1 of {-(-seeddata.products() // 20)}" in html  # 20 a page, the default


def test_csv_matches_the_search_and_has_every_row(client: FlaskClient) -> None:
    api = client.get("/api/v1/products?q=nuoc+mam&status=all").get_json()
    response = client.get("/api/v1/products.csv?q=nuoc+mam&status=all")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "product"
    assert len(rows) - 1 == api["total"]


def test_csv_neutralises_formula_injection(seeded_app: Flask) -> None:
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, '=HYPERLINK("http://evil.example","zzcsv")', "CSV-1")
        session.commit()
    body = seeded_app.test_client().get("/api/v1/products.csv?q=zzcsv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[1][0].startswith("'=HYPERLINK")


def test_publish_is_searchable_through_the_api_at_once(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    assert client.get("/api/v1/products?q=zzfresh").get_json()["total"] == 0
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, "Chả mực zzfresh", "FRESH-1")
        session.commit()
    assert client.get("/api/v1/products?q=zzfresh").get_json()["total"] == 1


def test_exact_accents_rank_first(seeded_app: Flask) -> None:
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, "Đường thốt nốt Tri Tôn", "RANK-1", province="An Giang")
        publish(session, "Dương xỉ sấy khô", "RANK-2", province="An Giang")
        publish(session, "Dường như mật ong", "RANK-3", province="An Giang")
        session.commit()
    client = seeded_app.test_client()

    def first(q: str) -> list[str]:
        return [i["name"] for i in client.get("/api/v1/products", query_string={"q": q}).get_json()["items"]]

    assert first("đường")[0] == "Đường thốt nốt Tri Tôn"
    assert first("dương")[0] == "Dương xỉ sấy khô"
    assert first("Dường")[0] == "Dường như mật ong"
    assert {"Đường thốt nốt Tri Tôn", "Dương xỉ sấy khô", "Dường như mật ong"} <= set(first("duong"))


def test_certificate_number_is_searchable(seeded_app: Flask) -> None:
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, "Bánh tráng phơi sương", "123/QĐ-UBND")
        session.commit()
    items = seeded_app.test_client().get("/api/v1/products?q=123/QĐ-UBND").get_json()["items"]
    assert [i["name"] for i in items] == ["Bánh tráng phơi sương"]
    assert items[0]["certificates"][0]["number"] == "123/QĐ-UBND"


def test_search_answers_are_cacheable_briefly_and_revalidate(seeded_client: FlaskClient) -> None:
    for url in ("/search?q=tra", "/api/v1/products?q=tra"):
        first = seeded_client.get(url)
        assert first.headers["Cache-Control"] == "public, max-age=10"
        again = seeded_client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
    assert seeded_client.get("/api/v1/products").headers["Access-Control-Allow-Origin"] == "*"


def test_empty_valid_results_point_to_expired_matches_not_to_spelling(
    seeded_app: Flask, make_certificate: Any
) -> None:
    """A product whose only certificate has expired: the default search says it exists elsewhere."""
    make_certificate(product="Bánh tẻ Phú Nhi kiểm thử", certificate_number="BT-1", year=2023,
                     issued_on=date(2023, 3, 1), expires_on=date(2024, 3, 1))  # fmt: skip
    client = seeded_app.test_client()
    html = client.get("/search?q=banh+te+phu+nhi&lang=en").get_data(as_text=True)
    assert "some with an expired or revoked certificate do" in html
    assert "Did you mean" not in html and "Check the spelling" not in html
    shown = client.get("/api/v1/products?q=banh+te+phu+nhi&status=all").get_json()
    assert [i["name"] for i in shown["items"]] == ["Bánh tẻ Phú Nhi kiểm thử"]
