"""Scans during a publish: ``/v/<code>`` at a steady rate while the CLI publishes a large file.

Budget (issue 13, item 1): during a 3,000-row publish with about 80 scans/s every
scan answers 200 with p99 ≤ 200 ms, on SQLite and PostgreSQL, and the count is
exact once the publish has finished.

What it does:

1. builds a fresh data dir under ``bench/data/scans`` (migrate, real seed data,
   search index) and one Lào Cai official (``flask user create``);
2. writes a ``--rows``-row XLSX of clearly synthetic provincial rows (every product
   name starts with "[SYNTHETIC]", see ``bench/imports.py``);
3. starts gunicorn with 2 sync workers (limiter off, as ``bench/verify.py``);
4. baseline: ``--rate`` scans/s (open loop: each request starts on its schedule,
   whatever the others do) over several seeded codes for ``--baseline`` seconds,
   no publish running;
5. load: the same scans while ``flask import <file> --as <official>`` checks and
   publishes the file, until that command exits;
6. asks the API for each code's count and compares it with the scans answered 200.

Prints, for baseline and load: scans, non-200 answers, p50/p95/p99 and max, and the
ratio of the load's p99 to the baseline's. Exit status 1 when a scan during the
publish was not a 200, the p99 exceeds 200 ms, a count is off, or the publish failed.

Usage: ``python bench/scans_during_publish.py [--rows 3000] [--rate 80] [--baseline 10]
[--database-url postgresql+psycopg2://…] [--store own|registry]``
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import common
from common import BIN, ROOT, fetch, percentile

DATA = ROOT / "bench" / "data" / "scans"
P99_BUDGET_MS = 200.0
EMAIL = "bench-scans@so.gov.vn"


@dataclass
class Phase:
    """The scans of one phase: latency per answered request, status counts, 200s per code."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    ok_per_code: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, code: str, status: int, ms: float) -> None:
        with self.lock:
            self.latencies_ms.append(ms)
            self.statuses[status] += 1
            if status == 200:
                self.ok_per_code[code] += 1

    @property
    def failures(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != 200)


def scan(port: int, code: str, phase: Phase) -> None:
    t0 = time.perf_counter()
    try:
        status, _ = fetch(port, f"/v/{code}", {"Accept-Language": "vi"})
    except OSError:
        status = 0  # connection refused or timed out: counted as a failure
    phase.add(code, status, (time.perf_counter() - t0) * 1000)


def fire(port: int, codes: list[str], rate: float, phase: Phase, until: threading.Event | float) -> float:
    """Start one scan every 1/rate s (round-robin over ``codes``) until the event is set or
    the deadline passes; returns the seconds it ran. Open loop: a slow answer does not delay
    the next request, so queueing shows in the latencies."""
    interval = 1 / rate
    start = time.perf_counter()
    n = 0
    with ThreadPoolExecutor(max_workers=64) as pool:
        while True:
            now = time.perf_counter()
            if isinstance(until, threading.Event) and until.is_set():
                break
            if isinstance(until, float) and now - start >= until:
                break
            due = start + n * interval
            if due > now:
                time.sleep(due - now)
            pool.submit(scan, port, codes[n % len(codes)], phase)
            n += 1
    return time.perf_counter() - start


