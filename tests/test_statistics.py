"""/statistics and /statistics.csv: the numbers are the database's, filters mean what they mean in
search, the CSV says what the page says, the charts are accessible SVG drawn without JavaScript."""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.clock import today
from catalogue.db import get_engine
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Product, SelectionRound
from catalogue.registry.status import certificate_standing, current_policy
from catalogue.search import building
from catalogue.vocab import Level
from tests.conftest import PausedBuild

SVG = "{http://www.w3.org/2000/svg}"
Tables = dict[str, dict[tuple[str, str], int]]


def _csv(client: FlaskClient, query: str = "") -> Tables:
    """The CSV as ``table → (row, column) → count``."""
    response = client.get("/statistics.csv?lang=en" + ("&" + query if query else ""))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff"), "spreadsheets need the BOM to read Vietnamese"
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    out: Tables = {}
    for row in rows:
        out.setdefault(row["table"], {})[(row["row"], row["column"])] = int(row["count"])
    return out


def _expected(
    app: Flask, keep: Callable[[Any, Any, Any, Any], bool] = lambda *_: True
) -> dict[str, Counter[Any]]:
    """Counts worked out here from the rows, one certificate at a time, with the registry's Python rule."""
    out: dict[str, Counter[Any]] = {
        k: Counter() for k in ("year_level", "province", "group", "status", "products")
    }
    with app.app_context(), Session(get_engine()) as session:
        provinces = Provinces.load(session)
        policy = current_policy(session)
        rows = session.exec(
            select(Certificate, SelectionRound, Product)
            .join(SelectionRound, SelectionRound.id == Certificate.round_id)  # type: ignore[arg-type]
            .join(Product, Product.id == Certificate.product_id)  # type: ignore[arg-type]
        ).all()
        for cert, round_, product in rows:
            status = certificate_standing(cert, round_.level, round_.year, policy, today()).status.value
            current = provinces.current_of(provinces.get(product.province_id))
            if not keep(cert, round_, product, (status, current)):
                continue
            out["year_level"][(str(round_.year), round_.level)] += 1
            out["province"][current.slug if current else "unknown"] += 1
            out["group"][product.group or "unclassified"] += 1
            out["status"][status] += 1
            out["products"][product.id] += 1
    return out


def _one_column(tables: Tables, name: str) -> Counter[str]:
    return Counter({row: n for (row, _), n in tables[name].items() if n})


