"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when
``DATABASE_URL`` is set), the real seed data, and headless Chromium.

SQLite: the schema is migrated once into a template file (and seeded once into
another), then copied for each test. PostgreSQL: migrated once per session,
tables truncated before each test, seed loaded through the real code path.

Time: every test runs on a frozen clock (:data:`FROZEN`, ticking forward from
there), never on the machine's date, so the suite gives the same answers in any
year. A test that needs another day asks for the ``clock`` fixture and moves it:
``clock.move_to(date(2031, 6, 30))`` or ``clock.shift(timedelta(days=400))``; the
move is undone when the test ends. Code run in a subprocess does not see the
frozen clock: such tests must assert only date-independent facts.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session, SQLModel

import catalogue.tables  # noqa: F401  (fills SQLModel.metadata)
from catalogue import create_app, migrate
from catalogue.clock import VIETNAM
from catalogue.db import dispose_engines, get_engine, make_engine
from catalogue.seeding import seed_all

IS_PG = os.environ.get("DATABASE_URL", "").startswith("postgres")
#: Under pytest-xdist each worker gets a database of its own beside the given one
#: (created at session start, dropped at the end), since every test resets it.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = os.environ.get("DATABASE_URL", "")
if IS_PG and XDIST_WORKER:
    _given = make_url(PG_URL)
    PG_URL = _given.set(database=f"{_given.database}_{XDIST_WORKER}").render_as_string(hide_password=False)
VERIFY_KEYS = {"a": "test-verify-key-a"}
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
DB_FILE = "catalogue.sqlite3"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

#: The instant every test starts at: a working morning in Vietnam, inside the
#: validity of the seed's recent certificates and after the 2025 province merger.
FROZEN = datetime(2026, 6, 15, 9, 0, tzinfo=VIETNAM)


# ----------------------------------------------------------------------------- clock


@pytest.fixture(scope="session", autouse=True)
def _frozen_session_clock() -> Iterator[time_machine.Traveller]:
    """Session-wide fixtures (the migrated and seeded templates) run an hour before :data:`FROZEN`.

    Earlier, so that what a test writes is always newer than the seed (audit
    order, outbox catch-up), yet on the same day. ``tick=True``: time flows on
    from the frozen instant, so CSRF token ages, rate-limit windows, lock
    time-outs and "newest first" orders behave as in real use.
    """
    with time_machine.travel(FROZEN - timedelta(hours=1), tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def clock(_frozen_session_clock: time_machine.Traveller) -> Iterator[time_machine.Traveller]:
    """Each test starts at :data:`FROZEN`; request it to move time (undone afterwards)."""
    with time_machine.travel(FROZEN, tick=True) as traveller:
        yield traveller


def _stop_timers() -> None:
    """Cancel the rate limiter's in-memory expiry timers (non-daemon ``threading.Timer``).

    Under ``faketime`` (libfaketime fakes the monotonic clock) a timed wait never
    ends, so a pending timer would keep the test process alive after the last test.
    """
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _stop_timers()
    if IS_PG and XDIST_WORKER:
        _drop_worker_database()


def base_overrides(data_dir: Path) -> dict[str, Any]:
    return {
        "ENV": "test",
        "CATALOGUE_DATA_DIR": data_dir,
        "DATABASE_URL": PG_URL,
        "SECRET_KEY": "test-secret",
        "VERIFY_KEYS": dict(VERIFY_KEYS),
        "VERIFY_CURRENT_KEY_ID": "a",
        "PUBLIC_BASE_URL": "http://registry.test",
        "RATELIMIT_ENABLED": False,
    }


def _seed(url: str) -> None:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        seed_all(session, validity_years=3, verify_keys=dict(VERIFY_KEYS), verify_key_id="a")
        session.commit()
    engine.dispose()


def _build_index(data_dir: Path) -> None:
    """Build the search index of the database in ``data_dir`` through the real rebuild."""
    from catalogue.search.builds import rebuild

    app = create_app(base_overrides(data_dir))
    with app.app_context():
        rebuild(Path(app.config["INDEX_DIR"]), get_engine())
    dispose_engines()


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Template data folders, ``empty`` and ``seeded``: database (SQLite) and search index.

    Built once per run and copied for each test, so no test app pays for a
    migration, the seed or an index build (the index matches the seeded rows
    and their outbox rows are marked processed, as after ``make run``).
    On PostgreSQL the folders hold only the index; the database is reset per test.
    """
    root = tmp_path_factory.mktemp("data-templates")
    templates = {"empty": root / "empty", "seeded": root / "seeded"}
    for folder in templates.values():
        folder.mkdir()
    if IS_PG:
        if XDIST_WORKER:
            _create_worker_database()
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE"))
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate.upgrade(PG_URL)
        for name, folder in templates.items():
            _reset_pg(seed=name == "seeded")
            _build_index(folder)  # marks the seed's outbox rows processed
        _snapshot_pg()  # of the seeded database, which the loop left in place
        return templates
    empty_db, seeded_db = (folder / DB_FILE for folder in templates.values())
    migrate.upgrade(f"sqlite:///{empty_db}")
    shutil.copy(empty_db, seeded_db)
    _seed(f"sqlite:///{seeded_db}")
    for folder in templates.values():
        _build_index(folder)
    return templates


def _pg_admin() -> Any:
    """An autocommit engine on the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    return create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _create_worker_database() -> None:
    name = make_url(PG_URL).database
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _drop_worker_database() -> None:
    dispose_engines()
    _pg_engine().dispose()
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(PG_URL).database}" WITH (FORCE)'))
    admin.dispose()


