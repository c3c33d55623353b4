"""GTINs reach everywhere a product is read (issue 18 follow-up): search by the number under the
barcode (13, 14, 12 or 8 digits), the product page's JSON-LD, the bulk downloads and their
dictionary, the change feed and the API's CSV."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine, get_session
from catalogue.opendata import dictionary, manifest, tasks
from catalogue.places.services import Provinces
from catalogue.registry import gtins
from catalogue.registry.models import Product
from catalogue.registry.records import WriteContext, upsert_record
from catalogue.registry.rows import RecordInput
from catalogue.search import building
from catalogue.search.index import INFO
from catalogue.search.reader import reader_for
from catalogue.search.schema import SCHEMA_VERSION
from catalogue.vocab import Level, ProductGroup
from tests.conftest import VERIFY_KEYS, PausedBuild

# Synthetic codes with valid check digits (no real product's): two GTIN-13s, a GTIN-12 (UPC-A), a GTIN-8.
E13, F13, UPC12, EAN8 = "8939999000055", "8939999000062", "012345678905", "96385074"


def _publish(app: Flask, name: str, number: str, codes: tuple[str, ...] = (), description: str = "") -> int:
    """One certified product through the real write path, committed in a request (so it is indexed)."""
    with app.test_request_context():
        session = get_session()
        provinces = Provinces.load(session)
        ctx = WriteContext(provinces=provinces, validity_years=3, verify_keys=dict(VERIFY_KEYS),
                           verify_key_id="a")  # fmt: skip
        result = upsert_record(session, RecordInput(
            product=name, producer="HTX mã vạch", province=provinces.match_current("Huế"),  # type: ignore[arg-type]
            level=Level.TINH, year=2026, group=ProductGroup.CHE_BIEN, certificate_number=number,
            description=description or None, gtins=tuple(gtins.parse_gtin(c) for c in codes),
        ), ctx)  # fmt: skip
        session.commit()
        assert result.product.id is not None
        return result.product.id


def _api_names(client: FlaskClient, q: str) -> list[str]:
    answer = client.get("/api/v1/products", query_string={"q": q, "status": "all"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [item["name"] for item in answer.get_json()["items"]]


def _page_names(client: FlaskClient, q: str) -> list[str]:
    page = client.get("/search", query_string={"q": q, "status": "all", "lang": "en"})
    assert page.status_code == 200
    names = re.findall(r'<h3><a href="/products/[^"]+"[^>]*>(.*?)</a>', page.get_data(as_text=True), re.S)
    return [re.sub(r"<[^>]+>", "", n).strip() for n in names]


# ----------------------------------------------------------------------------- search


def test_the_number_under_the_barcode_finds_its_product_first_in_every_spelling(seeded_app: Flask) -> None:
    _publish(seeded_app, "Mắm tôm mã vạch", "GTIN-S1", (E13,))
    # Another product that merely mentions the digits in its text ranks after the GTIN's owner.
    _publish(seeded_app, "Tương ớt nhắc mã", "GTIN-S2", description=f"Cùng lô với mã {E13}")
    _publish(seeded_app, "Kẹo dừa UPC", "GTIN-S3", (UPC12, EAN8))
    client = seeded_app.test_client()
    for typed in (E13, "0" + E13, f" {E13} "):
        assert _api_names(client, typed)[0] == "Mắm tôm mã vạch", typed
        assert _page_names(client, typed)[0] == "Mắm tôm mã vạch", typed
    assert _api_names(client, E13) == ["Mắm tôm mã vạch", "Tương ớt nhắc mã"]
    for typed in (UPC12, "0" + UPC12, "00" + UPC12, EAN8, EAN8.zfill(13), EAN8.zfill(14)):
        assert _api_names(client, typed) == ["Kẹo dừa UPC"], typed
    # With other words, all must match as always.
    assert _api_names(client, f"mắm {E13}") == ["Mắm tôm mã vạch"]
    assert _api_names(client, f"kẹo {E13}") == []


def test_a_number_that_is_no_gtin_is_an_ordinary_word(seeded_app: Flask) -> None:
    _publish(seeded_app, "Mắm tôm mã vạch", "GTIN-W1", (E13,))
    client = seeded_app.test_client()
    wrong_check = E13[:-1] + "9"
    assert _api_names(client, wrong_check) == []
    assert _api_names(client, E13[:-1]) == []  # twelve digits of a GTIN-13: not the product's GTIN
    page = client.get("/search", query_string={"q": wrong_check, "lang": "en"})
    assert page.status_code == 200
    # A mistyped barcode gets no "did you mean" another number (looking for near numbers was slow).
    answer = client.get("/api/v1/products", query_string={"q": wrong_check, "status": "all"}).get_json()
    assert answer["suggestion"] is None


def test_a_gtin_added_or_replaced_later_is_searchable_at_once(seeded_app: Flask) -> None:
    pid = _publish(seeded_app, "Bánh pía chưa có mã", "GTIN-L1")
    client = seeded_app.test_client()
    assert _api_names(client, F13) == []
    with seeded_app.test_request_context():
        session = get_session()
        product = session.get(Product, pid)
        assert product is not None
        gtins.add_gtins(session, product, [gtins.parse_gtin(F13)], actor=None, actor_label="test",
                        province_id=product.province_id)  # fmt: skip
        session.commit()
    assert _api_names(client, F13) == ["Bánh pía chưa có mã"]
    with seeded_app.test_request_context():
        session = get_session()
        product = session.get(Product, pid)
        assert product is not None
        gtins.replace_gtins(session, actor=SYSTEM, product=product, gtins=[gtins.parse_gtin(E13)])
        session.commit()
    assert _api_names(client, F13) == []
    assert _api_names(client, E13) == ["Bánh pía chưa có mã"]


def test_an_index_built_before_gtins_were_indexed_is_rebuilt(
    seeded_app: Flask, paused_build: PausedBuild
) -> None:
    _publish(seeded_app, "Mắm tôm mã vạch", "GTIN-R1", (E13,))
    root = Path(seeded_app.config["INDEX_DIR"])
    for info in root.glob(f"gen-*/{INFO}"):  # every kept build says it has the old shape
        data = json.loads(info.read_text())
        info.write_text(json.dumps({**data, "schema_version": SCHEMA_VERSION - 1}))
    reader_for(root).reset()  # as a worker starting after the upgrade
    client = seeded_app.test_client()
    assert client.get("/api/v1/products", query_string={"q": E13}).status_code == 503
    assert paused_build.reached.wait(30)
    paused_build.release.set()
    building.wait(root)
    assert _api_names(client, E13) == ["Mắm tôm mã vạch"]


# ----------------------------------------------------------------------------- structured data


def _product_jsonld(client: FlaskClient, slug: str) -> dict[str, Any]:
    page = client.get(f"/products/{slug}").get_data(as_text=True)
    blocks = [
        json.loads(b) for b in re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    ]
    return next(b for b in blocks if b.get("@type") == "Product")


def _slug(app: Flask, pid: int) -> str:
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        product = s.get(Product, pid)
        assert product is not None
        return product.slug


def test_the_product_pages_json_ld_states_the_gtins_as_printed(seeded_app: Flask) -> None:
    one = _publish(seeded_app, "Mắm tôm mã vạch", "GTIN-J1", (E13,))
    several = _publish(seeded_app, "Kẹo dừa UPC", "GTIN-J2", ("0" + F13, UPC12, EAN8))
    none = _publish(seeded_app, "Bánh pía chưa có mã", "GTIN-J3")
    client = seeded_app.test_client()
    assert _product_jsonld(client, _slug(seeded_app, one))["gtin"] == E13
    assert _product_jsonld(client, _slug(seeded_app, several))["gtin"] == [F13, UPC12, EAN8]
    assert "gtin" not in _product_jsonld(client, _slug(seeded_app, none))


# ----------------------------------------------------------------------------- open data, feed, CSV


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_bulk_downloads_list_each_products_gtins_and_explain_the_column(
    seeded_app: Flask, clock: Any
) -> None:
    pid = _publish(seeded_app, "Kẹo dừa UPC", "GTIN-D1", (E13, UPC12))
    bare = _publish(seeded_app, "Bánh pía chưa có mã", "GTIN-D2")
    assert tasks.regenerate(seeded_app, force=True) is not None
    client = seeded_app.test_client()
    rows = _csv(client.get("/data/certificates.csv").data)
    row = next(r for r in rows if r["product_id"] == str(pid))
    assert row["gtins"] == f"0{E13} 00{UPC12}"
    assert next(r for r in rows if r["product_id"] == str(bare))["gtins"] == ""
    lines = gzip.decompress(client.get("/data/certificates.jsonl.gz").data).decode("utf-8").splitlines()
    items = {item["product_id"]: item for item in map(json.loads, lines)}
    assert items[pid]["gtins"] == f"0{E13} 00{UPC12}" and items[bare]["gtins"] is None
    explained = {(r["dataset"], r["column"]): r for r in _csv(client.get("/data/dictionary.csv").data)}
    entry = explained[("certificates", "gtins")]
    assert "GTIN" in entry["meaning_en"] and "GTIN" in entry["meaning_vi"]
    assert "gtins" not in dictionary.PRODUCERS.names
    # A GTIN added later reaches the files at the next tick.
    with seeded_app.test_request_context():
        session = get_session()
        product = session.get(Product, bare)
        assert product is not None
        gtins.add_gtins(session, product, [gtins.parse_gtin(F13)], actor=None, actor_label="test",
                        province_id=product.province_id)  # fmt: skip
        session.commit()
    clock.shift(tasks.BATCH)
    assert tasks.regenerate(seeded_app) is not None
    assert manifest.live_folder(seeded_app) is not None
    rows = _csv(client.get("/data/certificates.csv").data)
    assert next(r for r in rows if r["product_id"] == str(bare))["gtins"] == f"0{F13}"


def test_the_change_feed_carries_the_products_gtins(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    since = client.get("/api/v1/changes?since=now").get_json()["next"]
    pid = _publish(seeded_app, "Mắm tôm mã vạch", "GTIN-F1", (E13,))
    items = client.get("/api/v1/changes", query_string={"since": since}).get_json()["items"]
    mine = [i for i in items if i["product_id"] == pid]
    assert mine and all(i["product"]["gtins"] == ["0" + E13] for i in mine)


def test_the_api_csv_has_a_gtins_column(seeded_app: Flask) -> None:
    _publish(seeded_app, "Kẹo dừa UPC", "GTIN-C1", (E13, EAN8))
    _publish(seeded_app, "Bánh pía chưa có mã zzgtincsv", "GTIN-C2")
    client = seeded_app.test_client()
    rows = _csv(client.get("/api/v1/products.csv", query_string={"q": E13, "status": "all"}).data)
    assert [(r["product"], r["gtins"]) for r in rows] == [("Kẹo dừa UPC", f"0{E13} {EAN8.zfill(14)}")]
    rows = _csv(client.get("/api/v1/products.csv", query_string={"q": "zzgtincsv", "status": "all"}).data)
    assert rows[0]["gtins"] == ""
    spec = client.get("/api/v1/openapi.json").get_data(as_text=True)
    assert "`gtins`" in spec
