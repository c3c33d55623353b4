"""Migrations build the schema from empty, tear it down and build it again.

SQLite: a fresh file. PostgreSQL (only when DATABASE_URL points at it): a
temporary database created next to the configured one and dropped afterwards,
so the suite's shared schema is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from catalogue import migrate
from catalogue.tables import __all__ as MODEL_NAMES  # noqa: N812
from tests.conftest import IS_PG, PG_URL

EXPECTED_TABLES = {
    "app_user", "audit_entry", "certificate", "certificate_event", "event", "exhibit", "exhibitor",
    "fake_report", "import_batch", "photo", "producer", "product", "province", "search_outbox",
    "selection_round", "validity_policy", "job", "sign_in_attempt", "verification_check",
    "verification_tally", "user_session", "password_reset",
    "merge_record", "slug_redirect", "revocation_decision", "label_run", "label_withdrawal",
    "verification_device_day",
}  # fmt: skip


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_heads())


def _round_trip(url: str) -> None:
    migrate.upgrade(url)
    assert EXPECTED_TABLES <= _tables(url)
    assert migrate.current_heads(url) == _heads()
    migrate.downgrade(url, "base")
    assert _tables(url) == set()
    assert migrate.current_heads(url) == set()
    migrate.upgrade(url)
    assert EXPECTED_TABLES <= _tables(url)
    assert migrate.current_heads(url) == _heads()


def test_every_model_has_a_table() -> None:
    assert len(MODEL_NAMES) == len(EXPECTED_TABLES)


def test_sqlite_upgrade_downgrade_upgrade_from_empty(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.sqlite3'}"
    migrate.upgrade(url)
    migrate.upgrade(url)
    assert migrate.current_heads(url) == _heads()


@pytest.fixture
def scratch_pg() -> Iterator[str]:
    """A throwaway PostgreSQL database on the configured server."""
    if not IS_PG:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    name = f"{make_url(PG_URL).database}_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        from catalogue.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_postgresql_upgrade_downgrade_upgrade_from_empty(scratch_pg: str) -> None:
    _round_trip(scratch_pg)


def _checks_before_device_days(conn: object) -> None:
    """Three loads of one code by two devices on 14 June, one with no device, before device-days."""
    rows = [("A1", "2026-06-14 02:00:00", "dev1"), ("A1", "2026-06-14 03:00:00", "dev1"),
            ("A1", "2026-06-14 04:00:00", "dev2"), ("A1", "2026-06-14 05:00:00", None)]  # fmt: skip
    for code, at, device in rows:
        conn.execute(  # type: ignore[attr-defined]
            text("INSERT INTO verification_check (code, checked_at, device) VALUES (:c, :t, :d)"),
            {"c": code, "t": at, "d": device},
        )
    conn.execute(  # type: ignore[attr-defined]
        text("INSERT INTO verification_tally (code, checks, first_checked_at, last_checked_at) "
             "VALUES ('A1', 4, '2026-06-14 02:00:00', '2026-06-14 05:00:00')")
    )  # fmt: skip


def test_migration_0014_counts_the_logs_devices_as_device_days(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(url, "0013")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _checks_before_device_days(conn)
        migrate.upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT checks, device_days FROM verification_tally")).one() == (4, 3)
            days = conn.execute(text("SELECT device, day FROM verification_device_day ORDER BY device")).all()
    finally:
        engine.dispose()
    assert [(d, str(day)) for d, day in days] == [("dev1", "2026-06-14"), ("dev2", "2026-06-14")]
