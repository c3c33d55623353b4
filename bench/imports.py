"""Import benchmark: reading and dry-running an N-row decision spreadsheet, against bare parsing.

    .venv/bin/python bench/imports.py [--rows 5000] [--repeat 3]

Everything is generated under ``bench/data/imports/`` (git-ignored), never in
the demo data: a fresh SQLite database with the real seed data (so the dry run
matches rows against existing records, as on the server) and one Lào Cai
official. The file holds N clearly synthetic provincial rows (every product
name starts with "[SYNTHETIC]"), as XLSX and as CSV UTF-8.

Measured, each the median of ``--repeat`` runs, with a baseline from the same
run and the same bytes:

- ``read_table`` on the XLSX, against openpyxl's read-only iteration of the
  same workbook (the bare parse ``read_table`` is built on);
- ``read_table`` on the CSV, against ``csv.reader`` over the decoded text;
- the dry run (``check_file``: read, type and check every row, match it against
  the database; nothing written), against ``read_table`` of the same XLSX.

Budgets (formerly asserted by the test suite): reading 5,000 rows < 20 s, the
dry run of 5,000 rows < 60 s. Exit status 1 when one is missed or a run does
not report every row as ready.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_babel import force_locale  # noqa: E402
from openpyxl import Workbook, load_workbook  # noqa: E402
from sqlmodel import Session  # noqa: E402

from catalogue import create_app, migrate  # noqa: E402
from catalogue.accounts import services as accounts  # noqa: E402
from catalogue.accounts.permissions import SYSTEM  # noqa: E402
from catalogue.db import get_engine, make_engine  # noqa: E402
from catalogue.imports import checking as importing  # noqa: E402
from catalogue.imports import files  # noqa: E402
from catalogue.places.services import Provinces  # noqa: E402
from catalogue.registry.rows import HEADERS  # noqa: E402
from catalogue.seeding import seed_all  # noqa: E402

DATA = ROOT / "bench" / "data" / "imports"
READ_BUDGET_S = 20.0  # per 5,000 rows
DRY_RUN_BUDGET_S = 60.0  # per 5,000 rows


def synthetic_rows(n: int) -> list[dict[str, Any]]:
    """N correct provincial rows for Lào Cai, none of them in the seed data."""
    return [
        {
            "product": f"[SYNTHETIC] Chè Shan tuyết thử nghiệm {i}",
            "producer": f"[SYNTHETIC] HTX Thử nghiệm {i}",
            "producer_kind": "HTX",
            "locality": "Xã Thử",
            "province": "Lào Cai",
            "category": "chế biến nông, lâm, thủy sản và thực phẩm",
            "level": "tỉnh",
            "region": "",
            "year": "2025",
            "certificate_number": f"BENCH-{i:05d}/GCN-SCT",
            "issued_on": "",
            "expires_on": "",
            "decision": "123/QĐ-UBND",
            "description": "",
            "photo": "",
        }
        for i in range(n)
    ]


def xlsx_bytes(rows: list[dict[str, Any]]) -> bytes:
    fields = list(rows[0])
    book = Workbook()
    sheet = book.active
    sheet.append([HEADERS[f][0] for f in fields])
    for r in rows:
        sheet.append([r[f] for f in fields])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    fields = list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([HEADERS[f][0] for f in fields])
    writer.writerows([r[f] for f in fields] for r in rows)
    return out.getvalue().encode("utf-8")


def bare_xlsx(data: bytes) -> int:
    """openpyxl's read-only iteration of the first sheet: what read_table is built on."""
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return len([list(row) for row in book.worksheets[0].iter_rows(values_only=True)]) - 1
    finally:
        book.close()


def bare_csv(data: bytes) -> int:
    return len(list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))) - 1


def timed(fn: Callable[[], int], repeat: int, expected: int, label: str) -> float:
    """Median seconds of ``repeat`` runs after one warm-up; every run must account for every row."""
    fn()  # warm up (imports, caches) outside the figures
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        got = fn()
        times.append(time.perf_counter() - t0)
        if got != expected:
            raise SystemExit(f"{label}: {got} rows, expected {expected}")
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000, help="rows in the file (default 5000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median)")
    args = ap.parse_args()
    n = args.rows
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    url = f"sqlite:///{DATA / 'catalogue.sqlite3'}"
    t0 = time.perf_counter()
    migrate.upgrade(url)
    engine = make_engine(url)  # seeded before the app exists: no search index is built (none is needed)
    with Session(engine) as session:
        seed_all(session, validity_years=3, verify_keys={"a": "bench"}, verify_key_id="a")
        session.commit()
    engine.dispose()
    app = create_app({"ENV": "test", "CATALOGUE_DATA_DIR": DATA, "DATABASE_URL": "", "SECRET_KEY": "bench",
                      "VERIFY_KEYS": {"a": "bench"}, "RATELIMIT_ENABLED": False})  # fmt: skip
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")  # fmt: skip
    rows = synthetic_rows(n)
    xlsx, text = xlsx_bytes(rows), csv_bytes(rows)
    with app.app_context(), force_locale("en"):
        session = Session(get_engine(), expire_on_commit=False)
        official = accounts.create_user(
            session, actor=SYSTEM, email="bench@so.gov.vn", password="bench password 1",
            role="province", province=Provinces.load(session).match_current("Lào Cai"),
        )  # fmt: skip
        session.commit()
        sizes = f"XLSX {len(xlsx) / 1e6:.2f} MB, CSV {len(text) / 1e6:.2f} MB"
        print(f"setup (migrate, seed, {n} rows as {sizes}): {time.perf_counter() - t0:.1f} s")

        def dry_run() -> int:
            with Session(get_engine()) as fresh:  # each run starts cold, as a new request does
                report, _ = importing.check_file(fresh, actor=official, filename="bench.xlsx", data=xlsx)
            if not report.ok or report.new_count != n:
                raise SystemExit("dry run: " + "; ".join(report.problems()[:5]))
            return len(report.rows)

        figures = [
            ("XLSX: read_table", timed(lambda: len(files.read_table(xlsx).rows), args.repeat, n, "xlsx"),
             "openpyxl read-only", timed(lambda: bare_xlsx(xlsx), args.repeat, n, "bare xlsx")),
            ("CSV: read_table", timed(lambda: len(files.read_table(text).rows), args.repeat, n, "csv"),
             "csv.reader", timed(lambda: bare_csv(text), args.repeat, n, "bare csv")),
        ]  # fmt: skip
        read_xlsx = figures[0][1]
        figures.append(("dry run (check_file, XLSX)", timed(dry_run, args.repeat, n, "dry run"),
                        "read_table XLSX", read_xlsx))  # fmt: skip
        session.close()

    print(f"\n{n} rows, median of {args.repeat} runs")
    print(f"{'measurement':28}{'s':>8}{'rows/s':>10}   {'baseline':20}{'s':>8}{'ratio':>8}")
    for label, seconds, base_label, base in figures:
        print(
            f"{label:28}{seconds:8.2f}{n / seconds:10.0f}   {base_label:20}{base:8.3f}{seconds / base:8.2f}"
        )
    scale = n / 5000
    read_worst = max(figures[0][1], figures[1][1])
    dry = figures[2][1]
    print(
        f"budgets per 5,000 rows: read (slower format) {read_worst / scale:.2f} s (≤ {READ_BUDGET_S:g} s), "
        f"dry run {dry / scale:.2f} s (≤ {DRY_RUN_BUDGET_S:g} s)"
    )
    ok = read_worst / scale <= READ_BUDGET_S and dry / scale <= DRY_RUN_BUDGET_S
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
