"""Do the documented limits hold under gunicorn's 2 workers (``make run``)? Prints figures.

Not a speed benchmark: the pytest suite runs one process, where every app
shares one limiter, so "twice the figures across two workers" can only be seen
here. What it does, on a fresh seeded data folder (``bench/data/limits``):

1. starts gunicorn with 2 sync workers, limits on, without Redis, then with
   ``REDIS_URL`` (``--redis``, default ``redis://127.0.0.1:6379/14``, flushed first);
2. sign-in: 20 wrong-password POSTs from one address with different e-mails
   (documented: 10 a minute per address, kept in the database; the per-e-mail
   figure is shared the same way, see ``tests/test_limits.py``);
3. verification: one client asks one code 130 times (documented: 60 a minute per
   address and code) and walks 30 unknown codes (20 misses a minute);
4. every 429 is checked for ``Retry-After``.

Exit status 1 when a sign-in figure is exceeded or a 429 lacks ``Retry-After``.
Usage: ``python bench/rate_limits.py [--redis redis://127.0.0.1:6379/14]``
"""

from __future__ import annotations

import argparse
import http.client
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, free_port, prepare_seeded, server_env, start_server, stop_server  # noqa: E402

DATA = ROOT / "bench" / "data" / "limits"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _request(port: int, method: str, path: str, body: str = "", cookie: str = "") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Connection": "close"}
    if cookie:
        headers["Cookie"] = cookie
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    response.read()
    return response


def _sign_in(port: int, email: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/admin/login", headers={"Connection": "close"})
    page = conn.getresponse()
    html = page.read().decode()
    cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
    match = _TOKEN.search(html)
    assert match, "no CSRF token on /admin/login"
    token = match.group(1)
    from urllib.parse import urlencode

    body = urlencode({"csrf_token": token, "email": email, "password": "wrong password 123"})
    return _request(port, "POST", "/admin/login", body, cookie)


def _tally(responses: list[http.client.HTTPResponse]) -> tuple[int, int, int]:
    """(answered, refused, refused without Retry-After)."""
    refused = [r for r in responses if r.status == 429]
    bare = sum(1 for r in refused if not r.getheader("Retry-After"))
    return len(responses) - len(refused), len(refused), bare


def _code(data: Path) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{data / 'catalogue.sqlite3'}")
    with engine.connect() as conn:
        code = conn.execute(text("SELECT verify_code FROM certificate ORDER BY id LIMIT 1")).scalar_one()
    engine.dispose()
    return str(code)


def run(label: str, redis_url: str) -> bool:
    port = free_port()
    env = server_env(DATA, port)
    prepare_seeded(DATA, env)
    env["RATELIMIT_ENABLED"] = "true"
    if redis_url:
        env["REDIS_URL"] = redis_url
    code = _code(DATA)
    proc = start_server(env, port)
    try:
        per_address = _tally([_sign_in(port, f"x{n}@so.gov.vn") for n in range(20)])
        hammer = _tally([_request(port, "GET", f"/v/{code}") for _ in range(130)])
        walker = _tally([_request(port, "GET", f"/v/{code[:-4]}{n:04d}") for n in range(30)])
    finally:
        stop_server(proc)
    print(f"{label}:")
    print(f"  sign-in, one address, 20 e-mails:  {per_address[0]:3d} answered (documented 10), "
          f"{per_address[1]} refused, {per_address[2]} without Retry-After")  # fmt: skip
    print(f"  /v/<code>, one client, 130 checks:  {hammer[0]:3d} answered (documented 60), "
          f"{hammer[1]} refused, {hammer[2]} without Retry-After")  # fmt: skip
    print(f"  unknown codes, one client, 30:      {walker[0]:3d} answered (documented 20), "
          f"{walker[1]} refused, {walker[2]} without Retry-After")  # fmt: skip
    return per_address[0] <= 10 and not (per_address[2] or hammer[2] or walker[2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    ok = run("2 workers, no REDIS_URL", "")
    try:
        subprocess.run(["redis-cli", "-u", args.redis, "flushdb"], check=True, capture_output=True)
        ok = run(f"2 workers, REDIS_URL={args.redis}", args.redis) and ok
    except (OSError, subprocess.CalledProcessError):
        print("Redis not reachable: the shared-counter run is skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
