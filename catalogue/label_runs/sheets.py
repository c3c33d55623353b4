"""Print-ready A4 PDF label sheets for one serial range of a label run (at most 5,000 labels).

The grid is the common 65-up stock (5 columns × 13 rows of 38.1 × 21.2 mm labels,
10.7 mm top and 4.7 mm side margins, 2.5 mm between columns: Avery L7651 and its
equivalents), which also prints and cuts well on plain paper in an office printer.
Each label holds its QR code as vector rectangles (one per horizontal run of dark
modules, in module units: a label costs under 1 KB compressed), the serial, the
product name and the short domain; each page has a header line naming the range.

Text is set in Source Sans Pro (the ``font-source-sans-pro`` wheel, OFL): it has every
precomposed Vietnamese letter, installs from PyPI with no system package, and is
narrow enough for a product name in a 16 mm column. ReportLab embeds the used
glyphs only.

The QR symbols are :func:`catalogue.verification.qr.matrix`'s (same segments, level Q,
quiet zone) with one fixed mask, :data:`LABEL_MASK`: qrcode's search for the best of
eight masks is most of a symbol's time, and any mask is valid ISO 18004 that readers
decode (the tests decode every label with zbar). 5,000 labels take about 14 s and make
a 2.5 MB file (77 pages).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import IO

import numpy as np
from flask_babel import gettext
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from catalogue.i18n import fmt_number
from catalogue.label_runs.runs import SHEET_RANGE
from catalogue.text import nfc
from catalogue.verification import qr
from catalogue.verification.serial_codes import printed_serial

#: The QR mask of every label (see the module docstring).
LABEL_MASK = 2
#: The most labels one file may hold (a run is downloaded range by range).
MAX_RANGE = SHEET_RANGE

PAGE_W, PAGE_H = A4
COLUMNS, ROWS = 5, 13
PER_PAGE = COLUMNS * ROWS
LABEL_W, LABEL_H = 38.1 * mm, 21.2 * mm
LEFT, TOP = 4.7 * mm, 10.7 * mm
PITCH_X, PITCH_Y = 40.6 * mm, 21.2 * mm
#: QR module size: as large as the label's height allows, at most 0.5 mm, never under 0.45 mm.
MODULE_MAX, MODULE_MIN = 0.5 * mm, 0.45 * mm
#: Where the QR (its quiet zone included) starts inside a label, and the text column's right padding.
QR_INSET, TEXT_PAD = 0.6 * mm, 1.0 * mm

REGULAR, SEMIBOLD = "SourceSansPro", "SourceSansPro-Semibold"
_FONT_FILES = {REGULAR: "SourceSansPro-Regular.ttf", SEMIBOLD: "SourceSansPro-Semibold.ttf"}
ELLIPSIS = "…"


@dataclass(frozen=True)
class SheetHeading:
    """What every page's header line names (the run's certificate and the file's range)."""

    product_name: str
    producer_name: str | None
    certificate_number: str | None
    run_id: int
    first: int
    last: int


