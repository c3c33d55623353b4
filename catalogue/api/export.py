"""``/api/v1/products.csv``: the search's result list as a spreadsheet, one row per product.

One row per product is deliberate: the export is the result list a buyer sees
(DESIGN §1, "a result list can be exported"), in the same order and count as the
search (``total``), each row with the certificate the product's page shows first
(highest valid level, else the most recent). The JSON answer lists every
certificate; the spec used to promise a row per certificate and now says this.
"""

from __future__ import annotations

import csv
import io

from flask import Response
from sqlmodel import Session

from catalogue.api.queries import FilterQuery
from catalogue.places.services import Provinces
from catalogue.registry.catalog import ProductSummary, load_summaries, verify_url
from catalogue.text import spreadsheet_cell
from catalogue.web import public_url

#: Rows in one CSV export (the whole result list up to this many).
CSV_LIMIT = 10_000

ExportQuery = FilterQuery

COLUMNS: dict[str, str] = {
    "product": "Product name.",
    "producer": "Producer name.",
    "province_as_printed": "Province as printed when certified.",
    "province_now": "The current province it belongs to.",
    "group": "Product group (label).",
    "level": "Level of the first certificate (label).",
    "region": "Region of a regional-level certificate (label).",
    "year": "Year of selection.",
    "certificate_number": "As printed; empty when not published.",
    "status": "Status of that certificate (label).",
    "expires_on": "Effective expiry (ISO date).",
    "expiry_basis": "`decision` (printed) or `policy` (assumed by the registry).",
    "url": "The product's public page.",
    "verify_url": "The certificate's printed verification URL.",
    "gtins": "GTIN-14s on the package, separated by spaces; see `/01/<gtin>`.",
}

DESCRIPTION = (
    f"The whole result list (up to {CSV_LIMIT:,} rows) of the same search as `/api/v1/products`, "
    "one row per product in the same order, with the certificate shown first on its page (highest "
    "valid level, else the most recent); labels are in the request's language. Cells that a "
    "spreadsheet would read as a formula start with an apostrophe. Columns: "
    + "; ".join(f"`{name}`: {text}" for name, text in COLUMNS.items())
)


def _row(s: ProductSummary, base: str) -> list[str]:
    best = s.best
    return [spreadsheet_cell(v) for v in (
        s.product.name, s.producer.name if s.producer else "",
        s.province.short_name if s.province else "",
        s.current_province.short_name if s.current_province else "",
        s.group.label if s.group else "",
        best.level.label if best else "", best.region.label if best and best.region else "",
        best.year if best else "", best.cert.number if best else "",
        best.status.label if best else "",
        best.standing.expires_on.isoformat() if best and best.standing else "",
        best.standing.basis.value if best and best.standing else "",
        public_url("public.product", slug=s.product.slug),
        verify_url(base, best.cert.verify_code) if best else "", " ".join(s.gtins),
    )]  # fmt: skip


def csv_response(session: Session, ids: list[int], provinces: Provinces, base: str) -> Response:
    """UTF-8 CSV with a BOM (spreadsheets then read Vietnamese correctly)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for start in range(0, len(ids), 500):
        for summary in load_summaries(session, ids[start : start + 500], provinces):
            writer.writerow(_row(summary, base))
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=products.csv",
    })  # fmt: skip
