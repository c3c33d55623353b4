"""The records list as a spreadsheet: the rows the filter shows, as CSV or XLSX.

Same columns as the page, plus the three links of each row; labels in the official's
language. CSV is UTF-8 with a BOM (Excel then reads Vietnamese correctly); cells a
spreadsheet would read as a formula start with an apostrophe in both formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask import url_for
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from catalogue.clock import today as clock_today
from catalogue.places.services import Provinces
from catalogue.registry import finder
from catalogue.registry.finder import RecordRow
from catalogue.registry.round_names import round_label
from catalogue.text import spreadsheet_cell

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _iso(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else ""


def headings() -> list[str]:
    return [
        _("Product"), _("Producer"), _("Province as printed"), _("Province now"), _("Level"), _("Year"),
        _("Selection round"), _("Certificate number"), _("Issued on"), _("Expires on"), _("Expiry basis"),
        _("Status"), _("Product form"), _("Certificate form"), _("Public page"),
    ]  # fmt: skip


_SENTINEL = 987654321


class _Cells:
    """Per-export memo of what every row repeats (labels, round names, link patterns): thousands of
    rows then cost one translation and one URL build each, not one per row."""

    def __init__(self, provinces: Provinces) -> None:
        self.provinces = provinces
        self.rounds: dict[int | None, str] = {}
        self.labels: dict[object, str] = {}
        self.links = {
            "records.product": url_for("records.product", product_id=_SENTINEL, _external=True),
            "records.certificate": url_for("records.certificate", cert_id=_SENTINEL, _external=True),
        }
        self.public = url_for("public.product", slug="__slug__", _external=True)

    def link(self, endpoint: str, value: object) -> str:
        return self.links[endpoint].replace(str(_SENTINEL), str(value))

    def label(self, key: object, make: Callable[[], str]) -> str:
        if key not in self.labels:
            self.labels[key] = make()
        return self.labels[key]

    def status(self, r: RecordRow) -> str:
        st = r.standing
        if st is None:
            return self.label("none", lambda: _("No certificate yet"))
        if st.past_assumed_validity:
            return self.label(
                ("lapsed", r.year), lambda: _("Recognised %(year)s · past standard validity", year=r.year)
            )
        return self.label(st.status, lambda: st.status.label)

    def basis(self, r: RecordRow) -> str:
        if r.standing is None:
            return ""
        if r.standing.assumed:
            return self.label("assumed", lambda: _("assumed by the registry"))
        return self.label("decision", lambda: _("as stated in the decision"))

    def round(self, r: RecordRow) -> str:
        if r.round is None:
            return ""
        if r.round.id not in self.rounds:
            self.rounds[r.round.id] = round_label(r.round, self.provinces)
        return self.rounds[r.round.id]

    def values(self, r: RecordRow) -> list[object]:
        """One row's cells, in the order of :func:`headings`."""
        cert, level = r.certificate, r.level
        return [
            r.product.name, r.producer.name if r.producer else "",
            r.province.short_name if r.province else "",
            r.current_province.short_name if r.current_province else "",
            self.label(level, lambda: level.label) if level else "", r.year or "", self.round(r),
            (cert.number or "") if cert else "", _iso(cert.issued_on) if cert else "",
            _iso(r.standing.expires_on) if r.standing else "", self.basis(r), self.status(r),
            self.link("records.product", r.product.id),
            self.link("records.certificate", cert.id) if cert else "",
            self.public.replace("__slug__", r.product.slug),
        ]  # fmt: skip


def table(rows: list[RecordRow], provinces: Provinces) -> list[list[str]]:
    """Heading row then one row per record, every cell safe to open in a spreadsheet."""
    cells = _Cells(provinces)
    return [headings()] + [[spreadsheet_cell(v) for v in cells.values(r)] for r in rows]


def csv_bytes(rows: list[RecordRow], provinces: Provinces) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(table(rows, provinces))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(rows: list[RecordRow], provinces: Provinces) -> bytes:
    book = Workbook(write_only=True)  # streams rows: ten thousand take seconds, not tens of seconds
    sheet = book.create_sheet(_("Records")[:31])
    sheet.freeze_panes = "A2"
    head, *body = table(rows, provinces)
    bold = Font(bold=True)
    titles = []
    for text in head:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        titles.append(cell)
    sheet.append(titles)
    for values in body:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def spreadsheet(rows: list[RecordRow], provinces: Provinces, fmt: str) -> tuple[bytes, str, str]:
    """The file's bytes, media type and name (``records-<day>.csv`` or ``.xlsx``)."""
    name = f"records-{clock_today():%Y-%m-%d}.{fmt}"
    if fmt == "xlsx":
        return xlsx_bytes(rows, provinces), XLSX_MIMETYPE, name
    return csv_bytes(rows, provinces), CSV_MIMETYPE, name


def too_many(total: int) -> str:
    """Why an export was refused: the filter matches more rows than one export holds."""
    return _(
        "This filter matches %(num)s records; an export holds at most %(limit)s. "
        "Narrow the filter and export again.",
        num=f"{total:,}".replace(",", "."),
        limit=f"{finder.EXPORT_LIMIT:,}".replace(",", "."),
    )
