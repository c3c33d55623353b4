"""Draining the outbox into this node's live index under the write lock, and ``search status``.

Any process of the node drains rows past the live build's cursor
(:mod:`catalogue.search.outbox`) and advances the cursor only after the index
commit; re-applying a row is harmless. A build found to have missed pruned rows
is rebuilt in the background (:mod:`catalogue.search.building`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from catalogue.clock import aware, utcnow
from catalogue.search import building
from catalogue.search.index import INFO, current_name, open_dir, open_live, write_lock
from catalogue.search.outbox import drain_into, live_cursor, needs_rebuild, pending_rows


def drain(root: Path, engine: Engine, timeout: float = 30.0, name: str | None = None) -> int:
    """Apply outbox rows past a build's cursor; returns the rows applied.

    The build is ``name`` when given and usable (the one a process answers from), else
    the live one; it is opened once, under the lock. Callers drain when they know of rows
    (a commit, a search that found the cursor behind): one writer at a time, so other
    processes wait on the lock, then find nothing left.
    Raises :class:`IndexMissing` when this node has no usable build (never builds one).
    """
    with write_lock(root, timeout=timeout):
        ix = open_live(root, name)  # after the wait: without ``name``, a build swapped in meanwhile
        done = drain_into(ix, engine)
        stale = needs_rebuild(Path(ix.storage.folder))
    if stale:  # rows it never applied were pruned: build afresh, answering from this one meanwhile
        building.start(root, engine)
    return done


@dataclass
class Status:
    """What ``search status`` reports of this node's index."""

    name: str | None
    documents: int | None
    pending: int
    oldest_pending_age: float | None
    built_at: str | None
    modified_age: float | None
    #: The live build missed outbox rows that were pruned; a rebuild was started.
    needs_rebuild: bool = False


def status(root: Path, engine: Engine) -> Status:
    """What ``search status`` prints: documents, outbox rows this node has not applied, ages."""
    name = current_name(root)
    documents = built_at = modified_age = None
    try:
        ix = open_dir(root, name)
        documents = ix.doc_count()
        built_at = json.loads((root / str(name) / INFO).read_text()).get("built_at")
        modified_age = time.time() - ix.last_modified()
    except Exception:  # noqa: BLE001 - status reports, never repairs
        pass
    with Session(engine) as session:
        pending, oldest = pending_rows(session, live_cursor(root))
    age = None
    if oldest is not None:
        age = (utcnow() - aware(oldest)).total_seconds()
    stale = bool(name) and needs_rebuild(root / str(name))
    return Status(name, documents, pending, age, built_at, modified_age, stale)