SNAPSHOT = "seed_snapshot"


@functools.cache
def _pg_engine() -> Any:
    """One engine for resetting this worker's PostgreSQL database between tests."""
    return make_engine(PG_URL)


def _pg_tables() -> list[str]:
    """The application's tables, parents before children (as inserts must go)."""
    return [t.name for t in SQLModel.metadata.sorted_tables]


def _reset_pg(seed: bool) -> None:
    """Empty every table; with ``seed``, load the seed through the real code path."""
    with _pg_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_pg_tables())} RESTART IDENTITY CASCADE"))
    if seed:
        _seed(PG_URL)


def _snapshot_pg() -> None:
    """Keep a copy of the seeded tables (as the template's index saw them) in a schema of their own."""
    with _pg_engine().begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SNAPSHOT}"))
        for table in _pg_tables():
            conn.execute(text(f"CREATE TABLE {SNAPSHOT}.{table} AS SELECT * FROM public.{table}"))


def _restore_seeded_pg() -> None:
    """Put the seeded rows back from the snapshot: the seed's work, without re-running it per test."""
    with _pg_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_pg_tables())} RESTART IDENTITY CASCADE"))
        for table in _pg_tables():
            conn.execute(text(f"INSERT INTO public.{table} SELECT * FROM {SNAPSHOT}.{table}"))
            if "id" not in SQLModel.metadata.tables[table].c:  # keyed otherwise (verification_tally)
                continue
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM public.{table}), 0) + 1, false)"
            ))  # fmt: skip


def fresh_data_folder(templates: dict[str, Path], dest: Path, seeded: bool) -> Path:
    """Copy a template data folder to ``dest`` (and reset PostgreSQL to match it)."""
    shutil.copytree(templates["seeded" if seeded else "empty"], dest, symlinks=True)
    if IS_PG:
        _restore_seeded_pg() if seeded else _reset_pg(seed=False)
    return dest


