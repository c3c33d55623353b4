"""What the HTTP benchmarks share: a data folder with the real seed, gunicorn on a free
port, a plain HTTP client, percentiles, and the summary rows ``bench/report.py`` prints.

Each benchmark appends its headline rows to ``bench/data/summary.jsonl`` so that
``make bench`` ends with one table of every figure next to its in-run baseline.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SUMMARY = ROOT / "bench" / "data" / "summary.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data: Path, port: int, database_url: str = "", **extra: str) -> dict[str, str]:
    """A development environment on ``data`` with the limiter off (it is not what is measured)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(
        CATALOGUE_ENV="development",
        CATALOGUE_DATA_DIR=str(data),
        RATELIMIT_ENABLED="false",
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        **extra,
    )
    return env


def prepare_seeded(data: Path, env: dict[str, str]) -> None:
    """A fresh data folder holding the real seed data and its search index, through the CLI."""
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    if env.get("DATABASE_URL"):
        # Codes are signed with this data folder's fresh keys: start from an empty schema.
        sys.path.insert(0, str(ROOT))
        from sqlalchemy import text

        from catalogue.db import make_engine

        wipe = make_engine(env["DATABASE_URL"])
        with wipe.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        wipe.dispose()
    flask = [str(BIN / "flask"), "--app", "catalogue"]
    for command in (["db", "upgrade"], ["seed"], ["search", "rebuild"]):
        subprocess.run([*flask, *command], env=env, check=True, capture_output=True)


def start_server(env: dict[str, str], port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    """gunicorn with sync workers, once it answers ``/healthz``."""
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(workers), "--worker-class", "sync",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "catalogue:create_app()"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if fetch(port, "/healthz")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


@dataclass
class Row:
    """One line of the ``make bench`` table: a load and its baseline from the same run."""

    bench: str
    load: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    baseline: str
    baseline_rps: float


def record(row: Row) -> None:
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    with SUMMARY.open("a") as fh:
        fh.write(json.dumps(asdict(row)) + "\n")
