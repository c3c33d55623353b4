"""Counting scans in the check log: never blocked by a publish, never a failed page (issue 13, item 1)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import inspect, text

from catalogue.db import get_engine, make_engine
from catalogue.verification import counting
from catalogue.verification.devices import device_hash
from tests.conftest import phone

EN = {"Accept-Language": "en"}


def _total(app: Flask, code: str) -> int:
    """The stored count: checks from before the log plus the log's (whose running count
    must match its rows)."""
    with app.app_context(), get_engine().connect() as conn:
        before = conn.execute(text("SELECT check_count FROM certificate WHERE verify_code = :c"), {"c": code})
        tally = counting.tally(code)
        with get_engine(counting.store_url()).connect() as store:
            rows = store.execute(text("SELECT count(*) FROM verification_check WHERE code = :c"), {"c": code})
            assert tally is not None and tally.count == rows.scalar_one()
    return int(before.scalar_one()) + tally.count


@contextmanager
def _publish_holding_the_write_lock(app: Flask, code: str) -> Iterator[None]:
    """What a long publish does to the registry: a write transaction left open.

    SQLite: ``BEGIN IMMEDIATE`` plus a write on the registry file (its one writer
    lock). PostgreSQL: an open transaction that has updated the certificate's row.
    """
    url = app.config["SQLALCHEMY_URL"]
    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("UPDATE certificate SET source_note = source_note WHERE verify_code = ?", (code,))
            yield
        finally:
            raw.execute("ROLLBACK")
            raw.close()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(
                text("UPDATE certificate SET updated_at = updated_at WHERE verify_code = :c"), {"c": code}
            )
            yield
            conn.rollback()
    finally:
        engine.dispose()


def test_a_first_check_is_visible_to_the_very_next_request(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    code = seeded_codes[3]
    client = seeded_app.test_client()
    assert "1 time since" in client.get(f"/v/{code}", headers=EN).get_data(as_text=True)
    data = client.get(f"/api/v1/verify/{code}").get_json()
    assert data["check_count"] == 2 and data["first_checked_at"]
    # A date question is not counted but shows the same count.
    assert client.get(f"/api/v1/verify/{code}?as_of=2025-01-01").get_json()["check_count"] == 2
    assert _total(seeded_app, code) == 2


def test_scans_are_counted_while_a_publish_holds_the_registrys_write_lock(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    code = seeded_codes[1]
    with _publish_holding_the_write_lock(seeded_app, code):
        for n in (1, 2, 3):
            page = seeded_app.test_client().get(f"/v/{code}", headers=phone(n))
            assert page.status_code == 200 and f"{n} time" in page.get_data(as_text=True)
        api = seeded_app.test_client().get(f"/api/v1/verify/{code}")
        assert api.status_code == 200 and api.get_json()["check_count"] == 4
    # Exact once the publish is over, and the registry is writable again.
    assert _total(seeded_app, code) == 4
    with seeded_app.app_context(), get_engine().begin() as conn:
        conn.execute(text("UPDATE certificate SET source_note = 'after' WHERE verify_code = :c"), {"c": code})


def test_checks_counted_before_the_log_keep_their_loads_and_first_day_but_never_cry_copy(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    """Loads counted before the log (60) stay in ``check_count``; the page shows device-days, since
    the first check ever, and no count makes it claim a copied code (every package carries it)."""
    code = seeded_codes[5]
    with seeded_app.app_context(), get_engine().begin() as conn:
        conn.execute(
            text("UPDATE certificate SET check_count = 60, first_checked_at = '2024-05-01 03:00:00' "
                 "WHERE verify_code = :c"), {"c": code},
        )  # fmt: skip
    html = seeded_app.test_client().get(f"/v/{code}", headers=EN).get_data(as_text=True)
    # Device-days start with the check log: the page says since when it has counted them.
    assert "1 time since Jun 15, 2026" in html and "copied" not in html
    assert "the same on every package of this product" in html
    api = seeded_app.test_client().get(f"/api/v1/verify/{code}").get_json()
    assert (api["check_count"], api["device_days"]) == (62, 1)


@pytest.mark.skipif(
    __import__("os").environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="a separate SQLite file is the embedded default's store",
)
def test_the_embedded_store_is_a_file_of_its_own_without_addresses(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    code = seeded_codes[2]
    seeded_app.test_client().get(f"/v/{code}", headers={**EN, "User-Agent": "phone/1"},
                                 environ_base={"REMOTE_ADDR": "203.0.113.7"})  # fmt: skip
    store = Path(seeded_app.config["CATALOGUE_DATA_DIR"]) / counting.CHECKS_FILE
    with sqlite3.connect(store) as raw:
        rows = raw.execute("SELECT code, device FROM verification_check").fetchall()
    assert [r[0] for r in rows] == [code]
    assert "203.0.113.7" not in rows[0][1] and len(rows[0][1]) == 32


def test_device_pseudonyms_rotate_daily_and_tell_devices_apart() -> None:
    day, next_day = date(2026, 3, 1), date(2026, 3, 2)
    one = device_hash("s", day, "203.0.113.7", "phone/1")
    assert one == device_hash("s", day, "203.0.113.7", "phone/1")
    assert one != device_hash("s", day, "203.0.113.8", "phone/1")
    assert one != device_hash("s", day, "203.0.113.7", "phone/2")
    assert one != device_hash("s", next_day, "203.0.113.7", "phone/1")
    assert one != device_hash("other secret", day, "203.0.113.7", "phone/1")


def test_a_broken_check_store_still_gives_the_verdict(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    app = make_app(
        seeded=True, CHECKS_DATABASE_URL=f"sqlite:///{tmp_path / 'missing' / 'x' / 'checks.sqlite3'}"
    )
    (tmp_path / "missing").write_text("a file where the store's folder should be")
    with app.app_context(), get_engine().connect() as conn:
        code = conn.execute(text("SELECT verify_code FROM certificate ORDER BY id")).scalars().first()
    page = app.test_client().get(f"/v/{code}", headers=EN)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'class="verdict v-' in html and "not available right now" in html
    api = app.test_client().get(f"/api/v1/verify/{code}")
    assert api.status_code == 200 and api.get_json()["check_count"] is None and api.get_json()["status"]


@pytest.mark.skipif(
    __import__("os").environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the separate SQLite store's own lock",
)
def test_a_locked_check_store_gives_the_verdict_without_waiting_long(
    seeded_app: Flask, seeded_codes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counting, "BUSY_TIMEOUT_MS", 0)
    code = seeded_codes[0]
    client = seeded_app.test_client()
    client.get(f"/v/{code}", headers=EN)  # creates the store
    store = Path(seeded_app.config["CATALOGUE_DATA_DIR"]) / counting.CHECKS_FILE
    with seeded_app.app_context():
        get_engine(counting.store_url()).dispose()  # reconnect with the patched timeout
    raw = sqlite3.connect(store, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        page = client.get(f"/v/{code}", headers=EN)
        assert page.status_code == 200 and "not available right now" in page.get_data(as_text=True)
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    assert "2 times" in client.get(f"/v/{code}", headers=phone(2)).get_data(as_text=True)


def test_a_failing_check_log_write_still_gives_the_verdict_and_counting_resumes(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    """The write itself fails (here: its table is gone) on whichever store is in use; on
    PostgreSQL that is the registry's own connection, which must be usable afterwards."""
    code = seeded_codes[4]
    client = seeded_app.test_client()
    client.get(f"/v/{code}", headers=EN)
    with seeded_app.app_context():
        store = get_engine(counting.store_url())
        with store.begin() as conn:
            conn.execute(text("ALTER TABLE verification_check RENAME TO verification_check_away"))
        try:
            page = client.get(f"/v/{code}", headers=EN)
            html = page.get_data(as_text=True)
            assert (
                page.status_code == 200 and 'class="verdict v-' in html and "not available right now" in html
            )
            assert client.get(f"/api/v1/verify/{code}").status_code == 200
        finally:
            with store.begin() as conn:
                conn.execute(text("ALTER TABLE verification_check_away RENAME TO verification_check"))
    assert "2 times" in client.get(f"/v/{code}", headers=phone(2)).get_data(as_text=True)