@pytest.fixture
def make_app(tmp_path: Path, db_templates: dict[str, Path]) -> Iterator[Callable[..., Flask]]:
    """Build an app on a fresh copy of a template: ``make_app(seeded=True, **overrides)``."""
    counter = {"n": 0}

    def factory(seeded: bool = False, **overrides: Any) -> Flask:
        counter["n"] += 1
        data_dir = fresh_data_folder(db_templates, tmp_path / f"data{counter['n']}", seeded)
        return create_app({**base_overrides(data_dir), **overrides})

    yield factory
    dispose_engines()
    _stop_timers()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app on a migrated, empty database."""
    return make_app()


@pytest.fixture
def seeded_app(make_app: Callable[..., Flask]) -> Flask:
    """An app on a database holding the real seed data."""
    return make_app(seeded=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def search_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, db_templates: dict[str, Path]
) -> Iterator[Flask]:
    """One seeded app (and index) for a whole module of tests that only read (searches)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    data_dir = fresh_data_folder(db_templates, tmp_path_factory.mktemp(name) / "data", seeded=True)
    yield create_app(base_overrides(data_dir))
    dispose_engines()


@pytest.fixture
def seeded_client(seeded_app: Flask) -> FlaskClient:
    return seeded_app.test_client()


@pytest.fixture
def db_session(seeded_app: Flask) -> Iterator[Session]:
    """A session on the seeded app's database, inside its app context."""
    with seeded_app.app_context():
        session = Session(get_engine(), expire_on_commit=False)
        yield session
        session.close()


# ----------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright; never a downloaded browser."""
    if not Path(CHROMIUM).exists():
        if REQUIRE_BROWSER:
            pytest.fail(f"REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield instance
        instance.close()


@pytest.fixture
def live_server(seeded_app: Flask) -> Iterator[str]:
    """Serve the seeded app on a free loopback port in a thread; yields the base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, seeded_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


# ----------------------------------------------------------------------------- verification


@pytest.fixture
def seeded_codes(seeded_app: Flask) -> list[str]:
    """Every seeded certificate's verification code, in id order."""
    with seeded_app.app_context(), get_engine().connect() as conn:
        return list(conn.execute(text("SELECT verify_code FROM certificate ORDER BY id")).scalars())


@pytest.fixture
def make_certificate(seeded_app: Flask) -> Callable[..., str]:
    """Create a certificate with known facts through the real write path; returns its code.

    ``make_certificate(number="12/GCN", issued_on=date(2024, 3, 1), expires_on=..., year=2024)``
    """
    from catalogue.places.services import Provinces
    from catalogue.registry.records import WriteContext, upsert_record
    from catalogue.registry.rows import RecordInput
    from catalogue.vocab import Level, ProductGroup

    def factory(**facts: Any) -> str:
        with seeded_app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
            provinces = Provinces.load(session)
            province = provinces.match(facts.pop("province", "Lào Cai"))
            assert province is not None
            record = RecordInput(
                product=facts.pop("product", "Chè Shan tuyết kiểm thử"),
                producer=facts.pop("producer", "HTX Kiểm thử"),
                province=province, level=facts.pop("level", Level.TINH),
                group=ProductGroup.CHE_BIEN, **facts,
            )  # fmt: skip
            ctx = WriteContext(provinces=provinces, validity_years=3, verify_keys=dict(VERIFY_KEYS),
                               verify_key_id="a", actor_label="test")  # fmt: skip
            result = upsert_record(session, record, ctx)
            session.commit()
            return str(result.certificate.verify_code)

    return factory


# ----------------------------------------------------------------------------- search builds


class PausedBuild:
    """Holds a background build at its first progress report until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, done: int, total: int) -> None:
        self.reached.set()
        assert self.release.wait(60), "test never released the paused build"


@pytest.fixture
def paused_build() -> Iterator[PausedBuild]:
    """A background index build that stops at its first progress report until released."""
    from catalogue.search import building

    hook = PausedBuild()
    building.HOOK = hook
    try:
        yield hook
    finally:
        hook.release.set()
        building.HOOK = None


def phone(n: int, lang: str = "en") -> dict[str, str]:
    """Headers of the ``n``-th phone: the check log tells devices apart by address and User-Agent,
    so each ``n`` is a device of its own (one device-day a day, however often it reloads)."""
    agent = f"Mozilla/5.0 (Linux; Android 13; Test phone {n}) AppleWebKit/537.36 Mobile"
    return {"Accept-Language": lang, "User-Agent": agent}