def prepare(env: dict[str, str], rows: int) -> tuple[list[str], str]:
    """Seeded data folder, the official, the synthetic file; returns codes to scan and the file path."""
    common.prepare_seeded(DATA, env)
    flask = [str(BIN / "flask"), "--app", "catalogue"]
    subprocess.run(
        [*flask, "user", "create", "--email", EMAIL, "--password", "bench password 1", "--role", "province",
         "--province", "Lào Cai"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    sys.path.insert(0, str(ROOT))
    from imports import synthetic_rows, xlsx_bytes  # bench/imports.py: the same synthetic rows
    from sqlalchemy import text

    from catalogue.db import make_engine

    path = DATA / f"synthetic-{rows}.xlsx"
    path.write_bytes(xlsx_bytes(synthetic_rows(rows)))
    engine = make_engine(env.get("DATABASE_URL") or f"sqlite:///{DATA / 'catalogue.sqlite3'}")
    with engine.connect() as conn:
        codes = list(conn.execute(text(
            "SELECT verify_code FROM certificate WHERE revoked_on IS NULL ORDER BY id LIMIT 20"
        )).scalars())  # fmt: skip
    engine.dispose()
    if not codes:
        raise SystemExit("no unrevoked certificate in the seed data")
    return codes, str(path)


def count_of(port: int, code: str) -> int:
    """The count the API reports (the API request itself is one more check)."""
    status, body = fetch(port, f"/api/v1/verify/{code}")
    match = re.search(rb'"check_count":\s*(\d+)', body)
    if status != 200 or match is None:
        raise SystemExit(f"/api/v1/verify/{code} answered {status}")
    return int(match.group(1)) - 1


def report(name: str, phase: Phase, seconds: float) -> tuple[float, float, float]:
    ms = phase.latencies_ms
    p50, p95, p99 = (percentile(ms, p) for p in (50, 95, 99))
    worst = max(ms, default=float("nan"))
    print(f"{name:<24}{len(ms):>7}{len(ms) / seconds:>8.1f}{phase.failures:>9}{p50:>9.1f}{p95:>9.1f}"
          f"{p99:>9.1f}{worst:>9.1f}   {dict(sorted(phase.statuses.items()))}")  # fmt: skip
    return p50, p95, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000, help="synthetic rows published (default 3000)")
    parser.add_argument("--rate", type=float, default=80.0, help="scans per second (default 80)")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of scans with no publish")
    parser.add_argument(
        "--database-url", default="", help="a throwaway PostgreSQL database (WIPED, then migrated and seeded)"
    )
    parser.add_argument(
        "--store", choices=("own", "registry"), default="own",
        help="SQLite only: 'registry' puts the check log in the registry's own file, to show what a "
        "store of its own avoids (scans then wait on the publish's write lock)",
    )  # fmt: skip
    args = parser.parse_args()

    port = common.free_port()
    extra = {}
    if args.store == "registry":
        if args.database_url:
            raise SystemExit(
                "--store registry is for SQLite (on PostgreSQL the log is in the registry database)"
            )
        extra["CHECKS_DATABASE_URL"] = f"sqlite:///{DATA / 'catalogue.sqlite3'}"
    env = common.server_env(DATA, port, args.database_url, **extra)
    t0 = time.perf_counter()
    codes, path = prepare(env, args.rows)
    print(f"setup (migrate, seed, index, {args.rows}-row synthetic XLSX): {time.perf_counter() - t0:.1f} s")
    server = common.start_server(env, port)
    baseline, load = Phase(), Phase()
    try:
        for code in codes:  # warm up both workers' page caches; counted below
            fetch(port, f"/v/{code}")
        warm = Counter(codes)
        base_s = fire(port, codes, args.rate, baseline, args.baseline)
        done = threading.Event()
        publish_log: dict[str, object] = {}

        def publish() -> None:
            started = time.perf_counter()
            result = subprocess.run(
                [str(BIN / "flask"), "--app", "catalogue", "import", path, "--as", EMAIL, "--lang", "en"],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            publish_log.update(
                rc=result.returncode, out=result.stdout.strip().splitlines()[-1:],
                err=result.stderr.strip()[-400:], seconds=time.perf_counter() - started,
            )  # fmt: skip
            done.set()

        publisher = threading.Thread(target=publish)
        publisher.start()
        load_s = fire(port, codes, args.rate, load, done)
        publisher.join()
        time.sleep(0.5)  # the last scans answer
        off = {
            c: count_of(port, c) - (warm[c] + baseline.ok_per_code[c] + load.ok_per_code[c]) for c in codes
        }
    finally:
        common.stop_server(server)

    database = "PostgreSQL" if args.database_url else f"SQLite, check log in {args.store} file"
    print(f"gunicorn 2 sync workers, {database}, {args.rate:g} scans/s open loop over {len(codes)} codes")
    print(f"publish: exit {publish_log['rc']} in {publish_log['seconds']:.1f} s: {publish_log['out']}")
    if publish_log["rc"] != 0:
        print(publish_log["err"])
    print(f"{'phase':<24}{'scans':>7}{'per s':>8}{'non-200':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}   statuses")  # fmt: skip
    _, _, base_p99 = report("baseline (no publish)", baseline, base_s)
    p50, p95, p99 = report(f"during {args.rows}-row publish", load, load_s)
    print(f"p99 during publish ÷ baseline p99: {p99 / base_p99:.2f} (budget: p99 ≤ {P99_BUDGET_MS:.0f} ms)")
    wrong = {c: d for c, d in off.items() if d}
    print("counts after the publish: " + ("exact for every code" if not wrong else f"OFF by {wrong}"))
    common.record(common.Row(
        "scans during publish", f"{args.rate:g}/s during {args.rows}-row publish",
        len(load.latencies_ms) / load_s, p50, p95, p99, load.failures,
        f"{args.rate:g}/s, no publish", len(baseline.latencies_ms) / base_s,
    ))  # fmt: skip
    ok = load.failures == 0 and p99 <= P99_BUDGET_MS and not wrong and publish_log["rc"] == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
