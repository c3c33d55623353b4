"""Label runs: a run of 1,000,000 codes written from the command line, every code verified.

Issues a run through ``flask labels issue`` (a fresh process, as an operator runs it) on the
real seed data, then reads the file back: every code must pass the keyed check with its own
serial, and a sample must open its ``/v/<code>`` page. Baseline, measured in the same run: a
CSV of as many random tokens of the same length written by Python's csv module (what the
keyed MAC and the URL cost on top of writing a file). Budget: 1,000,000 codes in ≤ 30 s.
Also draws one 5,000-label PDF sheet range (the workspace job's work) for its time and size.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, select  # noqa: E402

from bench.common import Row, record  # noqa: E402
from catalogue import create_app, migrate  # noqa: E402
from catalogue.db import get_engine, make_engine, pk  # noqa: E402
from catalogue.label_runs import sheets  # noqa: E402
from catalogue.registry.models import Certificate  # noqa: E402
from catalogue.seeding import seed_all  # noqa: E402
from catalogue.verification import serial_codes as codes  # noqa: E402
from catalogue.verification.models import LabelRun  # noqa: E402

DATA = ROOT / "bench" / "data" / "labels"
BUDGET_S = 30.0
KEYS = {"a": "bench-labels"}


def _baseline(n: int, out: Path) -> float:
    started = time.perf_counter()
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["serial", "code", "url"])
        for serial in range(1, n + 1):
            token = secrets.token_hex(11)
            writer.writerow([serial, token, f"http://127.0.0.1:5000/v/{token}"])
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    args = ap.parse_args()
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    url = f"sqlite:///{DATA / 'catalogue.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seed_all(session, validity_years=3, verify_keys=KEYS, verify_key_id="a")
        session.commit()
    engine.dispose()
    env = {**os.environ, "CATALOGUE_ENV": "development", "CATALOGUE_DATA_DIR": str(DATA), "DATABASE_URL": "",
           "SECRET_KEY": "bench", "VERIFY_KEYS": "a:bench-labels", "RATELIMIT_ENABLED": "false"}  # fmt: skip
    app = create_app({"ENV": "test", "CATALOGUE_DATA_DIR": DATA, "DATABASE_URL": "", "SECRET_KEY": "bench",
                      "VERIFY_KEYS": KEYS, "RATELIMIT_ENABLED": False})  # fmt: skip
    with app.app_context(), Session(get_engine()) as session:
        valid = [c for c in session.exec(select(Certificate).where(Certificate.revoked_on == None)).all()]  # noqa: E711
    out = DATA / "labels.csv"
    flask = [sys.executable, "-m", "flask", "--app", "catalogue", "labels", "issue",
             "--count", str(args.count), "--out", str(out), "--lang", "en", "--certificate"]  # fmt: skip
    seconds = None
    for cert in valid:  # the first certificate valid today
        started = time.perf_counter()
        done = subprocess.run([*flask, str(cert.verify_code)], env=env, capture_output=True, text=True)
        if done.returncode == 0:
            seconds = time.perf_counter() - started
            print(done.stderr.strip())
            break
    if seconds is None:
        print("no certificate valid today in the seed data")
        return 1
    base = _baseline(args.count, DATA / "baseline.csv")
    size = out.stat().st_size
    print(f"{args.count:,} codes: {seconds:.1f} s (whole command, start-up included), {size / 1e6:.0f} MB; "
          f"baseline (random tokens, csv module) {base:.1f} s; ratio {seconds / base:.2f}")  # fmt: skip

    started = time.perf_counter()
    bad = 0
    rows: list[tuple[int, str]] = []
    with out.open(encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for serial_text, code, _url in reader:
            parsed = codes.parse_serial(code, KEYS)
            if parsed is None or parsed.serial != int(serial_text):
                bad += 1
            if len(rows) < 5_000:
                rows.append((int(serial_text), _url))
    print(f"every code checked with its key: {bad} failed, {time.perf_counter() - started:.1f} s")

    client = app.test_client()
    sample = random.Random(1).sample(range(len(rows)), 200)
    opened = 0
    for i in sample:
        serial, link = rows[i]
        path = "/v/" + link.rsplit("/v/", 1)[-1]
        page = client.get(path, headers={"User-Agent": f"Mozilla/5.0 bench {i}", "Accept-Language": "en"})
        opened += page.status_code == 200 and f"(no. {serial:06d})" in page.get_data(as_text=True)
    print(f"pages opened: {opened} of {len(sample)} show their serial")

    with app.app_context(), Session(get_engine()) as session:
        run = session.exec(select(LabelRun)).one()
        cert = session.get(Certificate, run.certificate_id)
        number = cert.number if cert else None
        heading = sheets.SheetHeading(product_name=f"certificate {number}", producer_name=None,
                                      certificate_number=number, run_id=pk(run), first=1,
                                      last=len(rows))  # fmt: skip
        started = time.perf_counter()
        pdf = io.BytesIO()
        with app.test_request_context():
            sheets.write_sheets(pdf, rows, heading=heading, total=len(rows))
        sheet_s = time.perf_counter() - started
    print(f"label sheets, {len(rows):,} labels: {sheet_s:.1f} s, {len(pdf.getvalue()) / 1e6:.1f} MB")

    record(Row("labels", f"`labels issue` {args.count:,} codes", args.count / seconds, 0, 0, 0, bad,
               "csv of random tokens", args.count / base))  # fmt: skip
    ok = seconds <= BUDGET_S and bad == 0 and opened == len(sample)
    print(
        f"budget: {args.count:,} codes in ≤ {BUDGET_S:g} s, every code verifies → {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
