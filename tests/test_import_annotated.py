"""The dry run as the official's own file: every problem on its cell, fixed there, uploaded again."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session, select

from catalogue.db import get_engine
from catalogue.imports import annotated
from catalogue.imports.bounds import MAX_COLUMNS
from catalogue.imports.files import PROBLEMS_HEADER, read_table
from catalogue.registry.models import ImportBatch, Product
from tests.fixtures.workspace import HEADERS, KEYS, csv_text, post, row, signed_in, upload, xlsx_bytes

LEVEL = HEADERS.index("Cấp") + 1  # column G
ISSUED = HEADERS.index("Ngày cấp") + 1  # column K
PROBLEMS = len(HEADERS) + 1  # column P, after the official's last column
BAD_LEVEL = "Cấp “cấp ấp” không hợp lệ"
BAD_DATE = "“31/02/2025” không phải ngày hợp lệ"


@pytest.fixture
def official(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")


def _rows() -> list[dict[str, Any]]:
    """Rows 2 and 5 correct; row 3 has a bad level, row 4 an impossible issue date."""
    return [row(11), row(12, level="cấp ấp"), row(13, issued="31/02/2025"), row(14)]


def _upload(client: FlaskClient, data: bytes, filename: str) -> str:
    response = upload(client, data, filename)
    assert response.status_code == 302, response.get_data(as_text=True)
    return str(response.headers["Location"])


def _download(client: FlaskClient, batch_url: str) -> Worksheet:
    response = client.get(batch_url + "/marked.xlsx")
    assert response.status_code == 200, response.headers
    assert response.mimetype == annotated.XLSX_MIMETYPE
    assert "no-store" in response.headers["Cache-Control"]
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    return sheet


def _filled(sheet: Worksheet) -> dict[str, str]:
    return {
        cell.coordinate: str(cell.fill.fgColor.rgb)
        for line in sheet.iter_rows()
        for cell in line
        if cell.fill is not None and cell.fill.fill_type == "solid"
    }


def _commented(sheet: Worksheet) -> dict[str, str]:
    return {cell.coordinate: cell.comment.text for line in sheet.iter_rows() for cell in line if cell.comment}


def _kept_files(app: Flask) -> list[str]:
    folder = Path(app.config["SETTINGS"].CATALOGUE_DATA_DIR) / "jobs"
    return sorted(p.name for p in folder.glob("batch-*")) if folder.exists() else []


def test_marked_xlsx_round_trip_publishes(seeded_app: Flask, official: FlaskClient) -> None:
    batch_url = _upload(official, xlsx_bytes(_rows()), "qd-45.xlsx")
    page = official.get(batch_url).get_data(as_text=True)
    assert "marked.xlsx" in page

    sheet = _download(official, batch_url)
    problems = sheet.cell(row=1, column=PROBLEMS)
    assert problems.value == PROBLEMS_HEADER
    assert _filled(sheet) == {
        "G3": annotated.ERROR_FILL,
        "K4": annotated.ERROR_FILL,
        "P3": annotated.ERROR_FILL,
        "P4": annotated.ERROR_FILL,
    }
    comments = _commented(sheet)
    assert set(comments) == {"G3", "K4", "P1"}
    assert BAD_LEVEL in comments["G3"] and BAD_DATE not in comments["G3"]
    assert BAD_DATE in comments["K4"] and BAD_LEVEL not in comments["K4"]
    assert ": 2;" in comments["P1"]  # the header's note counts the rows with errors
    assert BAD_LEVEL in str(sheet["P3"].value) and "Cấp" in str(sheet["P3"].value)
    assert BAD_DATE in str(sheet["P4"].value) and "Ngày cấp" in str(sheet["P4"].value)
    assert sheet["P2"].value is None and sheet["P5"].value is None
    # The official's values are where they were.
    assert sheet["A2"].value == "Chè Shan tuyết thử nghiệm 11" and sheet["G3"].value == "cấp ấp"

    # Fixed where they work, in the downloaded workbook itself.
    sheet["G3"] = "tỉnh"
    sheet["K4"] = "15/08/2025"
    out = io.BytesIO()
    assert sheet.parent is not None
    sheet.parent.save(out)
    fixed = out.getvalue()
    with seeded_app.test_request_context():
        table = read_table(fixed)
    assert table.ignored == []  # the problems column is read past, silently

    batch_url = _upload(official, fixed, "qd-45.xlsx")
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "Ready to publish" in page and "All 4 rows are correct" in page
    assert "marked.xlsx" not in page  # nothing to mark: no download offered
    assert official.get(batch_url + "/marked.xlsx").status_code == 302
    response = post(official, batch_url + "/publish", {}, token_from=batch_url)
    assert response.status_code == 302
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        names = {f"Chè Shan tuyết thử nghiệm {n}" for n in (11, 12, 13, 14)}
        products = s.exec(select(Product).where(Product.name.in_(names))).all()  # type: ignore[attr-defined]
        assert len(products) == 4
        states = sorted(s.exec(select(ImportBatch.state)).all())
        assert states == ["discarded", "published"]
    public = seeded_app.test_client().get(f"/products/{products[0].slug}")
    assert public.status_code == 200
    assert _kept_files(seeded_app) == []  # nothing of the official's file stays once published


def test_a_partly_fixed_file_is_marked_afresh(official: FlaskClient) -> None:
    batch_url = _upload(official, xlsx_bytes(_rows()), "qd.xlsx")
    sheet = _download(official, batch_url)
    sheet["G3"] = "tỉnh"  # only the level fixed; the date is still wrong
    out = io.BytesIO()
    assert sheet.parent is not None
    sheet.parent.save(out)

    batch_url = _upload(official, out.getvalue(), "qd.xlsx")
    sheet = _download(official, batch_url)
    # The fixed cell lost its old mark; one problems column, not two.
    assert _filled(sheet) == {"K4": annotated.ERROR_FILL, "P4": annotated.ERROR_FILL}
    assert set(_commented(sheet)) == {"K4", "P1"}
    assert sheet["P3"].value is None and sheet.cell(row=1, column=PROBLEMS + 1).value is None


def test_csv_upload_comes_back_as_a_marked_workbook(official: FlaskClient) -> None:
    rows = [row(21, description='=HYPERLINK("http://evil.example")'), row(22, level="cấp ấp")]
    batch_url = _upload(official, csv_text(rows).encode("utf-8"), "danh-sach.csv")
    sheet = _download(official, batch_url)
    assert [c.value for c in sheet[1]][: len(HEADERS)] == HEADERS
    assert sheet["A2"].value == "Chè Shan tuyết thử nghiệm 21" and sheet["G3"].value == "cấp ấp"
    # A value that looks like a formula stays the official's text, never a live formula.
    formula_like = sheet.cell(row=2, column=HEADERS.index("Mô tả") + 1)
    assert formula_like.value == '=HYPERLINK("http://evil.example")' and formula_like.data_type == "s"
    assert _filled(sheet) == {"G3": annotated.ERROR_FILL, "P3": annotated.ERROR_FILL}
    assert BAD_LEVEL in _commented(sheet)["G3"]


def test_warnings_are_marked_amber(official: FlaskClient) -> None:
    # A producer kind outside the list is kept as printed, with a warning: amber, not red.
    batch_url = _upload(official, xlsx_bytes([row(31), row(32, kind="Tổ hợp lạ")]), "qd.xlsx")
    sheet = _download(official, batch_url)
    kind = HEADERS.index("Loại hình cơ sở") + 1
    cell = sheet.cell(row=3, column=kind)
    assert _filled(sheet) == {cell.coordinate: annotated.WARNING_FILL, "P3": annotated.WARNING_FILL}
    assert "Tổ hợp lạ" in _commented(sheet)[cell.coordinate]


def test_discarding_removes_the_kept_files(seeded_app: Flask, official: FlaskClient) -> None:
    batch_url = _upload(official, xlsx_bytes(_rows()), "qd.xlsx")
    assert _kept_files(seeded_app) == ["batch-1.marked.xlsx", "batch-1.upload"]
    post(official, batch_url + "/discard", {}, token_from=batch_url)
    assert _kept_files(seeded_app) == []
    assert official.get(batch_url + "/marked.xlsx").status_code == 302


def test_download_permission_walk(seeded_app: Flask, official: FlaskClient) -> None:
    batch_url = _upload(official, xlsx_bytes(_rows()), "qd.xlsx")
    path = batch_url + "/marked.xlsx"

    anonymous = seeded_app.test_client().get(path)
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    other = signed_in(seeded_app, "hue@so.gov.vn", "province", "Huế")
    refused = other.get(path)
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert official.get(path).status_code == 200
    ministry = signed_in(seeded_app, "cuc@moit.gov.vn", "ministry")
    assert ministry.get(path).status_code == 200
    assert _kept_files(seeded_app) == ["batch-1.marked.xlsx", "batch-1.upload"]  # nothing changed


def test_preview_says_when_the_marks_are_older_than_its_check(
    seeded_app: Flask, official: FlaskClient
) -> None:
    batch_url = _upload(official, xlsx_bytes(_rows()), "qd.xlsx")
    assert "registry has changed since" not in official.get(batch_url + "?lang=en").get_data(as_text=True)
    # Meanwhile Huế publishes a product of the same name as row 2: the page's check now warns.
    hue = signed_in(seeded_app, "hue@so.gov.vn", "province", "Huế")
    other = _upload(hue, xlsx_bytes([row(11, province="Huế", number="HUE-1")]), "hue.xlsx")
    post(hue, other + "/publish", {}, token_from=other)
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "registry has changed since" in page and "marked.xlsx" in page


def test_the_officials_workbook_is_kept_whole(official: FlaskClient) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Danh sách"
    sheet["A1"] = "DANH SÁCH SẢN PHẨM CNNT TIÊU BIỂU CẤP TỈNH NĂM 2025"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells("A1:O1")
    sheet.append([])
    sheet.append(HEADERS)
    for r in (row(41), row(42, level="cấp ấp")):
        sheet.append([r[k] for k in KEYS])
    sheet.column_dimensions["A"].width = 42
    notes = book.create_sheet("Ghi chú")
    notes["A1"] = "Ghi chú nội bộ của Sở"
    out = io.BytesIO()
    book.save(out)

    batch_url = _upload(official, out.getvalue(), "qd.xlsx")
    marked = _download(official, batch_url)
    book = marked.parent
    assert book is not None and book.sheetnames == ["Danh sách", "Ghi chú"]
    assert book["Ghi chú"]["A1"].value == "Ghi chú nội bộ của Sở"
    assert "A1:O1" in {str(r) for r in marked.merged_cells.ranges}
    assert marked["A1"].font.bold and marked.column_dimensions["A"].width == 42
    # The header is on row 3, the bad row on row 5: the marks follow the sheet's own rows.
    assert marked.cell(row=3, column=PROBLEMS).value == PROBLEMS_HEADER
    assert _filled(marked) == {"G5": annotated.ERROR_FILL, "P5": annotated.ERROR_FILL}
    assert BAD_LEVEL in _commented(marked)["G5"]


def test_a_table_as_wide_as_allowed_still_comes_back(official: FlaskClient) -> None:
    # 64 columns is the most the reader takes: the problems go in comments and fills only,
    # and the header's note moves to the first header cell, so the marked file is accepted again.
    extra = [f"Ghi chú {i}" for i in range(MAX_COLUMNS - len(HEADERS))]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS + extra)
    for r in (row(51), row(52, level="cấp ấp")):
        sheet.append([r[k] for k in KEYS] + ["x"] * len(extra))
    out = io.BytesIO()
    book.save(out)

    batch_url = _upload(official, out.getvalue(), "rong.xlsx")
    marked = _download(official, batch_url)
    assert marked.max_column == MAX_COLUMNS
    assert _filled(marked) == {"G3": annotated.ERROR_FILL}
    assert set(_commented(marked)) == {"A1", "G3"}
    marked["G3"] = "tỉnh"
    out = io.BytesIO()
    assert marked.parent is not None
    marked.parent.save(out)
    again = _upload(official, out.getvalue(), "rong.xlsx")
    assert "Ready to publish" in official.get(again + "?lang=en").get_data(as_text=True)
