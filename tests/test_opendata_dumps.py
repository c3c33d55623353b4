"""Bulk downloads at /data/ (issue 17): the whole registry as CSV, XLSX and JSON Lines, written in the
background, served as files with their SHA-256, and kept in step with the registry."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine
from catalogue.jobs.queue import get_huey
from catalogue.opendata import dictionary, manifest, tasks
from catalogue.places.models import Province
from catalogue.registry import merging
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate, Producer, Product
from catalogue.text import spreadsheet_cell
from tests.fixtures.workspace import make_user


def _csv_rows(client: FlaskClient, name: str) -> list[dict[str, str]]:
    response = client.get(f"/data/{name}")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so Excel reads Vietnamese"
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def _jsonl_rows(client: FlaskClient, name: str) -> list[dict[str, Any]]:
    response = client.get(f"/data/{name}")
    assert response.status_code == 200
    return [json.loads(line) for line in gzip.decompress(response.data).decode("utf-8").splitlines()]


def _api_certificates(client: FlaskClient) -> int:
    """Certificates a newcomer finds through the API under status=all, page by page."""
    total, page, seen = 0, 1, 0
    while True:
        answer = client.get(f"/api/v1/products?status=all&per_page=100&page={page}").get_json()
        total += sum(len(item["certificates"]) for item in answer["items"])
        seen += len(answer["items"])
        if seen >= answer["total"] or not answer["items"]:
            return total
        page += 1


@pytest.fixture
def built(seeded_app: Flask) -> Flask:
    assert tasks.regenerate(seeded_app) is not None
    return seeded_app


def test_the_csv_holds_every_certificate_the_api_lists_under_status_all(built: Flask) -> None:
    client = built.test_client()
    rows = _csv_rows(client, "certificates.csv")
    assert len(rows) == _api_certificates(client) > 0
    with built.app_context(), Session(get_engine()) as s:
        ids = set(s.exec(select(Certificate.id)).all())
    assert {int(r["certificate_id"]) for r in rows} == ids
    assert list(rows[0]) == dictionary.CERTIFICATES.names
    assert {r["status"] for r in rows} <= {"valid", "expired", "revoked"}
    assert {r["expiry_basis"] for r in rows} <= {"decision", "policy"}
    assert all(r["product_url"].startswith("http://registry.test/products/") for r in rows)
    # The same rows in the two other formats.
    jsonl = _jsonl_rows(client, "certificates.jsonl.gz")
    assert [j["certificate_id"] for j in jsonl] == [int(r["certificate_id"]) for r in rows]
    book = load_workbook(io.BytesIO(client.get("/data/registry.xlsx").data), read_only=True)
    assert book.sheetnames == [d.name for d in dictionary.DATASETS]
    sheet_rows = list(book["certificates"].iter_rows(values_only=True))
    assert list(sheet_rows[0]) == dictionary.CERTIFICATES.names
    assert len(sheet_rows) - 1 == len(rows)


def test_the_manifest_states_the_size_and_sha256_of_the_bytes_served(built: Flask) -> None:
    client = built.test_client()
    listed = client.get("/data/manifest.json")
    assert listed.status_code == 200
    live = manifest.Manifest.from_json(listed.data)
    names = {f.name for f in live.files}
    assert {"registry.xlsx", "certificates.csv", "certificates.jsonl.gz", "producers.csv", "rounds.csv",
            "fairs.csv", "provinces.csv", "provinces.jsonl.gz", "dictionary.csv"} <= names  # fmt: skip
    assert live.licence == "https://creativecommons.org/licenses/by/4.0/"
    for f in live.files:
        response = client.get(f"/data/{f.name}")
        assert response.status_code == 200, f.name
        assert len(response.data) == f.bytes and hashlib.sha256(response.data).hexdigest() == f.sha256
        assert response.mimetype == f.media_type
        assert response.headers["ETag"] == f'"{f.sha256}"'
        assert "attachment" in response.headers["Content-Disposition"]
        assert client.get(f"/data/{f.name}", headers={"If-None-Match": f'"{f.sha256}"'}).status_code == 304
    book = live.file("registry.xlsx")
    assert book is not None
    assert book.rows == sum(f.rows for f in live.files if f.format == "CSV")


def test_the_workbook_has_a_sheet_per_dataset_and_the_side_files_their_rows(built: Flask) -> None:
    client = built.test_client()
    book = load_workbook(io.BytesIO(client.get("/data/registry.xlsx").data), read_only=True)
    with built.app_context(), Session(get_engine()) as s:
        provinces = s.exec(select(Province)).all()
        producers = s.exec(select(Producer)).all()
    for d in dictionary.DATASETS:
        sheet = list(book[d.name].iter_rows(values_only=True))
        assert list(sheet[0]) == d.names
        assert (
            len(sheet) - 1
            == len(_csv_rows(client, f"{d.name}.csv"))
            == len(_jsonl_rows(client, f"{d.name}.jsonl.gz"))
        )
    rows = _csv_rows(client, "provinces.csv")
    assert len(rows) == len(provinces)
    assert sum(r["is_current"] == "true" for r in rows) == sum(p.valid_to is None for p in provinces)
    by_slug = {r["slug"]: r for r in rows}
    for former in (p for p in provinces if p.successor_id is not None):
        successor = next(p for p in provinces if p.id == former.successor_id)
        assert by_slug[former.slug]["became_part_of_slug"] == successor.slug
    hidden = {p.id for p in producers if not p.contacts_public and (p.phone or p.email)}
    for r in _csv_rows(client, "producers.csv"):
        if int(r["producer_id"]) in hidden:
            assert r["phone"] == r["email"] == r["website"] == ""
    dictionary_rows = _csv_rows(client, "dictionary.csv")
    assert len(dictionary_rows) == sum(len(d.columns) for d in dictionary.DATASETS)
    status = next(r for r in dictionary_rows if (r["dataset"], r["column"]) == ("certificates", "status"))
    assert status["meaning_en"].startswith("valid, expired or revoked")
    assert status["meaning_vi"] and status["meaning_vi"] != status["meaning_en"]


def test_a_revocation_reaches_the_files_at_the_next_tick_and_no_change_writes_nothing(
    seeded_app: Flask, clock: Any
) -> None:
    first = tasks.regenerate(seeded_app)
    assert first is not None
    folder = manifest.live_folder(seeded_app)
    assert tasks.regenerate(seeded_app) is None, "nothing changed: the same generation stays live"
    make_user(seeded_app, "someone@moit.gov.vn", "ministry")  # audited, but nothing the files hold
    assert tasks.regenerate(seeded_app) is None
    assert manifest.live_folder(seeded_app) == folder
    client = seeded_app.test_client()
    valid = next(r for r in _csv_rows(client, "certificates.csv") if r["status"] == "valid")
    with seeded_app.test_request_context("/"), Session(get_engine(), expire_on_commit=False) as s:
        cert = s.get(Certificate, int(valid["certificate_id"]))
        assert cert is not None
        revoke_certificate(s, actor=SYSTEM, certificate=cert, reason="Không còn đạt tiêu chí",
                           reference="12/QĐ-SCT")  # fmt: skip
        s.commit()
    # Batched: a generation younger than BATCH stays; once it is that old, the next tick writes.
    assert tasks.regenerate(seeded_app) is None
    clock.shift(tasks.BATCH)
    tasks.tick_in_app(seeded_app)()
    second = manifest.load(seeded_app)
    assert second is not None and second.generated_at >= first.generated_at
    assert manifest.live_folder(seeded_app) != folder
    assert folder is not None and folder.is_dir(), "the previous generation stays for downloads under way"
    row = next(
        r for r in _csv_rows(client, "certificates.csv") if r["certificate_id"] == valid["certificate_id"]
    )
    assert row["status"] == "revoked" and row["revoked_reason"] == "Không còn đạt tiêu chí"
    assert row["revoked_on"] == row["status_as_of"]
    # A third generation: only the live one and the one before it are kept.
    assert tasks.regenerate(seeded_app, force=True) is not None
    assert not folder.exists()
    kept = [p for p in manifest.root(seeded_app).iterdir() if p.is_dir()]
    assert len(kept) == 2


def test_a_new_day_rewrites_the_files_so_statuses_stay_as_of_today(seeded_app: Flask, clock: Any) -> None:
    first = tasks.regenerate(seeded_app)
    assert first is not None and tasks.regenerate(seeded_app) is None
    clock.shift(timedelta(days=1))
    second = tasks.regenerate(seeded_app)
    assert second is not None
    rows = _csv_rows(seeded_app.test_client(), "certificates.csv")
    assert {r["status_as_of"] for r in rows} == {"2026-06-16"}


def test_a_second_writer_skips_its_turn(seeded_app: Flask) -> None:
    with tasks.writer_lock(seeded_app) as held:
        assert held
        assert tasks.regenerate(seeded_app) is None
    assert manifest.load(seeded_app) is None
    assert tasks.regenerate(seeded_app) is not None


def test_spreadsheet_formulas_are_neutralised_and_json_keeps_the_text(seeded_app: Flask) -> None:
    with seeded_app.app_context(), Session(get_engine()) as s:
        producer = s.exec(select(Producer).order_by(col(Producer.id))).first()
        assert producer is not None
        producer.name = '=HYPERLINK("http://evil.example")'
        s.add(producer)
        s.commit()
        pid = producer.id
    assert tasks.regenerate(seeded_app) is not None
    client = seeded_app.test_client()
    row = next(r for r in _csv_rows(client, "producers.csv") if r["producer_id"] == str(pid))
    assert row["name"].startswith("'=")
    sheet = load_workbook(io.BytesIO(client.get("/data/registry.xlsx").data))["producers"]
    (cell,) = [r[2] for r in sheet.iter_rows(min_row=2) if r[0].value == pid]
    # Text in the workbook, never a formula, and as written.
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://evil.example")'
    line = next(j for j in _jsonl_rows(client, "producers.jsonl.gz") if j["producer_id"] == pid)
    assert line["name"] == '=HYPERLINK("http://evil.example")'


def test_the_page_lists_the_files_in_both_languages(built: Flask) -> None:
    client = built.test_client()
    live = manifest.load(built)
    assert live is not None
    vi = client.get("/data/?lang=vi")
    en = client.get("/data/?lang=en")
    assert vi.status_code == en.status_code == 200
    for page in (vi, en):
        html = page.get_data(as_text=True)
        for f in live.files:
            assert f'href="/data/{f.name}"' in html and f.sha256 in html
        assert "https://creativecommons.org/licenses/by/4.0/" in html
        assert f"/api/v1/changes?since={live.changes_cursor}" in html
        assert len(page.data) < 60_000
    assert "Keeping a copy in step" in en.get_data(as_text=True)
    assert "Keeping a copy in step" not in vi.get_data(as_text=True)
    assert 'lang="vi"' in vi.get_data(as_text=True)
    dictionary_page = client.get("/data/dictionary?lang=en").get_data(as_text=True)
    assert all(c.name in dictionary_page for d in dictionary.DATASETS for c in d.columns)


def test_before_the_first_files_the_page_says_they_are_being_prepared(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    page = client.get("/data/?lang=en")
    assert page.status_code == 200
    assert "being prepared" in page.get_data(as_text=True)
    assert client.get("/data/certificates.csv").status_code == 404


@pytest.mark.parametrize("name", ["nothing.csv", "..%2Fcatalogue.sqlite3", "../catalogue.sqlite3",
                                  "%2E%2E%2Fsecrets.json", "CURRENT", ".lock", "secrets.json"])  # fmt: skip
def test_only_the_listed_files_are_served(built: Flask, name: str) -> None:
    assert built.test_client().get(f"/data/{name}").status_code == 404


def test_the_job_worker_checks_every_minute_and_the_command_writes_now(seeded_app: Flask) -> None:
    huey = get_huey(seeded_app)
    for minute in (5, 7, 59):  # every minute: a slot the consumer looks past is never the only one
        assert "opendata" in {t.name for t in huey.read_periodic(datetime(2026, 6, 15, 2, minute))}
    result = seeded_app.test_cli_runner().invoke(args=["opendata", "build"])
    assert result.exit_code == 0, result.output
    assert "certificates.csv" in result.output and "registry.xlsx" in result.output
    result = seeded_app.test_cli_runner().invoke(args=["opendata", "build", "--if-changed"])
    assert result.exit_code == 0 and "nothing written" in result.output


def test_a_merged_duplicates_certificates_belong_to_the_survivor(seeded_app: Flask) -> None:
    with seeded_app.test_request_context("/"), Session(get_engine(), expire_on_commit=False) as s:
        products = s.exec(select(Product).order_by(col(Product.id))).all()
        survivor, duplicate = next(
            (a, b) for a in products for b in products
            if a.id != b.id and a.province_id == b.province_id and a.producer_id == b.producer_id
        )  # fmt: skip
        moved = {c.id for c in s.exec(select(Certificate).where(Certificate.product_id == duplicate.id))}
        seen = merging.preview(s, actor=SYSTEM, kind="product", survivor=survivor, duplicate=duplicate)
        merging.merge(s, actor=SYSTEM, kind="product", survivor=survivor, duplicate=duplicate,
                      token=seen.token, fill_blanks=False)  # fmt: skip
        s.commit()
    assert tasks.regenerate(seeded_app) is not None
    rows = _csv_rows(seeded_app.test_client(), "certificates.csv")
    assert str(duplicate.id) not in {r["product_id"] for r in rows}
    assert moved and all(
        r["product_id"] == str(survivor.id) for r in rows if int(r["certificate_id"]) in moved
    )


def test_phone_numbers_keep_their_plus_and_formulas_do_not_run() -> None:
    assert spreadsheet_cell("+84 912 345 678") == "+84 912 345 678"
    assert spreadsheet_cell("-5") == "-5"
    assert spreadsheet_cell("+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0"
    assert spreadsheet_cell("=1+2") == "'=1+2" and spreadsheet_cell("@SUM(A1)") == "'@SUM(A1)"


def test_the_same_registry_on_the_same_day_makes_the_same_bytes(seeded_app: Flask, clock: Any) -> None:
    """A mirror that compares SHA-256 sums fetches only what changed."""
    first = tasks.regenerate(seeded_app, force=True)
    clock.shift(timedelta(hours=1))
    second = tasks.regenerate(seeded_app, force=True)
    assert first is not None and second is not None
    assert {f.name: f.sha256 for f in first.files} == {f.name: f.sha256 for f in second.files}
