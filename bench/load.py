"""Mixed load with rising concurrency: scans, searches and product pages under gunicorn.

A trade-fair afternoon in miniature: each client loops over a random mix of
``/v/<code>`` (half), ``/search?q=…`` (three in ten) and ``/products/<slug>`` (two in
ten) on the real seed data, at 1, 4, 16 and 32 concurrent clients, 15 s each (60 s
in all). Each stage's baseline is ``/healthz`` (database and index ping, same app,
same server) at the same concurrency for a third of the time, so the ratio says what
the pages cost beyond serving a request at all. Errors are any answer other than 200
or a connection failure; the exit status is 1 when there are any.

Usage: ``python bench/load.py [--stage-seconds 15] [--clients 1,4,16,32] [--database-url …]``
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import common
from common import ROOT, Row, fetch, percentile

DATA = ROOT / "bench" / "data" / "load"
WORDS = ["banh", "chè", "nuoc mam", "gốm", "mây tre", "rượu", "dệt", "mật ong", "gạo", "cà phê"]


def _targets(database_url: str) -> tuple[list[str], list[str]]:
    """Every verification code and product slug of the seeded data."""
    if database_url:
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url)
        with engine.connect() as conn:
            codes = list(conn.execute(text("SELECT verify_code FROM certificate")).scalars())
            slugs = list(conn.execute(text("SELECT slug FROM product")).scalars())
        engine.dispose()
        return codes, slugs
    with sqlite3.connect(DATA / "catalogue.sqlite3") as con:
        codes = [r[0] for r in con.execute("SELECT verify_code FROM certificate")]
        slugs = [r[0] for r in con.execute("SELECT slug FROM product")]
    return codes, slugs


def drive(port: int, clients: int, seconds: float, pick: Callable[[random.Random], str]) -> Row:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng, mine, bad = random.Random(seed), [], 0
        while time.monotonic() < stop_at:
            path = pick(rng)
            t0 = time.perf_counter()
            try:
                status, _ = fetch(port, path, {"Accept-Language": "vi"})
            except OSError:
                status = 0
            mine.append(time.perf_counter() - t0)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    ms = [x * 1000 for x in latencies]
    return Row("", "", len(ms) / elapsed, percentile(ms, 50), percentile(ms, 95), percentile(ms, 99),
               errors[0], "", 0.0)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage-seconds", type=float, default=15)
    parser.add_argument("--clients", default="1,4,16,32")
    parser.add_argument("--database-url", default="", help="a throwaway PostgreSQL database (WIPED)")
    args = parser.parse_args()
    port = common.free_port()
    env = common.server_env(DATA, port, args.database_url)
    common.prepare_seeded(DATA, env)
    codes, slugs = _targets(args.database_url)
    if not codes or not slugs:
        raise SystemExit("the seed holds no certificates or products")

    def mixed(rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.5:
            return f"/v/{rng.choice(codes)}"
        if roll < 0.8:
            return f"/search?q={quote(rng.choice(WORDS))}"
        return f"/products/{rng.choice(slugs)}"

    server = common.start_server(env, port)
    rows: list[Row] = []
    try:
        drive(port, 2, 2, mixed)  # warm both workers (facet tables, templates)
        for clients in (int(c) for c in args.clients.split(",")):
            base = drive(port, clients, args.stage_seconds / 3, lambda _rng: "/healthz")
            row = drive(port, clients, args.stage_seconds, mixed)
            row.bench, row.load = "load", f"mixed ×{clients}"
            row.baseline, row.baseline_rps = f"/healthz ×{clients}", base.rps
            rows.append(row)
            common.record(row)
    finally:
        common.stop_server(server)
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"mixed load: 50% /v/<code>, 30% /search, 20% /products; gunicorn 2 sync workers, {database}")
    print(f"{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'/healthz req/s':>16}{'ratio':>7}")  # fmt: skip
    for row in rows:
        ratio = row.rps / row.baseline_rps
        print(f"{row.load.split('×')[1]:>8}{row.rps:>9.0f}{row.p50_ms:>9.1f}{row.p95_ms:>9.1f}"
              f"{row.p99_ms:>9.1f}{row.errors:>8}{row.baseline_rps:>16.0f}{ratio:>7.2f}")  # fmt: skip
    failed = sum(r.errors for r in rows) + sum(r.rps == 0 for r in rows)
    print("PASS" if not failed else f"FAIL: {failed} errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
