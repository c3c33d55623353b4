"""Label runs' PDF sheets: every printed QR decodes (zbar) to its serial's URL, the text reads back."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import pypdfium2 as pdfium
import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfbase.ttfonts import TTFont

from catalogue.label_runs import sheets
from catalogue.registry.catalog import verify_url
from catalogue.verification import qr
from catalogue.verification.serial_codes import serial_codes
from tests.conftest import REQUIRE_BROWSER, VERIFY_KEYS

BASE = "http://registry.test"
RUN_ID = 42
PRODUCT = "Bánh chưng Tranh Khúc"
DPI = 300


def _zbar() -> Callable[[Image.Image], list[str]]:
    try:
        from pyzbar.pyzbar import ZBarSymbol, decode
    except ImportError as exc:  # libzbar0 missing: skip on a laptop, fail in CI
        if REQUIRE_BROWSER:
            raise
        pytest.skip(f"zbar decoder not installed ({exc})")
    return lambda image: [s.data.decode() for s in decode(image, symbols=[ZBarSymbol.QRCODE])]


def _labels(first: int, last: int) -> Iterator[tuple[int, str]]:
    codes = serial_codes(VERIFY_KEYS, "a", RUN_ID, first, last)
    for serial, code in enumerate(codes, start=first):
        url = verify_url(BASE, code)
        assert url is not None
        yield serial, url


def _heading(first: int, last: int) -> sheets.SheetHeading:
    return sheets.SheetHeading(
        product_name=PRODUCT, producer_name="HTX Bánh chưng Tranh Khúc", certificate_number="12/QĐ-UBND",
        run_id=RUN_ID, first=first, last=last,
    )  # fmt: skip


@pytest.fixture
def vi(app: Flask) -> Iterator[None]:
    with app.app_context(), force_locale("vi"):
        yield


def _render(first: int, last: int, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    drawn = sheets.write_sheets(
        out, _labels(first, last), heading=_heading(first, last), total=last - first + 1, **kwargs
    )
    assert drawn == last - first + 1
    return out.getvalue()


def test_every_qr_on_the_sheets_decodes_to_its_serials_url(vi: None) -> None:
    decode = _zbar()
    first, last = 101, 101 + sheets.PER_PAGE + 4  # a full page and five labels on the next
    pdf = pdfium.PdfDocument(_render(first, last))
    assert len(pdf) == 2
    expected = dict(_labels(first, last))
    scale = DPI / 72
    found: dict[int, str] = {}
    for page_no in range(len(pdf)):
        page = pdf[page_no].render(scale=scale, grayscale=True).to_pil()
        for slot in range(sheets.PER_PAGE):
            serial = first + page_no * sheets.PER_PAGE + slot
            if serial > last:
                break
            col, row = slot % sheets.COLUMNS, slot // sheets.COLUMNS
            x = sheets.LEFT + col * sheets.PITCH_X
            y = sheets.TOP + row * sheets.PITCH_Y
            box = (x, y, x + sheets.LABEL_H + 2 * mm, y + sheets.LABEL_H)  # the label's QR half
            cell = page.crop(tuple(round(v * scale) for v in box))
            padded = Image.new("L", (cell.width + 80, cell.height + 80), 255)
            padded.paste(cell, (40, 40))
            (found[serial],) = decode(padded)
    assert found == expected


def test_text_reads_back_in_vietnamese_with_serials_and_page_headers(vi: None) -> None:
    first, last = 1, 70
    data = _render(first, last)
    pdf = pdfium.PdfDocument(data)
    pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    first_page, second_page = pages
    assert PRODUCT in first_page.replace("\r\n", " ").replace("\n", " ")
    assert "HTX Bánh chưng Tranh Khúc" in first_page
    assert "12/QĐ-UBND" in first_page
    assert sheets.serial_text(1) in first_page and sheets.serial_text(65) in first_page
    assert sheets.serial_text(66) not in first_page and sheets.serial_text(70) in second_page
    assert sheets.serial_text(7).endswith("000007")
    assert "registry.test" in first_page
    for page_no, text in enumerate(pages, start=1):
        assert gettext("Run %(id)s", id=RUN_ID) in text and "1–70" in text
        assert gettext("Page %(num)s of %(total)s", num=page_no, total=2) in text
    assert b"SourceSansPro" in data  # the Vietnamese font is embedded, not substituted


def test_progress_is_reported_about_every_hundred_labels(vi: None) -> None:
    calls: list[tuple[int, int]] = []
    _render(1, 201, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(100, 201), (200, 201), (201, 201)]


def test_a_range_over_the_maximum_is_refused(vi: None) -> None:
    assert sheets.MAX_RANGE == 5_000
    with pytest.raises(ValueError):
        sheets.write_sheets(
            io.BytesIO(), _labels(1, 2), heading=_heading(1, sheets.MAX_RANGE + 1), total=sheets.MAX_RANGE + 1
        )
    with pytest.raises(ValueError):  # the header's "page x of y" must not lie
        sheets.write_sheets(io.BytesIO(), _labels(1, 3), heading=_heading(1, 4), total=4)


def test_symbols_differ_from_the_verification_qr_images_only_in_their_mask() -> None:
    """Same segments, level Q and quiet zone as ``/v/<code>/qr.svg``; the label's fixed mask saves time."""
    for code in list(serial_codes(VERIFY_KEYS, "a", RUN_ID, 1, 20)):
        url = f"{BASE}/v/{code}"
        fixed, searched = qr.matrix(url, mask_pattern=sheets.LABEL_MASK), qr.matrix(url)
        assert len(fixed) == len(searched)
        assert fixed == qr.matrix(url, mask_pattern=sheets.LABEL_MASK)  # the same every time


def test_the_font_has_every_vietnamese_letter() -> None:
    letters = "aàáảãạăằắẳẵặâầấẩẫậdđeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
    files = resources.files("font_source_sans_pro") / "files"
    for filename in ("SourceSansPro-Regular.ttf", "SourceSansPro-Semibold.ttf"):
        with resources.as_file(files / filename) as path:
            cmap = TTFont("probe", str(path)).face.charToGlyph
        assert [c for c in letters + letters.upper() + "…–·—" if ord(c) not in cmap] == []
