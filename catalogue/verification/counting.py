"""The check log: record a check of a code, and count a code's checks, where no publish can block it.

Where the log lives (:func:`store_url`):

- ``CHECKS_DATABASE_URL`` when set (several nodes must share one store);
- with the embedded SQLite registry, a file of its own,
  ``$CATALOGUE_DATA_DIR/checks.sqlite3`` (WAL, short busy timeout): a publish
  holds the registry file's write lock for seconds, this file's lock is only
  ever held by other checks for microseconds;
- with a server database, the tables of that database (migration 0005), which
  publishing never touches, so no publish lock is shared.

Each check appends a row to ``verification_check`` (code, time, daily device
pseudonym), adds the pair (code, device) to ``verification_device_day`` unless
that device already checked the code that day, and bumps the code's running
counts in ``verification_tally`` (checks, and device-days when the pair was new)
in the same transaction, so a scan reads one row however often the code was
checked. The pages show device-days: a phone reloading a page adds nothing.

A store other than the main database gets its tables from the models here (the
one schema definition, which migration 0005 mirrors). Failures never reach the
page: :func:`record` and :func:`tally` return None and the caller shows the
verdict without a count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Connection, Engine, bindparam, event, inspect, select, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import SQLModel

from catalogue.clock import VIETNAM, utcnow
from catalogue.db import get_engine
from catalogue.verification.models import VerificationCheck  # noqa: F401 (registers the tables)

log = logging.getLogger(__name__)

CHECKS_FILE = "checks.sqlite3"
#: How long a check may wait for another check's write on a separate SQLite store.
#: Only checks write there, each for microseconds; past this the page goes without a count.
BUSY_TIMEOUT_MS = 1000

#: The model's table (SQLModel does not type ``__table__``).
_t = SQLModel.metadata.tables["verification_check"]
_k = SQLModel.metadata.tables["verification_tally"]
_d = SQLModel.metadata.tables["verification_device_day"]
_PREPARED: dict[str, Engine] = {}


@dataclass(frozen=True)
class Tally:
    """A code's checks in the log (the certificate's pre-log count is added by the caller)."""

    count: int
    first_at: datetime | None
    #: Distinct devices per day so far (what the pages show).
    device_days: int = 0


def store_url() -> str:
    """The check log's database URL (see the module docstring)."""
    cfg = current_app.config
    if cfg.get("CHECKS_DATABASE_URL"):
        return str(cfg["CHECKS_DATABASE_URL"])
    main = str(cfg["SQLALCHEMY_URL"])
    if main.startswith("sqlite"):
        return f"sqlite:///{Path(cfg['CATALOGUE_DATA_DIR']) / CHECKS_FILE}"
    return main


