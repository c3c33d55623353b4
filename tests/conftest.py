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
from sqlalchemy import text
from sqlmodel import Session

from catalogue import create_app, migrate
from catalogue.clock import VIETNAM
from catalogue.db import dispose_engines, get_engine, make_engine
from catalogue.seeding import seed_all

PG_URL = os.environ.get("DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgres")
VERIFY_KEYS = {"a": "test-verify-key-a"}
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
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


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SQLite template files: migrated-empty and migrated-seeded."""
    if IS_PG:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate.upgrade(PG_URL)
        return {}
    root = tmp_path_factory.mktemp("db-templates")
    empty, seeded = root / "empty.sqlite3", root / "seeded.sqlite3"
    migrate.upgrade(f"sqlite:///{empty}")
    shutil.copy(empty, seeded)
    _seed(f"sqlite:///{seeded}")
    return {"empty": empty, "seeded": seeded}


def _reset_pg(seed: bool) -> None:
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
        )).scalars().all()  # fmt: skip
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    if seed:
        _seed(PG_URL)


@pytest.fixture
def make_app(tmp_path: Path, db_templates: dict[str, Path]) -> Iterator[Callable[..., Flask]]:
    """Build an app on a fresh database: ``make_app(seeded=True, **overrides)``."""
    counter = {"n": 0}

    def factory(seeded: bool = False, **overrides: Any) -> Flask:
        counter["n"] += 1
        data_dir = tmp_path / f"data{counter['n']}"
        data_dir.mkdir()
        if IS_PG:
            _reset_pg(seeded)
        else:
            shutil.copy(db_templates["seeded" if seeded else "empty"], data_dir / "catalogue.sqlite3")
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
    from catalogue.services.places import Provinces
    from catalogue.services.records import RecordInput, WriteContext, upsert_record
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