def write_sheets(
    out: IO[bytes],
    labels: Iterable[tuple[int, str]],
    *,
    heading: SheetHeading,
    progress: Callable[[int, int], None] | None = None,
    total: int,
) -> int:
    """Draw ``total`` labels, given as ``(serial, url)`` pairs, as an A4 PDF into ``out``.

    Raises ValueError for more than :data:`MAX_RANGE` labels, or when ``labels`` does not
    hold exactly ``total`` (the header's "page x of y" is counted from it). Returns
    how many labels were drawn; ``progress(done, total)`` is called every 100.
    """
    if not 1 <= total <= MAX_RANGE:
        raise ValueError(f"a sheet file holds from 1 to {MAX_RANGE} labels, not {total}")
    _register_fonts()
    pages = math.ceil(total / PER_PAGE)
    product = nfc(heading.product_name)
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{product} · {_range_text(heading)}")
    canvas.setCreator("catalogue")
    product_lines: list[str] | None = None
    done = 0
    for serial, url in labels:
        if done == total:
            raise ValueError("more labels than the total")
        slot = done % PER_PAGE
        if slot == 0:
            if done:
                canvas.showPage()
            _draw_header(canvas, heading, done // PER_PAGE + 1, pages)
        col, row = slot % COLUMNS, slot // COLUMNS
        x = LEFT + col * PITCH_X
        y = PAGE_H - TOP - row * PITCH_Y - LABEL_H
        text_x = _draw_qr(canvas, qr.matrix(url, mask_pattern=LABEL_MASK), x, y)
        width = x + LABEL_W - TEXT_PAD - text_x
        if product_lines is None:  # every label of a run names the same product
            product_lines = _wrap(product, REGULAR, 6.5, width, 3)
        host = url.split("://", 1)[-1].split("/", 1)[0]
        _draw_text(canvas, text_x, y, width, serial, product_lines, _domain_lines(host, width))
        done += 1
        if progress is not None and done % 100 == 0:
            progress(done, total)
    if done != total:
        raise ValueError(f"{done} labels given for a total of {total}")
    canvas.showPage()
    canvas.save()
    if progress is not None and done % 100:
        progress(done, total)
    return done


def _range_text(heading: SheetHeading) -> str:
    first, last = fmt_number(heading.first), fmt_number(heading.last)
    return gettext("Serials %(first)s–%(last)s", first=first, last=last)


def serial_text(serial: int) -> str:
    """The serial as printed on its label ("Số 000123")."""
    return gettext("No. %(serial)s", serial=printed_serial(serial))


def _draw_header(canvas: Canvas, heading: SheetHeading, page: int, pages: int) -> None:
    size = 7.0
    parts = [
        gettext("Certificate %(n)s", n=nfc(heading.certificate_number))
        if heading.certificate_number
        else None,
        gettext("Run %(id)s", id=heading.run_id),
        _range_text(heading),
        gettext("Page %(num)s of %(total)s", num=page, total=pages),
    ]
    right = " · ".join(p for p in parts if p)
    y = PAGE_H - 6.5 * mm
    canvas.setFillGray(0)
    canvas.setFont(REGULAR, size)
    canvas.drawRightString(PAGE_W - LEFT, y, right)
    left = nfc(heading.product_name)
    if heading.producer_name:
        left += " — " + nfc(heading.producer_name)
    room = PAGE_W - 2 * LEFT - pdfmetrics.stringWidth(right, REGULAR, size) - 4 * mm
    canvas.setFont(SEMIBOLD, size)
    canvas.drawString(LEFT, y, _fit(left, SEMIBOLD, size, room))


def _draw_qr(canvas: Canvas, rows: list[list[bool]], x: float, y: float) -> float:
    """Fill the dark runs of ``rows`` at the label's left, centred vertically; returns where
    the text column starts (after the QR's quiet zone)."""
    n = len(rows)
    module = min(MODULE_MAX, LABEL_H / n)
    if module < MODULE_MIN:
        # Up to two modules of the quiet zone may fall beyond the label's edge (onto the
        # neighbour's blank quiet zone or the margin); a longer URL cannot print legibly.
        if n * MODULE_MIN > LABEL_H + 4 * MODULE_MIN:
            raise ValueError("the verification URL is too long for a label's QR code")
        module = MODULE_MIN
    top = y + (LABEL_H + n * module) / 2
    left = x + QR_INSET
    grid = np.asarray(rows, dtype=np.int8)
    ys, xs = np.nonzero(np.diff(grid, axis=1, prepend=0, append=0))
    # Per row, starts (+1) and ends (-1) alternate, so pairs are (start, end) of one run.
    runs = zip(ys[0::2].tolist(), xs[0::2].tolist(), xs[1::2].tolist(), strict=True)
    ops = [f"{a} {r} {b - a} 1 re" for r, a, b in runs]
    canvas.saveState()
    canvas.setFillGray(0)
    canvas.transform(module, 0, 0, -module, left, top)
    canvas.addLiteral(" ".join(ops) + " f")
    canvas.restoreState()
    return left + n * module


def _draw_text(
    canvas: Canvas, x: float, y: float, width: float, serial: int, product: list[str], domain: list[str]
) -> None:
    top = y + LABEL_H
    canvas.setFont(SEMIBOLD, 8)
    canvas.drawString(x, top - 10, _fit(serial_text(serial), SEMIBOLD, 8, width))
    canvas.setFont(REGULAR, 6.5)
    for i, line in enumerate(product):
        canvas.drawString(x, top - 19 - i * 7.5, line)
    canvas.setFont(REGULAR, 5.5)
    for i, line in enumerate(reversed(domain)):
        canvas.drawString(x, y + 4.5 + i * 6, line)


@functools.lru_cache(maxsize=8)
def _domain_lines(host: str, width: float) -> list[str]:
    """The host a reader would type (``www.`` dropped), broken after a dot when it is too wide."""
    host = host.removeprefix("www.")
    size = 5.5
    if pdfmetrics.stringWidth(host, REGULAR, size) <= width:
        return [host]
    cut = max(
        (
            i + 1
            for i, c in enumerate(host)
            if c == "." and pdfmetrics.stringWidth(host[: i + 1], REGULAR, size) <= width
        ),
        default=0,
    )
    if not cut:
        return [_fit(host, REGULAR, size, width)]
    return [host[:cut], _fit(host[cut:], REGULAR, size, width)]


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis where it would pass ``width``."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + ELLIPSIS, font, size) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def _wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines``; the last line ends in an ellipsis if cut."""
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        if pdfmetrics.stringWidth(line, font, size) > width:  # a word longer than the column
            cut = _fit(line, font, size, width)[:-1]
            if cut and len(lines) < max_lines - 1:
                words.insert(0, line[len(cut) :])
                line = cut
        while words and pdfmetrics.stringWidth(f"{line} {words[0]}", font, size) <= width:
            line += " " + words.pop(0)
        lines.append(line)
    if words and lines:
        lines[-1] = _fit(lines[-1] + " " + " ".join(words), font, size, width)
    elif lines:
        lines[-1] = _fit(lines[-1], font, size, width)
    return lines


@functools.cache
def _register_fonts() -> None:
    """Register the embedded fonts once per process (ReportLab keeps them globally)."""
    files = resources.files("font_source_sans_pro") / "files"
    for name, filename in _FONT_FILES.items():
        with resources.as_file(files / filename) as path:
            pdfmetrics.registerFont(TTFont(name, str(path)))
