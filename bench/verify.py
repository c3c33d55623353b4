"""Verification page benchmark: ``/v/<code>`` against ``/healthz`` under gunicorn.

Budget (DESIGN §5): the scan page's throughput is at least 70% of a bare
endpoint of the same app, under the same server, in the same run; its HTML+CSS
is at most 20 KB.

What it does:

1. builds a fresh data dir under ``bench/data/verify`` (migrate, real seed data,
   search index — ``/healthz`` checks both the database and the index);
2. starts gunicorn with 2 sync workers on a free loopback port
   (``CATALOGUE_ENV=development``, ``RATELIMIT_ENABLED=false`` so the limiter is
   not what is measured);
3. alternates ``/healthz`` and ``/v/<code>`` rounds (``--rounds`` each) with the same
   bounded load generator — ``wrk`` when installed (Debian package ``wrk``), else
   Python threads with ``http.client`` — and reports the median throughput and
   p95 latency of each, their ratio (median over back-to-back pairs of rounds)
   and the page's bytes.

Every ``/v/<code>`` request is a full check: it counts (a row in the check log),
exactly as a scan does. Exit status 1 when the ratio or the size budget is missed.

Usage: ``python bench/verify.py [--duration 5] [--rounds 5] [--connections 8] [--generator wrk|python]
[--database-url postgresql+psycopg2://…]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common
from common import ROOT, fetch, percentile

DATA = ROOT / "bench" / "data" / "verify"
RATIO_TARGET = 0.7
SIZE_BUDGET = 20 * 1024

_WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
"""


def prepare(env: dict[str, str]) -> str:
    """A fresh data dir with the real seed data; returns a currently valid code.

    With ``--database-url`` the records go to that (throwaway) database instead of SQLite.
    """
    common.prepare_seeded(DATA, env)
    from sqlalchemy import text

    from catalogue.db import make_engine

    engine = make_engine(env.get("DATABASE_URL") or f"sqlite:///{DATA / 'catalogue.sqlite3'}")
    with engine.connect() as conn:
        row = conn.execute(
            # The newest certificate not revoked: its verdict is most likely "valid".
            text("SELECT verify_code FROM certificate WHERE revoked_on IS NULL ORDER BY issued_on DESC, id "
                 "LIMIT 1"),
        ).first()  # fmt: skip
    engine.dispose()
    if row is None:
        raise SystemExit("no unrevoked certificate in the seed data")
    return str(row[0])


