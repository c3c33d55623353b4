"""Retention: the check log and the search outbox are pruned by age, daily and on demand,
without changing a count the public sees or leaving a node's index silently behind."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from catalogue.accounts.models import PasswordReset, User, UserSession
from catalogue.audit.models import OutboxEvent
from catalogue.clock import utcnow
from catalogue.config import ConfigError, Settings
from catalogue.db import get_engine, make_engine
from catalogue.jobs import queue
from catalogue.retention import ACCOUNT_ROWS_DAYS
from catalogue.search import building
from catalogue.search.index import current_name
from catalogue.search.outbox import prune_outbox
from catalogue.verification import counting
from tests.conftest import FROZEN, PausedBuild, phone
from tests.test_search_sync import publish, total

EN = {"Accept-Language": "en"}


def _check_rows(app: Flask, code: str) -> int:
    with app.app_context(), get_engine(counting.store_url()).connect() as conn:
        query = text("SELECT count(*) FROM verification_check WHERE code = :c")
        return int(conn.execute(query, {"c": code}).scalar_one())


def _shown_count(app: Flask, code: str, device: int = 0) -> str:
    """What the verify page says (this scan included), e.g. "6 times since May 1, 2025"."""
    page = app.test_client().get(f"/v/{code}", headers=phone(device)).get_data(as_text=True)
    found = re.search(r"(\d+) times? since ([A-Z][a-z]+ \d+, \d{4})", page)
    assert found, page
    return found.group(0)


def _outbox_ids(app: Flask) -> list[int]:
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        return [
            i for i in s.exec(select(OutboxEvent.id).order_by(col(OutboxEvent.id))).all() if i is not None
        ]


def _write_undrained(app: Flask, name: str, number: str) -> None:
    """A write no process of this node drains (as another node's publish would be)."""
    engine = make_engine(app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:
        publish(session, name, number)
        session.commit()
    engine.dispose()


# ----------------------------------------------------------------------------- settings


def test_retention_settings_have_defaults_and_are_validated() -> None:
    settings = Settings.from_env({})
    assert (settings.CHECK_LOG_DAYS, settings.OUTBOX_DAYS) == (400, 30)
    assert Settings.from_env({"CHECK_LOG_DAYS": "90", "OUTBOX_DAYS": "7"}).OUTBOX_DAYS == 7
    for name, value in (("CHECK_LOG_DAYS", "0"), ("OUTBOX_DAYS", "a month"), ("OUTBOX_DAYS", "-1")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value})


# ----------------------------------------------------------------------------- the check log


def test_pruning_the_check_log_keeps_the_public_count_exact(
    seeded_app: Flask, seeded_codes: list[str], clock: time_machine.Traveller
) -> None:
    code = seeded_codes[2]
    clock.move_to(FROZEN - timedelta(days=500))  # three scans long ago …
    for n in range(3):
        _shown_count(seeded_app, code, n)
    clock.move_to(FROZEN)  # … and two today
    _shown_count(seeded_app, code, 3)
    before = _shown_count(seeded_app, code, 4)
    assert before.startswith("5 times since") and _check_rows(seeded_app, code) == 5

    result = seeded_app.test_cli_runner().invoke(args=["maintenance", "prune"])
    assert result.exit_code == 0, result.output
    assert "Removed 3 check log rows" in result.output
    assert _check_rows(seeded_app, code) == 2  # the raw rows are gone …
    # … yet the page counts every check, since the first one 500 days ago.
    assert _shown_count(seeded_app, code, 5) == before.replace("5 times", "6 times", 1)
    assert seeded_app.test_client().get(f"/api/v1/verify/{code}").get_json()["check_count"] == 7


def test_the_check_log_keeps_what_is_younger_than_its_setting(
    make_app: Callable[..., Flask], clock: time_machine.Traveller
) -> None:
    app = make_app(seeded=True, CHECK_LOG_DAYS=30)
    with app.app_context():
        for days in (31, 29):
            counting.record("KTESTCODE", now=FROZEN - timedelta(days=days))
        assert counting.prune(FROZEN - timedelta(days=30)) == 1
        tally = counting.tally("KTESTCODE")
        assert tally is not None and tally.count == 2
    assert _check_rows(app, "KTESTCODE") == 1


# ----------------------------------------------------------------------------- the search outbox


def test_the_outbox_is_pruned_by_age_keeping_the_newest_row(
    seeded_app: Flask, clock: time_machine.Traveller
) -> None:
    total(seeded_app)  # index open and current
    ids = _outbox_ids(seeded_app)
    assert ids, "the seed wrote outbox rows"
    clock.move_to(FROZEN + timedelta(days=31))
    result = seeded_app.test_cli_runner().invoke(args=["maintenance", "prune"])
    assert result.exit_code == 0, result.output
    assert f"and {len(ids) - 1} search outbox rows" in result.output
    # The newest row stays, so SQLite (max id + 1) never reuses an id a cursor has passed.
    assert _outbox_ids(seeded_app) == [ids[-1]]
    with seeded_app.test_request_context():
        from catalogue.db import get_session

        publish(get_session(), "Mật ong sau khi dọn", "T-PRUNE-1")
        get_session().commit()
    assert min(_outbox_ids(seeded_app)[1:]) > ids[-1]
    # This node was up to date: nothing missed, no rebuild, the new product is found.
    name = current_name(Path(seeded_app.config["INDEX_DIR"]))
    assert total(seeded_app, "mat ong sau khi don") == 1
    assert current_name(Path(seeded_app.config["INDEX_DIR"])) == name


def test_young_rows_are_kept(seeded_app: Flask) -> None:
    before = _outbox_ids(seeded_app)
    assert prune_outbox(get_engine(seeded_app.config["SQLALCHEMY_URL"]), FROZEN - timedelta(days=30)) == 0
    assert _outbox_ids(seeded_app) == before


def test_a_node_further_behind_than_the_outbox_rebuilds_instead_of_skipping(
    seeded_app: Flask, clock: time_machine.Traveller, paused_build: PausedBuild
) -> None:
    """A node that slept past OUTBOX_DAYS while other nodes published notices the pruned rows."""
    root = Path(seeded_app.config["INDEX_DIR"])
    total(seeded_app)
    live = current_name(root)
    _write_undrained(seeded_app, "Nem chua đã dọn khỏi hộp thư", "T-MISSED")  # never reaches this node
    clock.move_to(FROZEN + timedelta(days=40))
    _write_undrained(seeded_app, "Bánh tráng còn trong hộp thư", "T-KEPT")
    with seeded_app.app_context():
        assert prune_outbox(get_engine(), utcnow() - timedelta(days=30)) > 0

    # The next search drains what is left and starts a rebuild, answering from the old build meanwhile.
    assert total(seeded_app, "banh trang con trong hop thu") == 1
    assert paused_build.reached.wait(30), "no rebuild was started"
    assert total(seeded_app, "nem chua da don khoi hop thu") == 0
    status = seeded_app.test_cli_runner().invoke(args=["search", "status"]).output
    assert "needs rebuild" in status
    paused_build.release.set()
    building.wait(root)
    assert current_name(root) != live
    assert total(seeded_app, "nem chua da don khoi hop thu") == 1  # nothing was skipped
    assert total(seeded_app, "banh trang con trong hop thu") == 1
    assert "needs rebuild" not in seeded_app.test_cli_runner().invoke(args=["search", "status"]).output


def test_a_fresh_build_is_never_taken_for_one_that_missed_rows(
    seeded_app: Flask, clock: time_machine.Traveller
) -> None:
    """Rows pruned before a build began are in the build: no rebuild for them."""
    root = Path(seeded_app.config["INDEX_DIR"])
    clock.move_to(FROZEN + timedelta(days=40))
    _write_undrained(seeded_app, "Trà sen mới", "T-NEW")
    with seeded_app.app_context():
        prune_outbox(get_engine(), utcnow() - timedelta(days=30))
    assert seeded_app.test_cli_runner().invoke(args=["search", "rebuild"]).exit_code == 0
    fresh = current_name(root)
    assert total(seeded_app, "tra sen moi") == 1
    building.wait(root)
    assert current_name(root) == fresh


# ----------------------------------------------------------------------------- the daily run


def test_the_consumer_prunes_once_a_day(seeded_app: Flask, seeded_codes: list[str]) -> None:
    huey = queue.get_huey(seeded_app)
    at = {datetime(2026, 6, 15, 20, 30): ["prune"], datetime(2026, 6, 16, 20, 30): ["prune"],
          datetime(2026, 6, 15, 21, 30): [], datetime(2026, 6, 15, 20, 31): []}  # fmt: skip
    for moment, names in at.items():
        assert [t.name for t in huey.read_periodic(moment) if t.name == "prune"] == names, moment
    (task,) = [t for t in huey.read_periodic(datetime(2026, 6, 15, 20, 30)) if t.name == "prune"]
    code = seeded_codes[0]
    with seeded_app.app_context():
        counting.record(code, now=FROZEN - timedelta(days=401))
    huey.execute(task)
    assert _check_rows(seeded_app, code) == 0
    with seeded_app.app_context():
        assert counting.tally(code).count == 1  # type: ignore[union-attr]
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        assert s.exec(select(func.count()).select_from(OutboxEvent)).one() > 0


# ----------------------------------------------------------------------------- officials' sessions and links


def test_old_sessions_and_reset_links_are_pruned_and_young_ones_kept(
    seeded_app: Flask, clock: time_machine.Traveller
) -> None:
    """Ended or long-idle sessions and expired links go 90 days on; what may still matter stays."""
    engine = get_engine(seeded_app.config["SQLALCHEMY_URL"])
    now, old = utcnow(), utcnow() - timedelta(days=ACCOUNT_ROWS_DAYS + 1)
    recent = now - timedelta(days=ACCOUNT_ROWS_DAYS - 1)
    with Session(engine) as s:
        user = User(email="hue@so.gov.vn", password_hash="-", role="province")
        s.add(user)
        s.flush()
        uid = user.id or 0
        rows = {
            "ended long ago": UserSession(user_id=uid, key_hash="a" * 64, created_at=old, last_seen_at=old,
                                          ended_at=old),
            "idle long ago": UserSession(user_id=uid, key_hash="b" * 64, created_at=old, last_seen_at=old),
            "ended lately": UserSession(user_id=uid, key_hash="c" * 64, created_at=old, last_seen_at=recent,
                                        ended_at=recent),
            "open": UserSession(user_id=uid, key_hash="d" * 64, created_at=old, last_seen_at=now),
        }  # fmt: skip
        links = {
            "used long ago": PasswordReset(user_id=uid, token_hash="e" * 64, created_at=old, expires_at=old,
                                           used_at=old),
            "expired long ago": PasswordReset(user_id=uid, token_hash="f" * 64, created_at=old,
                                              expires_at=old),
            "expired lately": PasswordReset(user_id=uid, token_hash="0" * 64, created_at=recent,
                                            expires_at=recent),
            "usable": PasswordReset(user_id=uid, token_hash="1" * 64, created_at=now,
                                    expires_at=now + timedelta(hours=24)),
        }  # fmt: skip
        s.add_all([*rows.values(), *links.values()])
        s.commit()
        kept_sessions = {rows[k].key_hash for k in ("ended lately", "open")}
        kept_links = {links[k].token_hash for k in ("expired lately", "usable")}

    result = seeded_app.test_cli_runner().invoke(args=["maintenance", "prune"])
    assert result.exit_code == 0, result.output
    assert "2 officials' session rows and 2 reset link rows" in result.output
    with Session(engine) as s:
        assert set(s.exec(select(UserSession.key_hash)).all()) == kept_sessions
        assert set(s.exec(select(PasswordReset.token_hash)).all()) == kept_links
