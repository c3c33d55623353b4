"""Open data at scale: the bulk download's build and the open-data endpoints, at 100,000 products.

    .venv/bin/python bench/opendata.py [--n 100000] [--repeat 5] [--keep]

Generates N clearly synthetic products (``bench.search.generate``: every name starts with
"[SYNTHETIC]") in a fresh SQLite data folder under ``bench/data/opendata/<n>/`` (never the demo
data), with one change-feed row per certificate (as publishing them would have written), and
builds the search index.

1. The full dump: ``dumps.build(app)`` under an app context, as the job worker's tick runs it,
   in a fresh child process (so its peak RSS is the build's own). Baseline in the same run, in
   a child of its own: the same certificate rows through the same read model, written by a
   plain ``csv.writer`` only (the build's extra is XLSX, JSON Lines, formula-safe cells, the
   other datasets and hashing). Budget: the build ≤ 300 s at 100,000 products (well inside the
   promised ten minutes between a change and the files).
2. Requests under gunicorn (2 sync workers, ``bench/common.py``): the sitemap, /statistics
   with and without words, the Atom feed, the change feed (``since=now`` and a page from the
   oldest), and 20 pages of ``/api/v1/products?status=all&per_page=100`` walked by ``next``
   against the same 20 by ``page=``; ``/healthz`` is the baseline. p50/p95 over ``--repeat``
   runs after one warm-up per worker. Budget: p95 ≤ 2 s per line.

Headline rows go to ``bench/data/summary.jsonl`` for ``make bench``'s table. Exit status 1
when a budget is missed or a request is not a 200.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself: a module there could shadow an installed package of the same name.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from bench import common  # noqa: E402
from bench.search import generate  # noqa: E402
from catalogue import create_app, migrate  # noqa: E402
from catalogue.audit.models import OutboxEvent  # noqa: E402
from catalogue.clock import today, utcnow  # noqa: E402
from catalogue.db import get_engine  # noqa: E402
from catalogue.opendata import dumps  # noqa: E402
from catalogue.places.services import Provinces  # noqa: E402
from catalogue.registry.models import Certificate  # noqa: E402
from catalogue.registry.status import current_policy  # noqa: E402
from catalogue.search.builds import rebuild  # noqa: E402
from catalogue.vocab import ChangeKind  # noqa: E402

#: One data folder per size (``--n``), so a quick run leaves the 100,000-product data alone.
DATA = ROOT / "bench" / "data" / "opendata"
BUILD_BUDGET_S = 300.0
REQUEST_BUDGET_S = 2.0
SECRETS = {"SECRET_KEY": "bench-opendata", "VERIFY_KEYS": "a:bench-opendata"}
#: A word in about a quarter of the synthetic products (descriptions draw from the same words).
COMMON_WORD = "sach"
WALK_PAGES = 20
WALK_NEXT = f"products walk by `next`, {WALK_PAGES} × 100"
WALK_PAGE = f"products by `page=`, {WALK_PAGES} × 100"
#: The lines that go to ``make bench``'s table.
HEADLINES = ("/sitemap.xml", "/sitemap-1.xml (first part)", f"/statistics?q={COMMON_WORD}",
             "/feeds/certified.atom", "/api/v1/changes (oldest page)", WALK_NEXT)  # fmt: skip


def _app(data: Path, base: str) -> Flask:
    return create_app({"ENV": "development", "CATALOGUE_DATA_DIR": data, "DATABASE_URL": "",
                       "SECRET_KEY": SECRETS["SECRET_KEY"], "VERIFY_KEYS": {"a": "bench-opendata"},
                       "RATELIMIT_ENABLED": False, "PUBLIC_BASE_URL": base})  # fmt: skip


def _peak_mb() -> float:
    """This process's peak resident memory. ``getrusage``'s ``ru_maxrss`` is not used: on Linux a
    child keeps the peak its parent had when it was forked (here the generated data's), across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB; not Linux


def _prepare(data: Path, n: int, base: str) -> None:
    """Synthetic products, a change-feed row per certificate, and the search index."""
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    migrate.upgrade(f"sqlite:///{data / 'catalogue.sqlite3'}")
    app = _app(data, base)
    with app.app_context():
        engine = get_engine()
        started = time.perf_counter()
        generate(engine, n)
        now = utcnow()
        with Session(engine) as session:
            certs = session.exec(select(Certificate.id, Certificate.product_id).order_by(col(Certificate.id)))
            created = ChangeKind.CREATED.value
            rows = [{"product_id": pid, "op": "upsert", "kind": created, "certificate_id": cid,
                     "created_at": now, "processed_at": now} for cid, pid in certs.all()]  # fmt: skip
            for start in range(0, len(rows), 5000):
                session.execute(insert(OutboxEvent), rows[start : start + 5000])
            session.commit()
        print(f"generated {n:,} synthetic products, {len(rows):,} certificates and change-feed rows in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        report = rebuild(Path(app.config["INDEX_DIR"]), engine, procs=2)
        print(f"search index: {report.documents:,} documents in {report.seconds:.1f} s")


# ----------------------------------------------------------------------------- child processes


def _child_build(data: Path, base: str) -> dict[str, Any]:
    """What the job worker's tick does, timed: the whole generation, files hashed and switched live."""
    app = _app(data, base)
    before = _peak_mb()
    started = time.perf_counter()
    with app.app_context():
        written = dumps.build(app)
    seconds = time.perf_counter() - started
    files = [{"name": f.name, "bytes": f.bytes, "rows": f.rows} for f in written.files]
    return {"seconds": seconds, "peak_mb": _peak_mb(), "start_mb": before, "files": files}


def _child_baseline(data: Path, base: str) -> dict[str, Any]:
    """The certificate rows through the same read model, written by a plain ``csv.writer`` only."""
    app = _app(data, base)
    out = data / "baseline-certificates.csv"
    started = time.perf_counter()
    writing = 0.0
    rows = 0
    with (
        app.app_context(),
        app.test_request_context("/", base_url=base),
        Session(get_engine(), expire_on_commit=False) as s,
        out.open("w", newline="", encoding="utf-8") as fh,
    ):
        ctx = dumps._Context(session=s, provinces=Provinces.load(s), day=today(), policy=current_policy(s),
                             base=base, patterns=dumps._url_patterns())  # fmt: skip
        writer = csv.writer(fh)
        header = False
        for row in dumps._certificates(ctx):
            t = time.perf_counter()
            if not header:
                writer.writerow(row)
                header = True
            writer.writerow(row.values())
            writing += time.perf_counter() - t
            rows += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "writing": writing, "rows": rows, "bytes": out.stat().st_size,
            "peak_mb": _peak_mb()}  # fmt: skip


def _in_child(which: str, data: Path, base: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", which, "--data", str(data), "--base", base]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{which} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------- requests


def _timed(port: int, path: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    status, body = common.fetch(port, path)
    return time.perf_counter() - started, status, body


def _local(url: str) -> str:
    """The path and query of an absolute link (the API names PUBLIC_BASE_URL)."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _walk_by_next(port: int) -> tuple[list[float], int, list[int]]:
    times: list[float] = []
    errors, ids = 0, list[int]()
    path: str | None = "/api/v1/products?status=all&per_page=100"
    for _ in range(WALK_PAGES):
        assert path is not None
        seconds, status, body = _timed(port, path)
        times.append(seconds)
        if status != 200:
            return times, errors + 1, ids
        page = json.loads(body)
        ids += [item["id"] for item in page["items"]]
        path = _local(page["next"]) if page.get("next") else None
        if path is None:
            break
    return times, errors, ids


def _walk_by_page(port: int) -> tuple[list[float], int, list[int]]:
    times: list[float] = []
    errors, ids = 0, list[int]()
    for number in range(1, WALK_PAGES + 1):
        seconds, status, body = _timed(port, f"/api/v1/products?status=all&per_page=100&page={number}")
        times.append(seconds)
        if status != 200:
            errors += 1
            continue
        ids += [item["id"] for item in json.loads(body)["items"]]
    return times, errors, ids


def _requests(port: int, repeat: int) -> tuple[list[tuple[str, list[float], int, int]], bool]:
    """Each path ``repeat`` times after a warm-up per worker: (label, seconds, errors, bytes) lines."""
    paths = [
        ("/healthz (baseline)", "/healthz"),
        ("/sitemap.xml", "/sitemap.xml"),
        ("/statistics", "/statistics"),
        (f"/statistics?q={COMMON_WORD}", f"/statistics?q={COMMON_WORD}"),
        ("/feeds/certified.atom", "/feeds/certified.atom"),
        ("/api/v1/changes?since=now", "/api/v1/changes?since=now"),
        ("/api/v1/changes (oldest page)", "/api/v1/changes"),
    ]
    lines = []
    while paths:
        label, path = paths.pop(0)
        for _ in range(2):  # one per worker: first-use loading is not what is measured
            first = common.fetch(port, path)[1]
        times, errors, size = [], 0, 0
        for _ in range(repeat):
            seconds, status, body = _timed(port, path)
            times.append(seconds)
            errors += status != 200
            size = len(body)
        lines.append((label, times, errors, size))
        part = (
            re.search(rb"<sitemapindex.*?<loc>([^<]+)</loc>", first, re.S) if path == "/sitemap.xml" else None
        )
        if part:  # past 50,000 addresses the sitemap is an index: its first part too
            paths.insert(0, ("/sitemap-1.xml (first part)", _local(part.group(1).decode())))
    walks_next: list[float] = []
    walks_page: list[float] = []
    errors_next = errors_page = 0
    same = True
    for _ in range(max(1, repeat // 2)):
        t, e, by_next = _walk_by_next(port)
        walks_next += t
        errors_next += e
        t, e, by_page = _walk_by_page(port)
        walks_page += t
        errors_page += e
        same = same and by_next == by_page
    lines.append((WALK_NEXT, walks_next, errors_next, 0))
    lines.append((WALK_PAGE, walks_page, errors_page, 0))
    return lines, same


# ----------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="synthetic products (default 100000)")
    ap.add_argument("--repeat", type=int, default=5, help="requests per endpoint (default 5)")
    ap.add_argument("--keep", action="store_true", help="reuse the generated data and index if present")
    ap.add_argument("--child", choices=("build", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--base", default="", help=argparse.SUPPRESS)
    ap.add_argument("--data", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child = _child_build if args.child == "build" else _child_baseline
        print(json.dumps(child(Path(args.data), args.base)))
        return 0
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress when redirected
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    data = DATA / str(args.n)
    if not (args.keep and (data / "catalogue.sqlite3").exists()):
        _prepare(data, args.n, base)
    ok = True

    print("\n1. bulk download build (a fresh process each, as the worker's tick)")
    built = _in_child("build", data, base)
    plain = _in_child("baseline", data, base)
    cert_rows = next(f["rows"] for f in built["files"] if f["name"] == "certificates.csv")
    rate, base_rate = cert_rows / built["seconds"], plain["rows"] / plain["seconds"]
    for f in built["files"]:
        print(f"  {f['name']:<24} {f['bytes'] / 1e6:9.1f} MB {f['rows']:>9,} rows")
    total_mb = sum(f["bytes"] for f in built["files"]) / 1e6
    passed = built["seconds"] <= BUILD_BUDGET_S
    ok &= passed
    print(f"  build: {built['seconds']:.1f} s = {rate:,.0f} certificate rows/s, {total_mb:.0f} MB in all, "
          f"peak RSS {built['peak_mb']:.0f} MB (app loaded: {built['start_mb']:.0f} MB)")  # fmt: skip
    print(f"  baseline, same certificate rows by csv.writer only: {plain['seconds']:.1f} s = "
          f"{base_rate:,.0f} rows/s (of which writing {plain['writing']:.1f} s), "
          f"{plain['bytes'] / 1e6:.1f} MB, peak RSS {plain['peak_mb']:.0f} MB")  # fmt: skip
    print(f"  ratio build / baseline: {built['seconds'] / plain['seconds']:.2f}; budget ≤ "
          f"{BUILD_BUDGET_S:g} s → {'PASS' if passed else 'FAIL'}")  # fmt: skip
    common.record(common.Row("opendata", f"dump build, {cert_rows:,} certificates (rows/s)", rate, 0, 0, 0, 0,
                             "same rows by csv.writer", base_rate))  # fmt: skip

    print(f"\n2. requests under gunicorn (2 sync workers), {args.repeat} runs each after a warm-up")
    env = common.server_env(data, port, **SECRETS)
    server = common.start_server(env, port)
    try:
        lines, same = _requests(port, args.repeat)
    finally:
        common.stop_server(server)
    print(f"  {'request':<42}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'errors':>7}{'bytes':>11}  budget")
    for label, times, errors, size in lines:
        p50, p95 = common.percentile(times, 50) * 1000, common.percentile(times, 95) * 1000
        passed = p95 <= REQUEST_BUDGET_S * 1000 and errors == 0
        ok &= passed
        shown = f"{size:,}" if size else "—"
        print(f"  {label:<42}{p50:9.1f}{p95:9.1f}{max(times) * 1000:9.1f}{errors:7d}{shown:>11}  "
              f"{'PASS' if passed else 'FAIL'}")  # fmt: skip
        if label in HEADLINES:
            # The walk by `next` against the same pages by number; the rest against /healthz.
            baseline = lines[-1] if label.startswith("products walk") else lines[0]
            common.record(common.Row("opendata", label, len(times) / sum(times), p50, p95,
                                     common.percentile(times, 99) * 1000, errors, baseline[0],
                                     len(baseline[1]) / sum(baseline[1])))  # fmt: skip
    ok &= same
    print(f"  the walk by `next` and by `page=` list the same products in the same order: {same}")
    print(f"\nbudgets: build ≤ {BUILD_BUDGET_S:g} s, every request p95 ≤ "
          f"{REQUEST_BUDGET_S:g} s → {'PASS' if ok else 'FAIL'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