def _worker_cpu(master: int) -> float:
    """CPU seconds used so far by gunicorn's workers (user + system, from /proc)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return float("nan")
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- load generators


#: requests/s, then p50, p95 and p99 latency in milliseconds.
Stats = tuple[float, float, float, float]


def run_wrk(port: int, path: str, duration: int, connections: int) -> Stats:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_WRK_SCRIPT)
        script = fh.name
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", script,
             "-H", "Accept-Language: vi", f"http://127.0.0.1:{port}{path}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script)
    pattern = r"BENCH requests=(\d+) duration_us=(\d+) p50_us=(\d+) p95_us=(\d+) p99_us=(\d+) errors=(\d+)"
    match = re.search(pattern, out)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    requests, duration_us, p50_us, p95_us, p99_us, errors = (int(g) for g in match.groups())
    if errors:
        raise SystemExit(f"{errors} errors while loading {path}")
    return requests / (duration_us / 1e6), p50_us / 1000, p95_us / 1000, p99_us / 1000


def run_threads(port: int, path: str, duration: int, connections: int) -> Stats:
    """Fallback: ``connections`` threads, each a new connection per request (sync workers close them)."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration
    failures = []

    def worker() -> None:
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            status, _ = fetch(port, path, {"Accept-Language": "vi"})
            mine.append(time.perf_counter() - t0)
            if status != 200:
                failures.append(status)
        with lock:
            latencies.extend(mine)

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if failures:
        raise SystemExit(f"{len(failures)} non-200 answers while loading {path}")
    ms = [x * 1000 for x in latencies]
    return len(ms) / elapsed, percentile(ms, 50), percentile(ms, 95), percentile(ms, 99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per endpoint (alternating)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--database-url", default="", help="a throwaway PostgreSQL database (WIPED, then migrated and seeded)"
    )
    args = parser.parse_args()

    use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))
    load = run_wrk if use_wrk else run_threads
    port = common.free_port()
    env = common.server_env(DATA, port, args.database_url)
    code = prepare(env)
    server = common.start_server(env, port)
    try:
        page = f"/v/{code}"
        status, html = fetch(port, page, {"Accept-Language": "vi"})
        if status != 200:
            raise SystemExit(f"{page} answered {status}")
        css_path = re.search(rb'href="(/static/css/[^"]+\.css)"', html)
        css = fetch(port, css_path.group(1).decode())[1] if css_path else b""
        for path in ("/healthz", page):  # warm up both workers
            load(port, path, 1, args.connections)
        results: dict[str, list[Stats]] = {"/healthz": [], page: []}
        cpu: dict[str, list[float]] = {"/healthz": [], page: []}
        for _ in range(args.rounds):
            for path in ("/healthz", page):
                before = _worker_cpu(server.pid)
                stats = load(port, path, args.duration, args.connections)
                results[path].append(stats)
                rps = stats[0]
                # Server CPU per request hardly depends on what else the machine runs.
                cpu[path].append((_worker_cpu(server.pid) - before) / (rps * args.duration) * 1000)
        _, counted = fetch(port, f"/api/v1/verify/{code}")
    finally:
        common.stop_server(server)

    def summary(path: str) -> Stats:
        rows = results[path]
        rps, p50, p95, p99 = (statistics.median(r[i] for r in rows) for i in range(4))
        return rps, p50, p95, p99

    bare_rps, _, bare_p95, _ = summary("/healthz")
    page_rps, page_p50, page_p95, page_p99 = summary(page)
    # Each page round runs right after its /healthz round, so the pair shares the
    # machine's conditions; the median of pair ratios resists outside load best.
    pairs = [p[0] / b[0] for b, p in zip(results["/healthz"], results[page], strict=True)]
    ratio = statistics.median(pairs)
    size = len(html) + len(css)
    generator = "wrk" if use_wrk else "python threads"
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"generator: {generator}, {args.connections} connections, "
          f"{args.rounds} × {args.duration} s rounds, gunicorn 2 sync workers, {database}")  # fmt: skip
    print(f"{'endpoint':<26}{'req/s (median)':>16}{'p95 ms':>10}   rounds req/s")
    for path, (rps, p95) in (("/healthz", (bare_rps, bare_p95)), ("/v/<code>", (page_rps, page_p95))):
        key = "/healthz" if path == "/healthz" else page
        rounds = ", ".join(f"{r[0]:.0f}" for r in results[key])
        print(f"{path:<26}{rps:>16.0f}{p95:>10.2f}   {rounds}")
    print(f"ratio /v/<code> ÷ /healthz: {ratio:.2f} median of paired rounds "
          f"({', '.join(f'{r:.2f}' for r in pairs)}); of medians {page_rps / bare_rps:.2f} "
          f"(target ≥ {RATIO_TARGET})")  # fmt: skip
    bare_cpu, page_cpu = statistics.median(cpu["/healthz"]), statistics.median(cpu[page])
    print(f"server CPU per request: /healthz {bare_cpu:.3f} ms, /v/<code> {page_cpu:.3f} ms "
          f"(ratio {bare_cpu / page_cpu:.2f})")  # fmt: skip
    print(f"page bytes: HTML {len(html)} + CSS {len(css)} = {size} (budget {SIZE_BUDGET})")
    print(f"check_count after the run: {_count(counted)}")
    common.record(common.Row("verify", f"/v/<code> ×{args.connections}", page_rps, page_p50, page_p95,
                             page_p99, 0, f"/healthz ×{args.connections}", bare_rps))  # fmt: skip
    ok = ratio >= RATIO_TARGET and size <= SIZE_BUDGET
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _count(body: bytes) -> str:
    match = re.search(rb'"check_count":\s*(\d+)', body)
    return match.group(1).decode() if match else "?"


if __name__ == "__main__":
    sys.exit(main())
