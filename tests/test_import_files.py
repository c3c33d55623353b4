"""Reading decision spreadsheets: formats, encodings, headers, and clear refusals."""

from __future__ import annotations

import codecs
import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook

from catalogue.imports.bounds import ImportFileError
from catalogue.imports.files import read_table
from catalogue.imports.template import template_xlsx
from tests.fixtures.workspace import HEADERS, cp1258, csv_text, row, xlsx_bytes

VI_ROW = row(1, product="Nước mắm Phú Quốc đặc biệt", producer="Cơ sở Hưng Thịnh", province="Đồng Tháp")


def _only(data: bytes) -> dict:
    table = read_table(data)
    assert len(table.rows) == 1
    return table.rows[0][1]


def test_xlsx_first_sheet_with_title_lines_above_the_header() -> None:
    table = read_table(xlsx_bytes([row(1), row(2)], title="DANH SÁCH SẢN PHẨM CNNT TIÊU BIỂU NĂM 2025"))
    assert table.header_line == 3
    assert [line for line, _ in table.rows] == [4, 5]
    assert table.rows[0][1]["certificate_number"] == "TEST-00001/GCN-SCT"


def test_csv_utf8_with_and_without_bom_read_the_same() -> None:
    text = csv_text([VI_ROW])
    plain = _only(text.encode("utf-8"))
    with_bom = _only(codecs.BOM_UTF8 + text.encode("utf-8"))
    assert plain == with_bom
    assert plain["product"] == "Nước mắm Phú Quốc đặc biệt"


def test_csv_utf16_excel_unicode_text_is_read() -> None:
    # Excel's "Unicode text" export: UTF-16 with BOM, tab-separated.
    data = csv_text([VI_ROW], delimiter="\t").encode("utf-16")
    assert _only(data)["province"] == "Đồng Tháp"
    # and without a BOM
    assert _only(csv_text([VI_ROW]).encode("utf-16-le"))["producer"] == "Cơ sở Hưng Thịnh"


def test_csv_windows_1258_decodes_to_composed_vietnamese() -> None:
    data = cp1258(csv_text([VI_ROW], delimiter=";"))
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    values = _only(data)
    assert values["product"] == "Nước mắm Phú Quốc đặc biệt"  # NFC, equal to the typed text
    assert read_table(data).encoding == "cp1258"


def test_excel_numeric_dates_and_datetime_cells() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    values = [row(1)[k] for k in ("product", "producer", "kind", "locality", "province", "group", "level")]
    sheet.append([*values, None, 2025, "N-1", datetime(2025, 8, 15), 46614, "1/QĐ", None, None])
    out = io.BytesIO()
    book.save(out)
    got = _only(out.getvalue())
    assert got["issued_on"] == "2025-08-15"
    assert got["expires_on"] == 46614  # parsed later by rows.parse_date as an Excel serial


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 600, ".xls"),
        (b"%PDF-1.7\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f" * 50, "neither"),
        ("Tên,Giá\nA,1\n".encode(), "No header row"),
        (b"PK\x03\x04broken", "damaged"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_message(data: bytes, words: str) -> None:
    with pytest.raises(ImportFileError) as exc:
        read_table(data)
    assert words in str(exc.value)


def test_zip_that_is_not_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", b"x")
    with pytest.raises(ImportFileError, match="not an Excel workbook"):
        read_table(out.getvalue())


def test_missing_required_columns_are_named() -> None:
    data = "Tên sản phẩm,Tên cơ sở,Tỉnh/Thành phố,Cấp\nA,B,Huế,tỉnh\n".encode()
    with pytest.raises(ImportFileError) as exc:
        read_table(data)
    message = str(exc.value)
    assert "Nhóm sản phẩm" in message and "Số giấy chứng nhận" in message and "Năm" in message


def test_header_only_file_says_there_are_no_rows() -> None:
    with pytest.raises(ImportFileError, match="no product rows"):
        read_table(xlsx_bytes([]))


def test_too_large_file_is_refused() -> None:
    with pytest.raises(ImportFileError, match="too large"):
        read_table(b"a" * (10 * 1024 * 1024 + 1))


def test_english_headers_and_unknown_columns() -> None:
    data = (
        "product,producer,province,category,level,year,certificate_number,Ghi chú\n"
        "Trà,HTX,Huế,khác,tỉnh,2025,X-1,ghi chú nội bộ\n"
    ).encode()
    table = read_table(data)
    assert table.ignored == ["Ghi chú"]
    assert table.rows[0][1]["province"] == "Huế"


def test_template_is_readable_and_its_example_row_is_marked() -> None:
    from catalogue.places.services import Provinces

    data = template_xlsx(Provinces([]))
    table = read_table(data)
    assert [h for h in table.columns.values() if h in HEADERS] == HEADERS  # the fixtures' columns, in order
    assert "Ngày quyết định" in table.columns.values()  # the decision's date: its date warnings need it
    assert not table.ignored
    assert table.rows[0][1]["product"].startswith("VÍ DỤ")


def test_every_row_of_a_long_sheet_is_read() -> None:
    # How fast 5,000 rows are read is measured by bench/imports.py (make bench-import).
    n = 1200
    table = read_table(xlsx_bytes([row(i) for i in range(n)]))
    assert len(table.rows) == n
    assert [line for line, _ in table.rows] == list(range(2, n + 2))