def test_numbers_are_the_database_s(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    tables = _csv(client)
    expected = _expected(seeded_app)
    assert Counter({k: n for k, n in tables["year_level"].items() if n}) == expected["year_level"]
    assert _one_column(tables, "province") == expected["province"]
    assert _one_column(tables, "group") == expected["group"]
    assert _one_column(tables, "status") == expected["status"]
    total = sum(expected["status"].values())
    assert tables["total"] == {("all", "certificates"): total, ("all", "products"): len(expected["products"])}
    # Every one of the 34 current provinces is listed, those without a certificate with 0.
    with seeded_app.app_context(), Session(get_engine()) as session:
        current = {p.slug for p in Provinces.load(session).current()}
    assert len(current) == 34
    assert current <= {row for row, _ in tables["province"]}
    # Sorted as drawn: most certificates first.
    counts = [n for (row, _), n in tables["province"].items() if row != "unknown"]
    assert counts == sorted(counts, reverse=True)
    # Every status by default (the status chart is one of the charts).
    assert {row for row, _ in tables["status"]} == {"valid", "expired", "revoked"}


def _busiest(seeded_app: Flask) -> tuple[str, str]:
    """The current province and the level with most certificates there (looked up, not assumed)."""
    expected = _expected(seeded_app)
    province = expected["province"].most_common(1)[0][0]
    levels = _expected(seeded_app, lambda c, r, p, extra: extra[1] is not None and extra[1].slug == province)
    level = Counter({lv: n for (_, lv), n in levels["year_level"].items()}).most_common(1)[0][0]
    return province, level


def test_a_filter_counts_what_search_finds(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    province, level = _busiest(seeded_app)
    query = f"province={province}&level={level}"
    tables = _csv(client, query)

    def keep(cert: Any, round_: Any, product: Any, extra: Any) -> bool:
        return extra[1] is not None and extra[1].slug == province and round_.level == level

    expected = _expected(seeded_app, keep)
    # Level chooses certificates: only that level is counted, for that province only.
    assert Counter({k: n for k, n in tables["year_level"].items() if n}) == expected["year_level"]
    assert _one_column(tables, "province") == Counter({province: sum(expected["status"].values())})
    assert _one_column(tables, "status") == expected["status"]
    # The products counted are the products search lists for the same filter (every status).
    api = client.get(f"/api/v1/products?{query}&status=all&per_page=100").get_json()
    assert tables["total"][("all", "products")] == api["total"] == len(expected["products"])
    # A status filter narrows the certificates to that status.
    valid = _csv(client, query + "&status=valid")
    assert _one_column(valid, "status") == Counter({"valid": expected["status"]["valid"]})
    api_valid = client.get(f"/api/v1/products?{query}&status=valid").get_json()
    assert valid["total"][("all", "products")] == api_valid["total"]


@pytest.mark.parametrize(
    "query",
    [
        "region=phia_bac",
        "region=mien_trung_tay_nguyen",
        "level=khu_vuc&region=phia_nam",
        "group=che_bien_nong_lam_thuy_san_thuc_pham&year=2024",
        "group=unclassified",
        "group=unclassified&group=thu_cong_my_nghe",
        "province=Qu%E1%BA%A3ng%20Nam",  # a pre-2025 name: its successor's certificates
        "status=expired&level=tinh",
    ],
)
def test_every_filter_counts_the_products_search_lists(seeded_client: FlaskClient, query: str) -> None:
    api = seeded_client.get(
        f"/api/v1/products?{query}&per_page=1" + ("" if "status" in query else "&status=all")
    )
    assert api.status_code == 200
    assert api.get_json()["total"] > 0, "the seed has such products"
    tables = _csv(seeded_client, query)
    assert tables["total"][("all", "products")] == api.get_json()["total"]
    assert tables["total"][("all", "certificates")] >= tables["total"][("all", "products")]


def test_words_count_the_products_search_finds(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    api = client.get("/api/v1/products?q=ch%C3%A8&status=all&per_page=100").get_json()
    assert api["total"] > 0, "the seed has tea products"
    tables = _csv(client, "q=ch%C3%A8")
    assert tables["total"][("all", "products")] == api["total"]
    assert tables["total"][("all", "certificates")] == sum(_one_column(tables, "status").values())


def _page(client: FlaskClient, query: str = "", lang: str = "en") -> str:
    response = client.get(f"/statistics?lang={lang}" + ("&" + query if query else ""))
    assert response.status_code == 200
    return response.data.decode("utf-8")


def _element(text: str, tag: str, attr: str) -> str:
    """The one ``<tag … attr …>…</tag>`` of the page (the page's own markup, so a pattern will do)."""
    found = re.findall(rf"<{tag}\b[^>]*{re.escape(attr)}[^>]*>.*?</{tag}>", text, re.S)
    assert len(found) == 1, f"{tag} {attr}: {len(found)} found"
    return found[0]


def _html_tables(text: str) -> Tables:
    """The page's tables in the CSV's shape (rows and columns carry their codes in ``data-key``)."""
    out: Tables = {}
    cell = re.compile(r'<td class="num"(?: data-key="([^"]*)")?>([^<]*)</td>')
    for name in ("province", "group", "status", "year-level"):
        body = _element(_element(text, "table", f'id="table-{name}"'), "tbody", "")
        for key, row in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', body, re.S):
            for column, value in cell.findall(row):
                if name == "year-level" and not column:
                    continue  # the year's total, which the CSV leaves to the spreadsheet
                table = out.setdefault(name.replace("-", "_"), {})
                table[(key, column or "certificates")] = _number(value)
    return out


def _number(text: str | None) -> int:
    return int(re.sub(r"\D", "", text or ""))


@pytest.mark.parametrize("query", ["", "status=expired", "level=tinh&status=all"])
def test_the_csv_says_what_the_page_says(seeded_client: FlaskClient, query: str) -> None:
    text = _page(seeded_client, query)
    shown = _html_tables(text)
    exported = _csv(seeded_client, query)
    for name in ("year_level", "province", "group", "status"):
        assert shown.get(name, {}) == exported.get(name, {}), name
    certificates = exported["total"][("all", "certificates")]
    assert f"{certificates} certificate" in _element(text, "p", 'class="totals"')


def test_charts_are_accessible_svg_without_script(seeded_client: FlaskClient) -> None:
    text = _page(seeded_client, lang="vi")
    assert "<script" not in text
    assert len(text.encode()) < 60_000
    assert '<html lang="vi">' in text, "Vietnamese first"
    svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)
    assert len(svgs) == 4
    for markup in svgs:
        svg = ElementTree.fromstring(markup)  # well-formed XML
        assert svg.get("role") == "img"
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None and title.text and desc is not None and desc.text
        assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        assert svg.findall(f".//{SVG}rect") and svg.findall(f".//{SVG}text")
    # Each number is written on the chart, not left to colour: the status chart shows the table's numbers.
    status_svg = ElementTree.fromstring(next(s for s in svgs if "chart-status" in s))
    written = {t.text for t in status_svg.iter(f"{SVG}text")}
    table = _html_tables(text)["status"]
    assert {str(n) for n in table.values()} <= written
    # A title with markup in it is escaped, never injected.
    text = _page(seeded_client, "q=%3Cb%3Ex%3C%2Fb%3E")
    assert "<b>x</b>" not in text


def test_links_to_search_and_csv_keep_the_filters(seeded_client: FlaskClient) -> None:
    text = _page(seeded_client, "level=quoc_gia&year=2024")
    search = re.findall(r'href="(/search\?[^"]*)"', text)
    assert search and "level=quoc_gia" in search[0] and "year=2024" in search[0] and "status=all" in search[0]
    csv_link = re.findall(r'href="(/statistics\.csv[^"]*)"', text)[0]
    assert "level=quoc_gia" in csv_link and "year=2024" in csv_link
    # The form shows the filters chosen, so the next change keeps them.
    chosen = r'<option value="([^"]*)" selected>'
    assert re.findall(chosen, _element(text, "select", 'name="level"')) == ["quoc_gia"]
    assert re.findall(chosen, _element(text, "select", 'name="year"')) == ["2024"]
    assert re.findall(chosen, _element(text, "select", 'name="status"')) == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("province=Atlantis", "Unknown province"),
        ("year=abc", "is not a year"),
        ("level=galactic", "Unknown level"),
        ("status=lost", "Unknown status"),
    ],
)
def test_a_bad_filter_is_a_clear_400(seeded_client: FlaskClient, query: str, words: str) -> None:
    page = seeded_client.get(f"/statistics?lang=en&{query}")
    assert page.status_code == 400
    assert words in page.data.decode()
    sheet = seeded_client.get(f"/statistics.csv?lang=en&{query}")
    assert sheet.status_code == 400
    assert words in sheet.data.decode()