@pytest.mark.skipif(
    __import__("os").environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="compares the separate SQLite store with the migrated registry",
)
def test_the_store_made_by_code_matches_the_migrations(seeded_app: Flask, seeded_codes: list[str]) -> None:
    """One schema: the tables the code creates in ``checks.sqlite3`` are those the migration makes."""
    seeded_app.test_client().get(f"/v/{seeded_codes[0]}")

    def shape(url: str) -> dict[str, object]:
        engine = make_engine(url)
        try:
            found = inspect(engine)
            return {
                t: (
                    [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(t)],
                    found.get_pk_constraint(t)["constrained_columns"],
                    sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(t)),
                )
                for t in ("verification_check", "verification_tally", "verification_device_day")
            }
        finally:
            engine.dispose()

    with seeded_app.app_context():
        assert shape(counting.store_url()) == shape(seeded_app.config["SQLALCHEMY_URL"])


@pytest.mark.skipif(
    __import__("os").environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="a separate SQLite file is the embedded default's store",
)
def test_a_check_store_from_before_device_days_is_brought_up_to_date(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    """An existing ``checks.sqlite3`` made before device-days gets the column, back-filled from its log."""
    code = seeded_codes[2]
    store = Path(seeded_app.config["CATALOGUE_DATA_DIR"]) / counting.CHECKS_FILE
    raw = sqlite3.connect(store, isolation_level=None)
    try:
        raw.execute("CREATE TABLE verification_check (id INTEGER PRIMARY KEY, code VARCHAR(40) NOT NULL, "
                    "checked_at DATETIME NOT NULL, device VARCHAR(32))")  # fmt: skip
        raw.execute("CREATE TABLE verification_tally (code VARCHAR(40) PRIMARY KEY, checks INTEGER NOT NULL, "
                    "first_checked_at DATETIME NOT NULL, last_checked_at DATETIME NOT NULL)")  # fmt: skip
        for device in ("d1", "d1", "d2"):
            raw.execute("INSERT INTO verification_check (code, checked_at, device) "
                        "VALUES (?, '2026-06-10 02:00:00', ?)", (code, device))  # fmt: skip
        at = "2026-06-10 02:00:00"
        raw.execute("INSERT INTO verification_tally VALUES (?, 3, ?, ?)", (code, at, at))
    finally:
        raw.close()
    html = seeded_app.test_client().get(f"/v/{code}", headers=phone(1)).get_data(as_text=True)
    assert "3 times since" in html  # two devices from the old log, and this one
