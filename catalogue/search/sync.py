"""Keep the index in step with the database after commits (the outbox's consumer side).

A session that flushed an outbox row marks the app "dirty" when it commits;
when the app context ends (after a request, or after a CLI command) the
pending rows are drained into the index. The rows are durable, so a nudge that
fails or never happens (crash, kill) only delays indexing until the next drain:
the next commit, the next search (each search checks, with one query, whether
the outbox holds rows past the cursor of the build it answers from — rows other
nodes wrote, or a crashed process left), or ``flask search rebuild``. Draining
never builds an index: without one it starts a background build
(:mod:`catalogue.search.building`).

Every search reads through :func:`snapshot`: this process's searcher, caught up with
the outbox first. Under gunicorn each worker opens the index and loads the filter
tables when the app is created (a background thread), not on its first visitor's search.
"""

from __future__ import annotations

import logging
import pickle
import struct
import sys
import threading
import zlib
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session as OrmSession

from catalogue.audit import services as audit
from catalogue.audit.models import OutboxEvent
from catalogue.search.reader import IndexBuilding, Reader, Snapshot, reader_for

log = logging.getLogger(__name__)
_EXT = "catalogue_search"


class SyncState:
    def __init__(self) -> None:
        self.dirty = False


def _state(app: Flask) -> SyncState:
    return app.extensions[_EXT]


def _after_flush(session: OrmSession, _ctx: object) -> None:
    if any(isinstance(obj, OutboxEvent) for obj in session.new):
        audit.outbox_written(session)


def _after_commit(session: OrmSession) -> None:
    if session.info.pop(audit.OUTBOX_WRITTEN, False):
        try:
            state = current_app.extensions.get(_EXT)
        except RuntimeError:  # no app context (scripts): the next drain picks it up
            return
        if state is not None:
            state.dirty = True


def _after_rollback(session: OrmSession) -> None:
    session.info.pop(audit.OUTBOX_WRITTEN, None)


_LISTENING = False


def _listen() -> None:
    global _LISTENING
    if not _LISTENING:
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "after_commit", _after_commit)
        event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))
        _LISTENING = True


def drain_now(app: Flask | None = None, name: str | None = None) -> int:
    """Drain outbox rows past this node's cursor into its index; returns rows applied.

    ``name``: the build to drain (the one this process answers from); by default the live one.
    Without a usable index, starts a background build (which catches up itself) and returns 0.
    """
    from catalogue.db import get_engine
    from catalogue.search import building
    from catalogue.search.drain import drain
    from catalogue.search.index import IndexMissing

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    _state(app).dirty = False
    root, engine = Path(app.config["INDEX_DIR"]), get_engine(app.config["SQLALCHEMY_URL"])
    try:
        return drain(root, engine, name=name)
    except IndexMissing:
        building.start(root, engine)
        return 0


def catch_up(reader: Reader, engine: Engine) -> bool:
    """After a search opened its searcher: drain when the outbox holds rows its build has not applied.

    Rows other nodes (or other processes, or a process that crashed before draining)
    committed. Returns whether rows were applied (the searcher is then out of date).
    """
    try:
        if reader.behind(engine):
            return drain_now(name=reader.serving()) > 0
    except Exception:  # noqa: BLE001 - the search still answers; rows stay for the next drain
        log.exception("catching up with the search outbox failed")
    return False


def _engine() -> Engine:
    from catalogue.db import get_engine

    return get_engine()


def _reader() -> Reader:
    return reader_for(Path(current_app.config["INDEX_DIR"]))


#: What damaged index files raise while being read.
CORRUPTION = (OSError, EOFError, zlib.error, pickle.UnpicklingError, struct.error)


def damaged() -> None:
    """The open build raised while read: answer from the previous one and rebuild in the background."""
    log.warning("search index damaged: rebuilding from the database in the background")
    _reader().mark_bad()


def snapshot() -> Snapshot:
    """The process's searcher, in step with the outbox cursor of the build it answers from.

    Raises :class:`~catalogue.search.reader.IndexBuilding` while a first index is built.
    """
    reader, engine = _reader(), _engine()
    snap = _open(reader, engine)
    if catch_up(reader, engine):  # rows other nodes (or processes) committed: applied now
        snap = _open(reader, engine)
    return snap


def _open(reader: Reader, engine: Engine) -> Snapshot:
    try:
        return reader.snapshot(engine)
    except IndexBuilding:
        raise
    except Exception:  # noqa: BLE001 - corrupt index files: fall back, rebuild in the background
        damaged()
        return reader.snapshot(engine)


def _warm_up(app: Flask) -> None:
    """Open the index and load its filter tables before the first visitor's search."""
    try:
        with app.test_request_context():
            snapshot()
    except IndexBuilding:
        log.warning("no search index yet: building it in the background")
    except Exception:  # noqa: BLE001 - the first search retries and reports
        log.exception("warming up the search index failed")


def _teardown(_exc: BaseException | None) -> None:
    try:
        state = current_app.extensions.get(_EXT)
        if state is not None and state.dirty:
            drain_now()
    except Exception:  # noqa: BLE001 - rows stay pending; the next drain applies them
        log.exception("draining the search outbox failed; rows stay pending")


def init_app(app: Flask) -> None:
    from catalogue.search import building

    app.extensions[_EXT] = SyncState()
    _listen()
    app.teardown_appcontext(_teardown)
    default_mode = "thread" if app.config.get("TESTING") else "process"
    building.MODE = app.config.get("SEARCH_BUILD_IN") or default_mode
    if app.config.get("SEARCH_WARM_UP", "gunicorn.arbiter" in sys.modules):  # a server worker
        threading.Thread(target=_warm_up, args=(app,), daemon=True, name="search-warm-up").start()