def test_a_new_certificate_is_counted(seeded_app: Flask, make_certificate: Callable[..., str]) -> None:
    client = seeded_app.test_client()
    before = _csv(client, "province=lao-cai&status=all")
    make_certificate(province="Lào Cai", level=Level.TINH, year=2024, issued_on=date(2024, 5, 1))
    after = _csv(client, "province=lao-cai&status=all")
    assert after["total"][("all", "certificates")] == before["total"][("all", "certificates")] + 1
    key = ("2024", Level.TINH.value)
    assert after["year_level"][key] == before.get("year_level", {}).get(key, 0) + 1
    assert after["status"][("valid", "certificates")] == before["status"][("valid", "certificates")] + 1


def test_an_empty_registry_shows_zeros(client: FlaskClient) -> None:
    text = _page(client)
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg"') == 4
    tables = _csv(client)
    assert tables["total"] == {("all", "certificates"): 0, ("all", "products"): 0}
    assert not any(tables.get("province", {}).values())
    assert _one_column(tables, "status") == Counter() and "No certificates match." in text
    assert "year_level" not in tables


def test_without_an_index_only_words_wait(seeded_app: Flask, paused_build: PausedBuild) -> None:
    """Counting needs no search index; words do, and get search's 503 with progress meanwhile."""
    root = Path(seeded_app.config["INDEX_DIR"])
    shutil.rmtree(root)
    client = seeded_app.test_client()
    try:
        assert client.get("/statistics?level=tinh").status_code == 200
        waiting = client.get("/statistics?q=ch%C3%A8")
        assert waiting.status_code == 503 and waiting.headers["Retry-After"]
    finally:
        paused_build.release.set()
        building.wait(root)


@pytest.mark.browser
def test_charts_show_in_a_browser_without_javascript(browser: Any, live_server: str) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 360, "height": 740}, locale="vi-VN"
    )
    try:
        page = context.new_page()
        response = page.goto(live_server + "/statistics")
        assert response is not None and response.status == 200
        charts = page.locator("svg.chart")
        assert charts.count() == 4
        for i in range(4):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 50
            assert box["x"] + box["width"] <= 360, "a chart fits the phone's width"
        # The filter form works without JavaScript.
        page.select_option("#stat-status", "valid")
        with page.expect_navigation():
            page.click(".stat-actions button")
        assert "status=valid" in page.url
        assert page.locator("#table-status tr[data-key='expired'] td").inner_text() == "0"
    finally:
        context.close()