def _short_wait(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
    cur.close()


def store_engine() -> Engine:
    """The store's engine, its tables created when the store is not the main database."""
    url = store_url()
    engine = get_engine(url)
    if _PREPARED.get(url) is engine:
        return engine
    if url != current_app.config["SQLALCHEMY_URL"]:
        if engine.dialect.name == "sqlite":
            # Runs after make_engine's own listener (WAL, synchronous=NORMAL), so it wins.
            event.listen(engine, "connect", _short_wait)
        with engine.begin() as conn:  # IF NOT EXISTS: several workers may start at once
            for table in (_t, _k, _d):
                conn.execute(CreateTable(table, if_not_exists=True))
                for index in table.indexes:
                    conn.execute(CreateIndex(index, if_not_exists=True))
            _add_device_days(conn)
    _PREPARED[url] = engine
    return engine


def _add_device_days(conn: Connection) -> None:
    """A store made before device-days: add the column, back-filled from the log (as migration 0014)."""
    if any(c["name"] == "device_days" for c in inspect(conn).get_columns("verification_tally")):
        return
    conn.execute(text("ALTER TABLE verification_tally ADD COLUMN device_days INTEGER NOT NULL DEFAULT 0"))
    conn.execute(text(
        "INSERT INTO verification_device_day (code, device, day) SELECT code, device, MIN(DATE(checked_at)) "
        "FROM verification_check WHERE device IS NOT NULL GROUP BY code, device ON CONFLICT DO NOTHING"
    ))  # fmt: skip
    conn.execute(text(
        "UPDATE verification_tally SET device_days = (SELECT COUNT(DISTINCT device) "
        "FROM verification_check c WHERE c.code = verification_tally.code) "
        "+ (SELECT COUNT(*) FROM verification_check c "
        "WHERE c.code = verification_tally.code AND c.device IS NULL)"
    ))  # fmt: skip


_INSERT = _t.insert()
# The running count, bumped in the same transaction as the appended row (SQLite ≥ 3.35 and
# PostgreSQL both have ON CONFLICT … RETURNING): a scan never counts a code's rows.
_BUMP = (
    "INSERT INTO verification_tally (code, checks, device_days, first_checked_at, last_checked_at) "
    "VALUES (:code, 1, {new}, :now, :now) ON CONFLICT (code) DO UPDATE "
    "SET checks = verification_tally.checks + 1, "
    "device_days = verification_tally.device_days + excluded.device_days, "
    "last_checked_at = excluded.last_checked_at "
    "RETURNING checks, device_days, first_checked_at"
)


def _typed(sql: str) -> Any:
    typed = [bindparam("now", type_=_k.c.last_checked_at.type), bindparam("code", type_=_k.c.code.type)]
    if ":day" in sql:
        typed.append(bindparam("day", type_=_d.c.day.type))
    return text(sql).bindparams(*typed).columns(_k.c.checks, _k.c.device_days, _k.c.first_checked_at)


_BUMP_SQL = _typed(_BUMP.format(new=":new"))
_NEW_DAY = _d.insert().prefix_with("OR IGNORE", dialect="sqlite")
# PostgreSQL, one round trip: the device-day and the log row in CTEs, the counts in the
# statement; a count is not a record, so the commit does not wait for the WAL flush (a
# crash may lose the last fraction of a second of counts, log and tally alike).
_RECORD_PG = _typed(
    "SET LOCAL synchronous_commit TO OFF; "
    "WITH day AS (INSERT INTO verification_device_day (code, device, day) "
    "SELECT :code, :device, :day WHERE CAST(:device AS VARCHAR) IS NOT NULL "
    "ON CONFLICT DO NOTHING RETURNING 1), "
    "added AS (INSERT INTO verification_check (code, checked_at, device) VALUES (:code, :now, :device)) "
    + _BUMP.format(
        new="CASE WHEN CAST(:device AS VARCHAR) IS NULL THEN 1 ELSE (SELECT COUNT(*) FROM day) END",
    )
)
_TALLY = select(_k.c.checks, _k.c.device_days, _k.c.first_checked_at).where(_k.c.code == bindparam("code"))


def record(
    code: str, device: str | None = None, now: datetime | None = None, registry: Connection | None = None
) -> Tally | None:
    """Append one check of ``code``; the code's tally including it, or None if the store failed.

    Committed before returning, so the very next request sees it. When the log is
    in the registry's own database (PostgreSQL), pass the caller's ``registry``
    connection: the check then rides on it (one connection and round trip per
    scan) and that connection's transaction is committed, or rolled back on failure.
    """
    now = now or utcnow()
    shared = registry is not None and store_url() == current_app.config["SQLALCHEMY_URL"]
    try:
        if registry is not None and shared:
            counted = _append(registry, code, device, now)
            registry.commit()
            return counted
        with store_engine().begin() as conn:
            return _append(conn, code, device, now)
    except (SQLAlchemyError, OSError) as exc:
        if registry is not None and shared:
            registry.rollback()
        log.warning("check of %s not counted: %s", code, _short(exc))
        return None


def _append(conn: Connection, code: str, device: str | None, now: datetime) -> Tally:
    day = now.astimezone(VIETNAM).date()
    params: dict[str, Any] = {"code": code, "now": now, "device": device, "day": day}
    if conn.dialect.name == "postgresql":
        checks, days, first = conn.execute(_RECORD_PG, params).one()
    else:
        # A check without a device (none could be told) counts as a device-day of its own.
        pair = {"code": code, "device": device, "day": day}
        new = device is None or conn.execute(_NEW_DAY, pair).rowcount > 0
        conn.execute(_INSERT, {"code": code, "checked_at": now, "device": device})
        checks, days, first = conn.execute(_BUMP_SQL, {**params, "new": int(new)}).one()
    return Tally(int(checks), first, int(days))


_SEEN = select(_d.c.code).where(_d.c.code == bindparam("code"), _d.c.device == bindparam("device"))


def seen(code: str, device: str) -> bool:
    """Whether ``device`` (today's pseudonym) has already checked ``code`` today; False if unreadable."""
    try:
        with store_engine().connect() as conn:
            return conn.execute(_SEEN, {"code": code, "device": device}).first() is not None
    except (SQLAlchemyError, OSError) as exc:
        log.warning("device-day of %s not read: %s", code, _short(exc))
        return False


def tally(code: str) -> Tally | None:
    """The code's checks so far, or None if the store cannot be read."""
    try:
        with store_engine().connect() as conn:
            row = conn.execute(_TALLY, {"code": code}).first()
    except (SQLAlchemyError, OSError) as exc:
        log.warning("checks of %s not read: %s", code, _short(exc))
        return None
    if row is None:
        return Tally(0, None)
    return Tally(int(row.checks), row.first_checked_at, int(row.device_days))


#: Rows deleted per transaction by :func:`prune`, so pruning never holds the store's lock for long.
PRUNE_BATCH = 5_000


def prune(before: datetime) -> int:
    """Delete the raw check rows older than ``before``; returns rows deleted.

    Counts stay exact: a code's running total lives in ``verification_tally``, which is
    never pruned (the page shows it, not a count of rows); only each old check's own time and
    daily device pseudonym go, and the device-days of those days. Deletes in short transactions, oldest first.
    """
    engine = store_engine()
    old = select(_t.c.id).where(_t.c.checked_at < before).order_by(_t.c.id).limit(PRUNE_BATCH)
    removed = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(old).scalars())
            if ids:
                conn.execute(_t.delete().where(_t.c.id.in_(ids)))
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            break
    # A day's device pseudonyms never recur on a later day: old pairs only take room.
    with engine.begin() as conn:
        conn.execute(_d.delete().where(_d.c.day < before.astimezone(VIETNAM).date()))
    return removed


def _short(exc: Any) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
