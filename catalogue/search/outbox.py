"""The outbox against one build's cursor: applying its rows into that build, what is
still pending, and pruning old rows.

``processed_at`` only records that some node applied a row (for ``search status``).
A build whose cursor is older than the oldest row left (rows pruned before it applied
them) is marked stale, to be rebuilt. The caller holds the write lock
(:func:`catalogue.search.drain.drain`, or a rebuild's swap).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, func, update
from sqlmodel import Session, col, select
from whoosh import index as whoosh_index

from catalogue import faults
from catalogue.audit.models import OutboxEvent
from catalogue.clock import utcnow
from catalogue.db import chunks
from catalogue.search.cursor import ID_CHUNK, Cursor, waiting
from catalogue.search.documents import BATCH, apply_products
from catalogue.search.index import IndexMissing, built_at, live_name, save_facets

log = logging.getLogger(__name__)

#: started less than this ago cannot have missed a pruned row.
MIN_PRUNE_AGE = timedelta(days=1)
#: Rows deleted per transaction by :func:`prune_outbox` (short write locks on SQLite).
PRUNE_BATCH = 5_000


def _mark_processed(session: Session, ids: list[int]) -> None:
    for chunk in chunks(ids, ID_CHUNK):
        session.exec(update(OutboxEvent).where(col(OutboxEvent.id).in_(chunk),
                                               col(OutboxEvent.processed_at).is_(None))
                     .values(processed_at=utcnow()))  # fmt: skip


def _rows_in(session: Session, ids: list[int]) -> list[OutboxEvent]:
    rows: list[OutboxEvent] = []
    for chunk in chunks(ids, ID_CHUNK):
        rows += session.exec(select(OutboxEvent).where(col(OutboxEvent.id).in_(chunk))).all()
    return rows


def _pruned_past(folder: Path, cursor: Cursor, oldest: int | None) -> bool:
    """Whether outbox rows past this build's cursor were pruned before it applied them.

    No row lies between the cursor and the oldest row left: those ids were pruned (or, on
    PostgreSQL, taken by transactions that rolled back). Pruned rows were at least
    :data:`MIN_PRUNE_AGE` old, so a build started since cannot have missed any.
    """
    if cursor.stale:
        return True
    if oldest is None or oldest <= cursor.high + 1:
        return False
    return built_at(folder) < utcnow() - MIN_PRUNE_AGE


def needs_rebuild(folder: Path) -> bool:
    """Whether a drain found this build missing pruned outbox rows (see :func:`drain_into`)."""
    try:
        return Cursor.load(folder).stale
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def prune_outbox(engine: Engine, before: datetime) -> int:
    """Delete outbox rows written before ``before``, always keeping the newest; returns rows deleted.

    Each node's cursor is its own, so nobody can tell whether every node applied a row:
    rows go by age alone, and a node whose cursor is older than the oldest row left
    notices on its next drain and rebuilds its index (:func:`catalogue.search.drain.drain`).
    The newest row stays so that SQLite, which gives a new row ``max(id) + 1``, never
    reuses an id a cursor passed.
    """
    removed = 0
    with Session(engine) as session:
        newest = session.exec(select(func.max(OutboxEvent.id))).one()
        if newest is None:
            return 0
        old = (
            select(OutboxEvent.id)
            .where(col(OutboxEvent.created_at) < before, col(OutboxEvent.id) < newest)
            .order_by(col(OutboxEvent.id))
            .limit(PRUNE_BATCH)
        )
        while True:
            ids = [i for i in session.exec(old).all() if i is not None]
            if not ids:
                break
            session.exec(delete(OutboxEvent).where(col(OutboxEvent.id).in_(ids)))
            session.commit()
            removed += len(ids)
    return removed


def drain_into(ix: whoosh_index.Index, engine: Engine) -> int:
    """Apply outbox rows past this build's cursor (and its gaps that have filled); caller holds the lock.

    A build whose cursor is older than the oldest row left (the rows in between were
    pruned) is marked stale first: :func:`catalogue.search.drain.drain` then starts a rebuild.
    """
    folder = Path(ix.storage.folder)
    done = 0
    with Session(engine, expire_on_commit=False) as session:
        cursor = Cursor.load(folder)
        oldest = session.exec(select(func.min(OutboxEvent.id))).one()
        if not cursor.stale and _pruned_past(folder, cursor, oldest):
            log.warning("search index %s missed pruned outbox rows: it will be rebuilt", folder.name)
            cursor.stale = True
            cursor.save(folder)
        saved = (cursor.high, dict(cursor.gaps))

        def save() -> None:
            nonlocal saved
            cursor.save(folder)
            saved = (cursor.high, dict(cursor.gaps))

        if cursor.gaps:
            filled = _rows_in(session, sorted(cursor.gaps))
            if filled:
                apply_products(ix, session, sorted({r.product_id for r in filled}))
                for row in filled:
                    cursor.gaps.pop(row.id or 0, None)
                _mark_processed(session, [r.id for r in filled if r.id is not None])
                session.commit()
                done += len(filled)
                save()
        while True:
            rows = session.exec(select(OutboxEvent).where(col(OutboxEvent.id) > cursor.high)
                                .order_by(col(OutboxEvent.id)).limit(BATCH * 5)).all()  # fmt: skip
            if not rows:
                break
            apply_products(ix, session, sorted({r.product_id for r in rows}))
            faults.point("drain.applied")  # in the index, not yet in the cursor: re-applied, never lost
            cursor.advance([r.id for r in rows if r.id is not None])
            save()  # after the index commit: a crash in between only re-applies rows
            _mark_processed(session, [r.id for r in rows if r.id is not None])
            session.commit()
            done += len(rows)
        cursor.expire()
        if (cursor.high, cursor.gaps) != saved:
            save()
    if done:
        save_facets(ix)
    return done


def live_cursor(root: Path) -> Cursor | None:
    """The cursor of this node's live build (None without a usable build)."""
    try:
        return Cursor.load(root / live_name(root))
    except IndexMissing:
        return None


def pending_rows(session: Session, cursor: Cursor | None) -> tuple[int, datetime | None]:
    """Outbox rows a build with this cursor has not applied, and when the oldest was written."""
    count, oldest = session.exec(select(func.count(), func.min(OutboxEvent.created_at))
                                 .where(waiting(cursor))).one()  # fmt: skip
    return count, oldest


def pending_count(engine: Engine, root: Path | None = None) -> int:
    """Outbox rows not applied: by this node's live build (``root``), or by any node."""
    with Session(engine) as session:
        if root is not None:
            return pending_rows(session, live_cursor(root))[0]
        return session.exec(select(func.count()).select_from(OutboxEvent)
                            .where(col(OutboxEvent.processed_at).is_(None))).one()  # fmt: skip
