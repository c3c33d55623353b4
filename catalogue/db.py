"""The one place that creates database engines and hands out sessions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, TypeVar

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

_T = TypeVar("_T")

_ENGINES: dict[tuple[str, float], Engine] = {}


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def pk(row: _Row) -> int:
    """The primary key of a row that has been loaded or flushed.

    The models type ``id`` as ``int | None`` only because a new row has no key until
    it is flushed; this states that the row is stored (and says so if it is not).
    """
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: add and flush it first")
    return row.id


def get_row(session: Session, model: type[_T], ident: int | None) -> _T | None:
    """``session.get``, which also finds a row a staged publish has added but not yet written.

    See :class:`catalogue.registry.records.Staging`: such rows have their keys
    but are in no identity map until the publish reveals them.
    """
    if ident is None:
        return None
    staged = session.info.get("staged_rows")
    if staged:
        row = staged.get((model, ident))
        if row is not None:
            return row
    return session.get(model, ident)


#: How long an SQLite connection waits for another writer before giving up (seconds).
SQLITE_BUSY_SECONDS = 30.0


def make_engine(url: str, busy_seconds: float = SQLITE_BUSY_SECONDS) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_seconds})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def get_engine(url: str | None = None, busy_seconds: float | None = None) -> Engine:
    """One engine per URL (and SQLite busy timeout) per process; gunicorn workers each get their own.

    SQLite waits ``SQLITE_BUSY_SECONDS`` (the app's setting, or ``busy_seconds`` from
    callers that run before the app exists) for another writer: a web request gives
    up well before gunicorn's worker timeout, so the visitor gets a "try again" page
    instead of a killed worker. Scripts without either wait 30 s.
    """
    url = url or current_app.config["SQLALCHEMY_URL"]
    if busy_seconds is None and has_app_context():
        busy_seconds = float(current_app.config.get("SQLITE_BUSY_SECONDS", SQLITE_BUSY_SECONDS))
    key = (url, busy_seconds or SQLITE_BUSY_SECONDS)
    engine = _ENGINES.get(key)
    if engine is None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = _ENGINES[key] = make_engine(url, key[1])
    return engine


def read_snapshot(session: Session) -> None:
    """Make every read of ``session`` from now on see one moment of the database.

    A long export reads in many statements; under READ COMMITTED (PostgreSQL) or with SQLite's
    statement-by-statement reads, a merge landing half-way would list a certificate twice, or
    not at all. Call it before the session's first statement.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:  # WAL: the read transaction keeps the snapshot its first read took
        session.connection().exec_driver_sql("BEGIN")


def dispose_engines() -> None:
    """Close pooled connections (tests and forks call this)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def get_session() -> Session:
    """The request's session, closed at teardown."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session for CLI commands and jobs: commit on success, roll back on error."""
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)


def chunks(values: Sequence[_T], size: int = 1000) -> Iterator[Sequence[_T]]:
    """``values`` in slices of ``size``: ``IN`` lists a database takes (SQLite bounds bound parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
