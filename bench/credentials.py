"""Signed credentials at scale: a certificate's credential, the revocation lists and the offline check.

    .venv/bin/python bench/credentials.py [--n 100000] [--requests 300] [--repeat 30] [--keep]

Generates N clearly synthetic products (``bench.search.generate``: every name starts with
"[SYNTHETIC]", 1–2 certificates each, about 1 % with a revocation date) in a fresh SQLite data
folder under ``bench/data/credentials/<n>/`` (never the demo data). Each certificate gets a
verification code signed with the bench's key, each revoked one the ``revoked`` event
``revoke_certificate`` would have written (bulk SQL; :data:`REAL_PATH` more are revoked through
``revoke_certificate`` itself, as the check of that shortcut), and the search index is built
(``/healthz``, which the server start waits for, reads it).

Under gunicorn (2 sync workers, ``bench/common.py``), after a warm-up per worker:

1. ``GET /api/v1/verify/<code>/credential`` on ``--requests`` random codes, each paired with the
   existing JSON verdict ``GET /api/v1/verify/<code>`` on the same code (alternating which goes
   first). Budget: the credential's p95 within 2× the verdict's.
2. ``GET /api/v1/status-lists/0`` and the last list (the highest number answering 200),
   ``--repeat`` times each, against ``/healthz``. Budget: p95 ≤ 500 ms. Each list's bits must
   be exactly the revoked certificates' entries.
3. ``flask --app catalogue credential verify FILE --jwks FILE --status-list FILE`` on a saved
   valid credential and a revoked one (its wall time, start-up included), against
   ``flask --app catalogue credential --help`` (the same start-up, no check), and the check alone
   in this process. Budget: the median of ``--runs`` ≤ 3 s.

Then, in process, where a list's time goes: each SQL statement of ``revoked_positions`` (caught
through the engine's cursor events, run again timed, with SQLite's query plan), the bits'
encoding and the signing. ``--keep`` reuses the data, and its index unless that no longer opens.

Headline rows go to ``bench/data/summary.jsonl`` for ``make bench``'s table. Exit status 1 when a
budget is missed, a request is not a 200 or a list's bits are wrong.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself: a module there could shadow an installed package of the same name.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import event, insert, update  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from bench import common  # noqa: E402
from bench.search import generate  # noqa: E402
from catalogue import create_app, migrate  # noqa: E402
from catalogue.accounts.permissions import SYSTEM  # noqa: E402
from catalogue.clock import today, utcnow  # noqa: E402
from catalogue.credentials import checking, issuing, keys, status_list  # noqa: E402
from catalogue.db import get_engine  # noqa: E402
from catalogue.registry.certificates import revoke_certificate  # noqa: E402
from catalogue.registry.codes import new_code  # noqa: E402
from catalogue.registry.models import Certificate, CertificateEvent  # noqa: E402
from catalogue.search.builds import rebuild  # noqa: E402
from catalogue.search.index import current_name, open_dir  # noqa: E402

DATA = ROOT / "bench" / "data" / "credentials"
SECRETS = {"SECRET_KEY": "bench-credentials", "VERIFY_KEYS": "a:bench-credentials"}
VERIFY_KEYS = {"a": "bench-credentials"}
#: Certificates revoked through ``revoke_certificate`` itself (the rest of the ~1 % in bulk).
REAL_PATH = 20
CREDENTIAL_RATIO_BUDGET = 2.0
LIST_BUDGET_S = 0.5
CLI_BUDGET_S = 3.0
FLASK = [str(common.BIN / "flask"), "--app", "catalogue"]


def _app(data: Path, base: str) -> Flask:
    return create_app({"ENV": "development", "CATALOGUE_DATA_DIR": data, "DATABASE_URL": "",
                       "SECRET_KEY": SECRETS["SECRET_KEY"], "VERIFY_KEYS": VERIFY_KEYS,
                       "RATELIMIT_ENABLED": False, "PUBLIC_BASE_URL": base})  # fmt: skip


def _prepare(data: Path, n: int, base: str) -> None:
    """Synthetic products with codes, their revocations' events, the signing key and the search index."""
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
            ids = session.exec(select(Certificate.id)).all()
            codes = [{"id": i, "verify_code": new_code(VERIFY_KEYS, "a")} for i in ids]
            session.execute(update(Certificate), codes)
            # What revoke_certificate writes for each (the audit and change-feed rows aside).
            revoked = session.exec(select(col(Certificate.id), col(Certificate.revoked_on))
                                   .where(col(Certificate.revoked_on).is_not(None))).all()  # fmt: skip
            reason, reference = "[SYNTHETIC] bench revocation", "[SYNTHETIC] QĐ-BENCH"
            said = [{"id": i, "revoked_reason": reason, "revoked_reference": reference} for i, _on in revoked]
            session.execute(update(Certificate), said)
            session.execute(insert(CertificateEvent), [
                {"certificate_id": i, "kind": "revoked", "effective_on": on, "recorded_at": now,
                 "reason": reason, "reference": reference} for i, on in revoked
            ])  # fmt: skip
            session.commit()
        with app.test_request_context("/"), Session(engine) as session:
            standing = session.exec(select(Certificate.id).where(col(Certificate.revoked_on).is_(None))).all()
            for cid in random.Random(3).sample(list(standing), REAL_PATH):
                certificate = session.get(Certificate, cid)
                assert certificate is not None
                revoke_certificate(
                    session,
                    actor=SYSTEM,
                    certificate=certificate,
                    reason="[SYNTHETIC] bench revocation",
                    reference="[SYNTHETIC] QĐ-BENCH-REAL",
                )
                session.commit()
        total = len(revoked) + REAL_PATH
        print(f"generated {n:,} synthetic products, {len(ids):,} certificates with codes, {total:,} revoked "
              f"({total / len(ids):.2%}; {REAL_PATH} through revoke_certificate) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        keys.load(app.config)  # the signing key, made once here rather than raced for by two workers
    _index(app)


def _index(app: Flask) -> None:
    """The search index; with ``--keep`` only when the kept one no longer opens (its schema changed, say),
    as the server's workers would otherwise each build it in the background while being measured."""
    root = Path(app.config["INDEX_DIR"])
    name = current_name(root)
    try:
        if name is None:
            raise FileNotFoundError(root)
        open_dir(root, name).close()
        return
    except Exception as exc:  # noqa: BLE001 - missing or unusable: build it
        print(f"search index: none usable ({exc})")
    with app.app_context():
        report = rebuild(root, get_engine(), procs=2)
    print(f"search index: {report.documents:,} documents in {report.seconds:.1f} s")


# ----------------------------------------------------------------------------- what to ask for


def _targets(data: Path, count: int) -> tuple[list[str], str, str, dict[int, set[int]]]:
    """Random codes, a valid and a revoked certificate's code, and each list's revoked positions.

    The expected bits are worked out here from the certificates alone (no reinstatement in this data:
    a certificate's entry is ``2 × id``), not by the module under test."""
    with sqlite3.connect(data / "catalogue.sqlite3") as con:
        codes = [r[0] for r in con.execute("SELECT verify_code FROM certificate ORDER BY id")]
        valid = con.execute("SELECT verify_code FROM certificate WHERE revoked_on IS NULL AND expires_on > ? "
                            "ORDER BY id LIMIT 1", (today().isoformat(),)).fetchone()[0]  # fmt: skip
        revoked = con.execute("SELECT verify_code FROM certificate WHERE revoked_on IS NOT NULL "
                              "ORDER BY id DESC LIMIT 1").fetchone()[0]  # fmt: skip
        expected: dict[int, set[int]] = {}
        for (cid,) in con.execute("SELECT id FROM certificate WHERE revoked_on IS NOT NULL"):
            expected.setdefault(2 * cid // status_list.LIST_SIZE, set()).add(2 * cid % status_list.LIST_SIZE)
    return random.Random(11).sample(codes, count), valid, revoked, expected


def _timed(port: int, path: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    status, body = common.fetch(port, path)
    return time.perf_counter() - started, status, body


def _payload(token: bytes) -> dict[str, Any]:
    """A compact JWS's payload, unverified (the CLI step checks signatures)."""
    body = token.split(b".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
    return result


def _local(url: str) -> str:
    return "/" + url.split("/", 3)[3]


Line = tuple[str, list[float], int, int]  # label, seconds, errors, bytes of the last answer


def _credentials(port: int, codes: list[str]) -> tuple[Line, Line]:
    """The credential and the verdict on the same codes, alternating which goes first."""
    warm, codes = codes[0], codes[1:]
    for _ in range(2):  # one per worker: first-use loading (keys, templates) is not what is measured
        common.fetch(port, f"/api/v1/verify/{warm}/credential")
        common.fetch(port, f"/api/v1/verify/{warm}")
    got: dict[str, tuple[list[float], list[int], list[int]]] = {"c": ([], [], []), "v": ([], [], [])}
    for i, code in enumerate(codes):
        pair = [("c", f"/api/v1/verify/{code}/credential"), ("v", f"/api/v1/verify/{code}")]
        for which, path in pair if i % 2 == 0 else pair[::-1]:
            seconds, status, body = _timed(port, path)
            got[which][0].append(seconds)
            got[which][1].append(status != 200)
            got[which][2].append(len(body))
    c, v = got["c"], got["v"]
    return (("`/api/v1/verify/<code>/credential`", c[0], sum(c[1]), int(sum(c[2]) / len(c[2]))),
            ("`/api/v1/verify/<code>` (baseline)", v[0], sum(v[1]), int(sum(v[2]) / len(v[2]))))  # fmt: skip


def _repeat(port: int, label: str, path: str, repeat: int) -> tuple[Line, bytes]:
    for _ in range(2):  # one per worker
        common.fetch(port, path)
    times, errors, body = [], 0, b""
    for _ in range(repeat):
        seconds, status, body = _timed(port, path)
        times.append(seconds)
        errors += status != 200
    return (label, times, errors, len(body)), body


def _last_list(port: int) -> int:
    number = 0
    while common.fetch(port, f"/api/v1/status-lists/{number + 1}")[0] == 200:
        number += 1
    return number


def _bits_right(body: bytes, expected: set[int]) -> tuple[bool, int]:
    bits = status_list.decode(_payload(body)["credentialSubject"]["encodedList"])
    found = {i for i in range(len(bits) * 8) if bits[i // 8] & (0x80 >> (i % 8))}
    return found == expected, len(found)


# ----------------------------------------------------------------------------- the offline check


CliLine = tuple[str, list[float], bool, str, float]  # label, seconds, as expected, verdict, the check alone


def _cli(port: int, data: Path, env: dict[str, str], valid: str, revoked: str, runs: int
         ) -> tuple[list[CliLine], bool]:  # fmt: skip
    """``credential verify`` on a saved valid and revoked credential; ``credential --help`` as baseline.

    Also the check alone (``checking.check`` on the same files in this process), to tell it from start-up."""
    folder = data / "cli"
    folder.mkdir(exist_ok=True)
    jwks = folder / "jwks.json"
    jwks.write_bytes(common.fetch(port, "/.well-known/jwks.json")[1])
    cases = []
    for name, code, verdict in (("valid", valid, "valid"), ("revoked", revoked, "revoked")):
        token = common.fetch(port, f"/api/v1/verify/{code}/credential")[1]
        (folder / f"{name}.jwt").write_bytes(token)
        url = _payload(token)["credentialStatus"]["statusListCredential"]
        (folder / f"{name}-list.jwt").write_bytes(common.fetch(port, _local(url))[1])
        command = [*FLASK, "credential", "verify", str(folder / f"{name}.jwt"), "--jwks", str(jwks),
                   "--status-list", str(folder / f"{name}-list.jwt")]  # fmt: skip
        cases.append((f"`credential verify` ({name}, list {url.rsplit('/', 1)[1]})", command, verdict))
    cases.insert(0, ("`flask credential --help` (baseline)", [*FLASK, "credential", "--help"], ""))
    lines, right = [], True
    for label, command, verdict in cases:
        files = [Path(command[command.index(option) + 1]) for option in ("verify", "--jwks", "--status-list")
                 if option in command]  # fmt: skip
        times, said = [], ""
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
            times.append(time.perf_counter() - started)
            said = done.stdout.splitlines()[0] if done.stdout else done.stderr[-300:]
            expected_rc = 0 if verdict in ("", "valid") else 1
            ok = done.returncode == expected_rc and (not verdict or said == f"credential: {verdict}")
            right &= ok
        alone = 0.0
        if verdict:
            saved, jwks_doc, listed = (f.read_text().strip() for f in files)
            key_set = keys.public_key_set(json.loads(jwks_doc))
            started = time.perf_counter()
            for _ in range(10):
                checking.check(saved, key_set, listed, utcnow())
            alone = (time.perf_counter() - started) / 10
        lines.append((label, times, ok, said, alone))
    return lines, right


# ----------------------------------------------------------------------------- where a list's time goes


def _best(run: Callable[[], Any], times: int = 5) -> tuple[float, Any]:
    """The fastest of ``times`` runs (the machine is shared: the least disturbed one) and its result."""
    best, result = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def _profile(data: Path, base: str, number: int) -> None:
    """The parts of one list in process, each the fastest of 5 runs. The SQL statements
    ``revoked_positions`` sends are caught as sent and run again, timed to their last row (SQLite
    runs a statement while its rows are fetched)."""
    app = _app(data, base)
    with app.app_context(), app.test_request_context("/", base_url=base), get_engine().connect() as conn:
        sent: list[tuple[str, Any]] = []

        def catch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            sent.append((statement, parameters))

        event.listen(conn.engine, "before_cursor_execute", catch)
        try:
            status_list.revoked_positions(conn, number)
        finally:
            event.remove(conn.engine, "before_cursor_execute", catch)
        sql, state = _best(lambda: status_list.revoked_positions(conn, number))
        positions = getattr(state, "positions", state)  # a ListState since 1 December, a list before
        encoding, encoded = _best(lambda: status_list.encode(positions))
        whole, _token = _best(lambda: issuing.status_list_credential(conn, number, 300))
        print(f"  list {number}: {whole * 1000:.1f} ms = revoked_positions {sql * 1000:.1f} ms "
              f"({len(positions):,} positions) + encode {encoding * 1000:.1f} ms ({len(encoded):,} chars) "
              f"+ payload and signing {(whole - sql - encoding) * 1000:.1f} ms")  # fmt: skip
        for statement, parameters in sent:
            seconds, rows = _best(lambda: conn.exec_driver_sql(statement, parameters).fetchall())  # noqa: B023
            text = re.sub(r"(\?, ){5,}\?", "?, …", " ".join(statement.split()))  # long IN lists cut short
            shown = parameters if len(parameters) <= 6 else f"({', '.join(map(repr, parameters[:4]))}, … "
            shown = shown if len(parameters) <= 6 else f"{shown}{len(parameters)} in all)"
            print(f"  {seconds * 1000:7.1f} ms, {len(rows):,} rows: {text}  {shown}")
            for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters):
                print(f"             plan: {row[-1]}")


# ----------------------------------------------------------------------------- main


def _print(lines: list[Line], baseline: Line, budget: str) -> None:
    print(
        f"  {'request':<44}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'errors':>7}{'bytes':>9}{'p95 ratio':>10}"
    )
    for label, times, errors, size in lines:
        p50, p95 = common.percentile(times, 50) * 1000, common.percentile(times, 95) * 1000
        ratio = p95 / (common.percentile(baseline[1], 95) * 1000)
        print(f"  {label:<44}{p50:9.1f}{p95:9.1f}{max(times) * 1000:9.1f}{errors:7d}{size:9,}{ratio:10.2f}")
    print(f"  budget: {budget}")


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _record(line: Line, baseline: Line) -> None:
    label, times, errors, _size = line
    p50, p95, p99 = (common.percentile(times, pct) * 1000 for pct in (50, 95, 99))
    common.record(common.Row("credentials", label, len(times) / sum(times), p50, p95, p99, errors,
                             baseline[0], len(baseline[1]) / sum(baseline[1])))  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="synthetic products (default 100000)")
    ap.add_argument("--requests", type=int, default=300, help="random codes for the credential (default 300)")
    ap.add_argument("--repeat", type=int, default=30, help="requests per revocation list (default 30)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each CLI check (default 3)")
    ap.add_argument("--keep", action="store_true", help="reuse the generated data and index if present")
    args = ap.parse_args()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress when redirected
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    data = DATA / str(args.n)
    if not (args.keep and (data / "catalogue.sqlite3").exists()):
        _prepare(data, args.n, base)
    else:
        _index(_app(data, base))
    codes, valid, revoked, expected = _targets(data, args.requests + 1)
    env = common.server_env(data, port, **SECRETS)
    ok = True

    server = common.start_server(env, port)
    try:
        print(f"\n1. a certificate's credential, {args.requests} random codes, each paired with the JSON "
              "verdict (gunicorn, 2 sync workers)")  # fmt: skip
        credential, verdict = _credentials(port, codes)
        ratio = common.percentile(credential[1], 95) / common.percentile(verdict[1], 95)
        passed = ratio <= CREDENTIAL_RATIO_BUDGET and credential[2] == verdict[2] == 0
        ok &= passed
        _print([verdict, credential], verdict, f"credential p95 ≤ {CREDENTIAL_RATIO_BUDGET:g}× the "
               f"verdict's → {'PASS' if passed else 'FAIL'}")  # fmt: skip
        _record(credential, verdict)

        last = _last_list(port)
        revoked_count = sum(len(s) for s in expected.values())
        print(f"\n2. revocation lists 0 and {last} (the last answering 200), {revoked_count:,} revoked, "
              f"{args.repeat} runs each after a warm-up")  # fmt: skip
        health, _ = _repeat(port, "/healthz (baseline)", "/healthz", args.repeat)
        lists = []
        for number in sorted({0, last}):
            line, body = _repeat(port, f"/api/v1/status-lists/{number}", f"/api/v1/status-lists/{number}",
                                 args.repeat)  # fmt: skip
            right, bits = _bits_right(body, expected.get(number, set()))
            ok &= right
            lists.append(line)
            print(f"  list {number}: {bits:,} bits set, exactly the revoked certificates' entries: {right}")
        passed = all(common.percentile(t, 95) <= LIST_BUDGET_S and e == 0 for _l, t, e, _s in lists)
        ok &= passed
        _print(
            [health, *lists], health, f"p95 ≤ {LIST_BUDGET_S * 1000:g} ms → {'PASS' if passed else 'FAIL'}"
        )
        for line in lists:
            _record(line, health)

        print(
            f"\n3. offline check from the command line (wall time, start-up included), {args.runs} runs each"
        )
        cli, right = _cli(port, data, env, valid, revoked, args.runs)
    finally:
        common.stop_server(server)
    passed = right and all(_median(line[1]) <= CLI_BUDGET_S for line in cli[1:])
    ok &= passed
    for label, times, fine, said, alone in cli:
        shown = ("→ " + said if said.startswith("credential:") else "") + ("" if fine else "  UNEXPECTED")
        shown += f"; the check alone, in process: {alone * 1000:.1f} ms" if alone else ""
        print(f"  {label:<44} median {_median(times):.2f} s, max {max(times):.2f} s, "
              f"ratio {_median(times) / _median(cli[0][1]):.2f}  {shown}")  # fmt: skip
    print(f"  budget: median ≤ {CLI_BUDGET_S:g} s, verdicts as expected → {'PASS' if passed else 'FAIL'}")
    base_line = (cli[0][0], cli[0][1], 0, 0)
    for label, times, fine, _said, _alone in cli[1:]:
        _record((label, times, int(not fine), 0), base_line)

    print("\n4. where a revocation list's time goes (in process, warm)")
    for number in sorted({0, last}):
        _profile(data, base, number)
    print(f"\nbudgets → {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
