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

Every ``/v/<code>`` request is a full check: it counts (one ``UPDATE``), exactly as
a scan does. Exit status 1 when the ratio or the size budget is missed.

Usage: ``python bench/verify.py [--duration 5] [--rounds 5] [--connections 8] [--generator wrk|python]
[--database-url postgresql+psycopg2://…]``
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATA = ROOT / "bench" / "data" / "verify"
RATIO_TARGET = 0.7
SIZE_BUDGET = 20 * 1024

_WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p95_us=%d errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(95),
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(
        CATALOGUE_ENV="development",
        CATALOGUE_DATA_DIR=str(DATA),
        RATELIMIT_ENABLED="false",
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    return env


def prepare(env: dict[str, str]) -> str:
    """A fresh data dir with the real seed data; returns a currently valid code.

    With ``--database-url`` the records go to that (throwaway) database instead of SQLite.
    """
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    from catalogue.db import make_engine

    if env.get("DATABASE_URL"):
        # Codes are signed with this data dir's fresh development key: start from an empty schema.
        wipe = make_engine(env["DATABASE_URL"])
        with wipe.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        wipe.dispose()
    flask = [str(BIN / "flask"), "--app", "catalogue"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*flask, "seed"], env=env, check=True, capture_output=True)
    # /healthz checks the search index too.
    subprocess.run([*flask, "search", "rebuild"], env=env, check=True, capture_output=True)
    engine = make_engine(env.get("DATABASE_URL") or f"sqlite:///{DATA / 'catalogue.sqlite3'}")
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT verify_code FROM certificate WHERE revoked_on IS NULL "
                 "AND expires_on >= :today ORDER BY id LIMIT 1"),
            {"today": date.today()},
        ).first()  # fmt: skip
    engine.dispose()
    if row is None:
        raise SystemExit("no valid certificate in the seed data")
    return str(row[0])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--worker-class", "sync",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "catalogue:create_app()"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            status, _ = fetch(port, "/healthz")
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


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


def run_wrk(port: int, path: str, duration: int, connections: int) -> tuple[float, float]:
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
    match = re.search(r"BENCH requests=(\d+) duration_us=(\d+) p95_us=(\d+) errors=(\d+)", out)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    requests, duration_us, p95_us, errors = (int(g) for g in match.groups())
    if errors:
        raise SystemExit(f"{errors} errors while loading {path}")
    return requests / (duration_us / 1e6), p95_us / 1000


def run_threads(port: int, path: str, duration: int, connections: int) -> tuple[float, float]:
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
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(0.95 * (len(latencies) - 1))] * 1000


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
    port = _free_port()
    env = _env(port, args.database_url)
    code = prepare(env)
    server = start_server(env, port)
    try:
        page = f"/v/{code}"
        status, html = fetch(port, page, {"Accept-Language": "vi"})
        if status != 200:
            raise SystemExit(f"{page} answered {status}")
        css_path = re.search(rb'href="(/static/css/[^"]+\.css)"', html)
        css = fetch(port, css_path.group(1).decode())[1] if css_path else b""
        for path in ("/healthz", page):  # warm up both workers
            load(port, path, 1, args.connections)
        results: dict[str, list[tuple[float, float]]] = {"/healthz": [], page: []}
        cpu: dict[str, list[float]] = {"/healthz": [], page: []}
        for _ in range(args.rounds):
            for path in ("/healthz", page):
                before = _worker_cpu(server.pid)
                rps, p95 = load(port, path, args.duration, args.connections)
                results[path].append((rps, p95))
                # Server CPU per request hardly depends on what else the machine runs.
                cpu[path].append((_worker_cpu(server.pid) - before) / (rps * args.duration) * 1000)
        _, counted = fetch(port, f"/api/v1/verify/{code}")
    finally:
        server.terminate()
        server.wait(timeout=10)

    def summary(path: str) -> tuple[float, float]:
        rows = results[path]
        return statistics.median(r for r, _ in rows), statistics.median(p for _, p in rows)

    bare_rps, bare_p95 = summary("/healthz")
    page_rps, page_p95 = summary(page)
    # Each page round runs right after its /healthz round, so the pair shares the
    # machine's conditions; the median of pair ratios resists outside load best.
    pairs = [p / b for (b, _), (p, _) in zip(results["/healthz"], results[page], strict=True)]
    ratio = statistics.median(pairs)
    size = len(html) + len(css)
    generator = "wrk" if use_wrk else "python threads"
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"generator: {generator}, {args.connections} connections, "
          f"{args.rounds} × {args.duration} s rounds, gunicorn 2 sync workers, {database}")  # fmt: skip
    print(f"{'endpoint':<26}{'req/s (median)':>16}{'p95 ms':>10}   rounds req/s")
    for path, (rps, p95) in (("/healthz", (bare_rps, bare_p95)), ("/v/<code>", (page_rps, page_p95))):
        key = "/healthz" if path == "/healthz" else page
        rounds = ", ".join(f"{r:.0f}" for r, _ in results[key])
        print(f"{path:<26}{rps:>16.0f}{p95:>10.2f}   {rounds}")
    print(f"ratio /v/<code> ÷ /healthz: {ratio:.2f} median of paired rounds "
          f"({', '.join(f'{r:.2f}' for r in pairs)}); of medians {page_rps / bare_rps:.2f} "
          f"(target ≥ {RATIO_TARGET})")  # fmt: skip
    bare_cpu, page_cpu = statistics.median(cpu["/healthz"]), statistics.median(cpu[page])
    print(f"server CPU per request: /healthz {bare_cpu:.3f} ms, /v/<code> {page_cpu:.3f} ms "
          f"(ratio {bare_cpu / page_cpu:.2f})")  # fmt: skip
    print(f"page bytes: HTML {len(html)} + CSS {len(css)} = {size} (budget {SIZE_BUDGET})")
    print(f"check_count after the run: {_count(counted)}")
    ok = ratio >= RATIO_TARGET and size <= SIZE_BUDGET
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _count(body: bytes) -> str:
    match = re.search(rb'"check_count":\s*(\d+)', body)
    return match.group(1).decode() if match else "?"


if __name__ == "__main__":
    sys.exit(main())
