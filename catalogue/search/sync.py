"""Keep the index in step with the database after commits (the outbox's consumer side).

A session that flushed an outbox row marks the app "dirty" when it commits;
when the app context ends (after a request, or after a CLI command) the
pending rows are drained into the index. The rows are durable, so a nudge that
fails or never happens (crash, kill) only delays indexing until the next drain:
the next commit anywhere, the first search of a new process, or
``flask search rebuild``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from catalogue.models import OutboxEvent

log = logging.getLogger(__name__)
_EXT = "catalogue_search"


class SyncState:
    def __init__(self) -> None:
        self.dirty = False
        #: Drained once on first use in this process (start-up recovery).
        self.started = False
        self.lock = threading.Lock()


def _state(app: Flask) -> SyncState:
    return app.extensions[_EXT]


def _after_flush(session: OrmSession, _ctx: object) -> None:
    if any(isinstance(obj, OutboxEvent) for obj in session.new):
        session.info["outbox_dirty"] = True


def _after_commit(session: OrmSession) -> None:
    if session.info.pop("outbox_dirty", False):
        try:
            state = current_app.extensions.get(_EXT)
        except RuntimeError:  # no app context (scripts): the next drain picks it up
            return
        if state is not None:
            state.dirty = True


def _after_rollback(session: OrmSession) -> None:
    session.info.pop("outbox_dirty", None)


_LISTENING = False


def _listen() -> None:
    global _LISTENING
    if not _LISTENING:
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "after_commit", _after_commit)
        event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))
        _LISTENING = True


def drain_now(app: Flask | None = None) -> int:
    """Drain pending outbox rows into this app's index; returns rows applied."""
    from catalogue.db import get_engine
    from catalogue.search.index import drain

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    state = _state(app)
    state.dirty = False
    state.started = True
    return drain(Path(app.config["INDEX_DIR"]), get_engine(app.config["SQLALCHEMY_URL"]))


def ensure_started() -> None:
    """On a process's first search: open (or rebuild) the index and drain leftovers."""
    state = _state(current_app)
    if not state.started:
        with state.lock:
            if not state.started:
                drain_now()


def _teardown(_exc: BaseException | None) -> None:
    try:
        state = current_app.extensions.get(_EXT)
        if state is not None and state.dirty:
            drain_now()
    except Exception:  # noqa: BLE001 - rows stay pending; the next drain applies them
        log.exception("draining the search outbox failed; rows stay pending")


def init_app(app: Flask) -> None:
    app.extensions[_EXT] = SyncState()
    _listen()
    app.teardown_appcontext(_teardown)
