"""What the seed files in ``seed/`` hold, counted straight from the CSVs.

Tests compare the database, the index and the pages with these numbers instead
of writing them down, so replacing the seed data (more rows, new columns) needs
no test edits. Deliberately independent of the app's parser: a count the app
gets wrong must not agree with itself.
"""

from __future__ import annotations

import csv
import unicodedata
from datetime import date
from functools import cache
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"


@cache
def rows(name: str) -> tuple[dict[str, str], ...]:
    """The data rows of ``seed/<name>``, cells NFC-normalised and stripped."""
    with (SEED_DIR / name).open(encoding="utf-8-sig", newline="") as fh:
        return tuple(
            {k: unicodedata.normalize("NFC", (v or "").strip()) for k, v in row.items() if k}
            for row in csv.DictReader(fh)
        )


def _cell(row: dict[str, str], *headers: str) -> str:
    """The first of ``headers`` (Vietnamese, then English alias) the file has."""
    return next((row[h] for h in headers if h in row), "")


def product_rows() -> tuple[dict[str, str], ...]:
    """One row per certified product (each row also carries one certificate)."""
    return rows("certified_products.csv")


def certificates() -> int:
    """Seeded certificates: one per product row."""
    return len(product_rows())


def products() -> int:
    """Seeded products: distinct product + producer + province as printed."""
    return len({
        tuple(_cell(r, *h).casefold() for h in (("Tên sản phẩm", "product"), ("Tên cơ sở", "producer"),
                                                 ("Tỉnh/Thành phố", "province")))
        for r in product_rows()
    })  # fmt: skip


def certificates_at(level: str, year: int) -> int:
    """Seeded certificates of a level as printed in ``Cấp`` ("quốc gia", "tỉnh"…) and a year."""
    return sum(_cell(r, "Cấp", "level").casefold() == level and _cell(r, "Năm", "year") == str(year)
               for r in product_rows())  # fmt: skip


def products_named(name: str) -> int:
    """Seeded product rows printed under exactly this product name."""
    return sum(_cell(r, "Tên sản phẩm", "product") == name for r in product_rows())


def events(kind: str | None = None) -> int:
    """Seeded trade fairs and showrooms (only those of ``kind``, e.g. "showroom", if given)."""
    return sum(kind is None or r["kind"] == kind for r in rows("events.csv"))


def fairs_on(day: date) -> tuple[int, int, int]:
    """Seeded fairs on ``day``: (running or to come, finished, no date known).

    A fair's last day is its end date, else its start date (ISO dates in the file).
    """
    last = [r["end_date"] or r["start_date"] for r in rows("events.csv") if r["kind"] == "fair"]
    iso = day.isoformat()
    return sum(d >= iso for d in last if d), sum(d < iso for d in last if d), sum(not d for d in last)


def current_provinces() -> int:
    """The provincial units since 1 July 2025 (34)."""
    return len(rows("provinces_2025.csv"))


def former_provinces() -> int:
    """The pre-2025 units, each listed under the unit it became part of (63)."""
    return sum(len([n for n in r["old_names"].split(";") if n.strip()]) for r in rows("provinces_2025.csv"))


def _current_unit() -> dict[str, str]:
    """Printed (pre-2025 or current) province name → the current unit's short name."""
    units: dict[str, str] = {}
    for r in rows("provinces_2025.csv"):
        short = r["new_name"].removeprefix("Thành phố ").removeprefix("Tỉnh ")
        units[short] = short
        units.update({n.strip(): short for n in r["old_names"].split(";") if n.strip()})
    return units


def products_now_in(province: str) -> int:
    """Seeded product rows whose printed province is now part of ``province`` (a current unit)."""
    units = _current_unit()
    return sum(units.get(_cell(r, "Tỉnh/Thành phố", "province")) == province for r in product_rows())
