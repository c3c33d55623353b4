"""The on-disk index: open it, rebuild it, and drain the outbox into it.

Layout under ``INDEX_DIR`` (one per node: nodes never share an index)::

    CURRENT         name of the live build directory (replaced atomically)
    PREVIOUS        the build before it, kept to answer while a damaged CURRENT is rebuilt
    write.lock      flock'd by the one process writing at a time
    build.lock      flock'd by the one process building a fresh directory
    building.json   the running build's progress (documents done / total)
    gen-<stamp>-<random>/   a Whoosh index + ``catalogue.json`` + ``cursor.json``
                            + ``facets-*.npz`` (the filter tables, per segment)

A rebuild writes a fresh ``gen-*`` directory and then swaps ``CURRENT``, so
readers never see a half-built index. Changes reach the index through the
``search_outbox`` table, written in the same transaction as the change. Each
build keeps its own cursor (:class:`Cursor`): the highest outbox id applied
plus the ids below it not yet seen (a transaction that took its id earlier may
commit later, on PostgreSQL). Any process of the node drains rows past its
cursor under the write lock and advances the cursor only after the index
commit; re-applying a row is harmless. So every node keeps its own index in
step from the shared outbox, and a node joining late builds from the database
and continues from the cursor taken when its build began. ``processed_at`` now
only records that some node applied the row (for ``search status``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Engine, delete, exists, func, or_, true, update
from sqlmodel import Session, col, select
from whoosh import index as whoosh_index
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from catalogue import faults
from catalogue.audit.models import OutboxEvent
from catalogue.clock import utcnow
from catalogue.places.services import Provinces
from catalogue.registry.catalog import load_summaries
from catalogue.registry.models import Product
from catalogue.registry.status import Policy
from catalogue.search.facets import DocTable, _Segment, facet_file, prune_facet_files
from catalogue.search.schema import SCHEMA_VERSION, build_schema, document_for

if TYPE_CHECKING:
    from catalogue.search.building import Progress

log = logging.getLogger(__name__)

POINTER = "CURRENT"
PREVIOUS = "PREVIOUS"
LOCK = "write.lock"
BUILD_LOCK = "build.lock"
PROGRESS = "building.json"
INFO = "catalogue.json"
CURSOR = "cursor.json"
#: Ids below the cursor not seen yet are re-checked this long (a transaction open longer
#: than this that then commits is only picked up by the next rebuild), at most MAX_GAPS of them.
GAP_TTL = timedelta(hours=1)
MAX_GAPS = 10_000
#: A build's starting cursor treats missing ids among the last this many as possibly uncommitted.
GAP_SCAN = 2_000
#: Outbox rows written this long before a rebuild started that it could not see then
#: (their transaction committed while it was reading, below the GAP_SCAN window) are
#: applied after the build; rows it saw are covered by its cursor and never re-applied.
REBUILD_OVERLAP = timedelta(minutes=5)
#: Ids per ``IN (...)`` list (SQLite and PostgreSQL both take this many parameters).
ID_CHUNK = 1000
BATCH = 100  # load_summaries matches certificates per product: keep batches small
#: Outbox rows are never pruned younger than this (``OUTBOX_DAYS`` is at least 1), so a build
#: started less than this ago cannot have missed a pruned row.
MIN_PRUNE_AGE = timedelta(days=1)
#: Rows deleted per transaction by :func:`prune_outbox` (short write locks on SQLite).
PRUNE_BATCH = 5_000
#: Documents hold dates, never a status (worked out per query with the policy then in effect),
#: so building them needs no policy from the database.
_NO_STATUS = Policy()


class LockTimeout(RuntimeError):
    """Another process held the index write lock for too long."""


class IndexMissing(RuntimeError):
    """No usable build on this node yet (first start, or every build damaged)."""


@contextmanager
def write_lock(root: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold the index's single-writer lock (a ``flock`` shared by all processes)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"index write lock busy for {timeout:.0f} s") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_pointer(root: Path, pointer: str) -> str | None:
    try:
        name = (root / pointer).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def current_name(root: Path) -> str | None:
    return _read_pointer(root, POINTER)


def previous_name(root: Path) -> str | None:
    return _read_pointer(root, PREVIOUS)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once: readers see the old file or the new one, never a part."""
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_pointer(root: Path, pointer: str, name: str) -> None:
    write_atomic(root / pointer, name + "\n")


def _swap_pointer(root: Path, name: str) -> None:
    _write_pointer(root, POINTER, name)


def usable(root: Path, name: str | None) -> bool:
    try:
        _open_dir(root, name)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return True


def _open_live(root: Path, first: str | None = None) -> whoosh_index.Index:
    """Open the build to write to or answer from: ``first`` when given and usable, else CURRENT,
    else the kept PREVIOUS; raises IndexMissing. Each candidate is opened once."""
    for name in dict.fromkeys((first, current_name(root), previous_name(root))):
        if name:
            try:
                return _open_dir(root, name)
            except Exception:  # noqa: BLE001 - damaged or missing: try the next
                continue
    raise IndexMissing("no usable search index")


def live_name(root: Path) -> str:
    """The build to answer from: CURRENT, else the kept PREVIOUS; raises IndexMissing."""
    return Path(_open_live(root).storage.folder).name


def _open_dir(root: Path, name: str | None) -> whoosh_index.Index:
    """Open a build directory; any problem (missing, other version, corrupt) raises.

    Every published build has a cursor (written before its ``INFO`` and its swap):
    one without is damaged.
    """
    if not name:
        raise FileNotFoundError("no current index")
    path = root / name
    info = json.loads((path / INFO).read_text())
    if info.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"index schema version {info.get('schema_version')} != {SCHEMA_VERSION}")
    if not (path / CURSOR).is_file():
        raise FileNotFoundError(f"index build {name} has no {CURSOR}")
    ix = whoosh_index.open_dir(str(path))
    ix._segments()  # reads the TOC only (opening every segment's terms costs ~0.1 s at 100k)
    return ix


def _now() -> float:
    return utcnow().timestamp()


@dataclass
class Cursor:
    """How far one build has applied the outbox: ``high`` and the ids below it not yet seen.

    On PostgreSQL ids come from a sequence when a row is inserted, so a transaction
    holding id 5 can commit after one holding id 6: a cursor that only kept "last
    id" would skip row 5. Missing ids are remembered (with when they were first
    missed) and re-read until they appear or age out (rolled back, or pruned).
    """

    high: int = 0
    gaps: dict[int, float] = field(default_factory=dict)
    #: Rows past ``high`` were pruned before this build applied them: it must be rebuilt.
    stale: bool = False

    @classmethod
    def load(cls, folder: Path) -> Cursor:
        """The cursor of a build (every published build has one: :func:`rebuild` saves it first)."""
        return cls.parse((folder / CURSOR).read_bytes())

    @classmethod
    def parse(cls, raw: bytes) -> Cursor:
        data = json.loads(raw)
        return cls(int(data["high"]), {int(k): float(v) for k, v in data.get("gaps", {}).items()},
                   stale=bool(data.get("stale", False)))  # fmt: skip

    @classmethod
    def at_start(cls, session: Session) -> Cursor:
        """Where a build that reads the database now continues from afterwards."""
        high = session.exec(select(func.max(OutboxEvent.id))).one() or 0
        seen = set(session.exec(select(OutboxEvent.id).where(col(OutboxEvent.id) > high - GAP_SCAN)).all())
        now = _now()
        return cls(high=high, gaps={i: now for i in range(max(1, high - GAP_SCAN + 1), high + 1)
                                    if i not in seen})  # fmt: skip

    def save(self, folder: Path) -> None:
        data: dict[str, Any] = {"high": self.high, "gaps": {str(k): v for k, v in self.gaps.items()}}
        if self.stale:
            data["stale"] = True
        write_atomic(folder / CURSOR, json.dumps(data))

    def advance(self, ids: list[int]) -> None:
        """Record rows read past ``high`` (sorted ids of one batch): skipped ids become gaps."""
        if not ids:
            return
        now, seen = _now(), set(ids)
        for missing in range(self.high + 1, ids[-1]):
            if missing not in seen:
                self.gaps[missing] = now
        self.high = max(self.high, ids[-1])

    def expired(self) -> Cursor:
        """A copy without the gaps older than GAP_TTL, keeping at most MAX_GAPS (the newest)."""
        limit = _now() - GAP_TTL.total_seconds()
        gaps = {i: t for i, t in self.gaps.items() if t >= limit}
        if len(gaps) > MAX_GAPS:
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        return Cursor(self.high, gaps, self.stale)

    def expire(self) -> None:
        self.gaps = self.expired().gaps

    def waiting(self) -> list[ColumnElement[bool]]:
        """The one rule for outbox rows this build has not applied: past ``high``, or in its gaps.

        As alternatives, each answered by the primary key (see :func:`any_waiting`).
        """
        ids = sorted(self.gaps)
        return [col(OutboxEvent.id) > self.high, *(col(OutboxEvent.id).in_(chunk) for chunk in _chunks(ids))]


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def _waiting(cursor: Cursor | None) -> ColumnElement[bool]:
    """Outbox rows a build with this cursor has not applied (every row without a build)."""
    return or_(*cursor.waiting()) if cursor is not None else true()


def any_waiting(conn: Connection, cursor: Cursor) -> bool:
    """Whether any outbox row waits for this cursor: one query of indexed ``EXISTS`` probes."""
    return bool(conn.execute(select(or_(*(exists().where(part) for part in cursor.waiting())))).scalar())


@dataclass
class RebuildReport:
    name: str
    documents: int
    seconds: float
    caught_up: int


def _all_product_ids(session: Session) -> list[int]:
    return [
        pid for pid in session.exec(select(Product.id).order_by(col(Product.id))).all() if pid is not None
    ]


def apply_products(ix: whoosh_index.Index, session: Session, product_ids: list[int]) -> int:
    """Re-index (or delete) these products in one index commit; returns documents written."""
    if not product_ids:
        return 0
    provinces = Provinces.load(session)
    writer = ix.writer(timeout=30.0)
    written = 0
    try:
        for start in range(0, len(product_ids), BATCH):
            chunk = product_ids[start : start + BATCH]
            summaries = load_summaries(session, chunk, provinces, policy=_NO_STATUS)
            for summary in summaries:
                writer.update_document(**document_for(summary, provinces))
                written += 1
            for pid in set(chunk) - {s.product.id for s in summaries}:
                writer.delete_by_term("id", str(pid))
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return written


def _remove_old(root: Path, keep: set[str]) -> None:
    """Delete superseded builds (the previous one stays for readers still using it)."""
    builds = sorted((p for p in root.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for path in builds:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def rebuild(
    root: Path,
    engine: Engine,
    progress: Callable[[int, int], None] | None = None,
    *,
    locked: bool = False,
    procs: int = 1,
) -> RebuildReport:
    """Build a complete index from the database in a fresh directory and swap it in.

    The build runs without the write lock (drains continue on the old index);
    the swap and a catch-up of the outbox rows its cursor does not cover run under it.
    """
    started, t0 = utcnow(), time.perf_counter()
    since = started - REBUILD_OVERLAP
    root.mkdir(parents=True, exist_ok=True)
    name = f"gen-{started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    path = root / name
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    with Session(engine, expire_on_commit=False) as session:
        cursor = Cursor.at_start(session)  # before reading products: later rows get applied
        seen = _recent_ids(session, since)  # committed now: the build reads their changes
        ids = _all_product_ids(session)
    if progress:
        progress(0, len(ids))
    try:
        if procs > 1 and len(ids) >= procs * BATCH:
            count = _build_parallel(ix, path, engine, ids, procs, progress)
        else:
            writer = SegmentWriter(ix, limitmb=256)
            try:
                count = _index_products(writer, engine, ids, progress)
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    built = ix.doc_count()
    if built != count:  # a part that went missing is never swapped in
        shutil.rmtree(path, ignore_errors=True)
        raise RuntimeError(f"index build wrote {built} of {count} documents; nothing was swapped in")
    _save_facets(ix)  # the filter tables, so a fresh worker needs not read 100k documents
    cursor.save(path)
    (path / INFO).write_text(json.dumps({
        "schema_version": SCHEMA_VERSION, "built_at": started.isoformat(), "documents": count,
    }))  # fmt: skip

    faults.point("rebuild.written")  # a complete build not swapped in: the old one keeps answering

    def swap() -> int:
        old = current_name(root)
        previous = old if old and usable(root, old) else previous_name(root)
        # Catch up before the swap, so no reader sees the new build without recent changes.
        caught = _catch_up(ix, engine, cursor, since, seen)
        caught += _drain_into(ix, engine)
        if previous and previous != name:
            _write_pointer(root, PREVIOUS, previous)
        _swap_pointer(root, name)
        _remove_old(root, keep={name, previous or ""})
        return caught

    if locked:
        caught = swap()
    else:
        with write_lock(root):
            caught = swap()
    return RebuildReport(name=name, documents=count, seconds=time.perf_counter() - t0, caught_up=caught)


def _index_products(
    writer: SegmentWriter,
    engine: Engine,
    ids: list[int],
    progress: Callable[[int, int], None] | None = None,
    offset: int = 0,
    total: int = 0,
) -> int:
    """Add the documents of these products to ``writer``; returns documents added."""
    count = 0
    total = total or len(ids)
    with Session(engine, expire_on_commit=False) as session:
        provinces = Provinces.load(session)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            for summary in load_summaries(session, chunk, provinces, policy=_NO_STATUS):
                writer.add_document(**document_for(summary, provinces))
                count += 1
            session.expunge_all()
            if progress:
                progress(offset + min(start + BATCH, len(ids)), total)
    return count


def _build_part(folder: str, url: str, ids: list[int], part: int) -> tuple[Any, int]:
    """One process's share of a parallel build: its own segment of the new index.

    Reading the database and building documents cost as much as Whoosh's indexing,
    so each process does both for its share (Whoosh's ``procs`` writer parallelises
    only the indexing and feeds it from one process). Progress goes to a small file.
    """
    from catalogue.db import make_engine

    engine = make_engine(url)
    ix = whoosh_index.open_dir(folder)
    writer = SegmentWriter(ix, _lk=False, limitmb=128)
    note = Path(folder) / f".progress-{part}"

    def report(done: int, _total: int) -> None:
        note.write_text(str(done))

    try:
        count = _index_products(writer, engine, ids, report)
        segment = writer._finalize_segment()
    except BaseException:
        writer.cancel()
        raise
    finally:
        engine.dispose()
    note.unlink(missing_ok=True)  # the shared temporary folder is removed by the committing writer
    return segment, count


def _build_parallel(
    ix: whoosh_index.Index,
    path: Path,
    engine: Engine,
    ids: list[int],
    procs: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Build ``procs`` segments in parallel processes, then commit them together (no merge)."""
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    url = engine.url.render_as_string(hide_password=False)
    size = -(-len(ids) // procs)
    parts = [ids[i : i + size] for i in range(0, len(ids), size)]
    # "spawn": the caller may be a threaded server process, which must not be forked.
    with ProcessPoolExecutor(len(parts), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_build_part, str(path), url, part, i) for i, part in enumerate(parts)]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            if any(f.done() and f.exception() for f in futures):
                break
            if progress:
                done = 0
                for i in range(len(parts)):
                    try:
                        done += int((path / f".progress-{i}").read_text() or 0)
                    except (OSError, ValueError):
                        pass
                progress(min(done, len(ids)), len(ids))
        results = [f.result() for f in futures]  # raises the first part's error
    writer = SegmentWriter(ix)  # takes the new index's lock; adds the parts' segments to one TOC
    writer._close_segment()
    writer._commit_toc([segment for segment, _ in results])
    writer._finish()
    if progress:
        progress(len(ids), len(ids))
    return sum(count for _, count in results)


def _recent_ids(session: Session, since: datetime) -> set[int]:
    """Ids of the outbox rows written since ``since`` and committed by now."""
    return {i for i in session.exec(select(OutboxEvent.id).where(col(OutboxEvent.created_at) >= since))
            if i is not None}  # fmt: skip


def _catch_up(ix: whoosh_index.Index, engine: Engine, cursor: Cursor, since: datetime, seen: set[int]) -> int:
    """Apply the rows a build's starting cursor covers but the build could not read; returns them.

    Rows up to the cursor's ``high`` (its gaps aside, which :func:`_drain_into` follows)
    were committed when the build started, so it read their changes: they only count
    as processed. The exception is a transaction holding ids below the GAP_SCAN window
    that committed while the build was reading: its rows, written since ``since``, were
    not among those committed at the start (``seen``). Only their products are applied.
    """
    with Session(engine, expire_on_commit=False) as session:
        recent = session.exec(select(OutboxEvent.id, OutboxEvent.product_id)
                              .where(col(OutboxEvent.created_at) >= since,
                                     col(OutboxEvent.id) <= cursor.high)).all()  # fmt: skip
        late = [(i, pid) for i, pid in recent if i not in seen and i not in cursor.gaps]
        apply_products(ix, session, sorted({pid for _, pid in late}))
        session.exec(update(OutboxEvent).where(col(OutboxEvent.id) <= cursor.high,
                                               col(OutboxEvent.processed_at).is_(None),
                                               col(OutboxEvent.id).not_in(sorted(cursor.gaps)))
                     .values(processed_at=utcnow()))  # fmt: skip
        session.commit()
        return len(late)


def _mark_processed(session: Session, ids: list[int]) -> None:
    for chunk in _chunks(ids):
        session.exec(update(OutboxEvent).where(col(OutboxEvent.id).in_(chunk),
                                               col(OutboxEvent.processed_at).is_(None))
                     .values(processed_at=utcnow()))  # fmt: skip


def _rows_in(session: Session, ids: list[int]) -> list[OutboxEvent]:
    rows: list[OutboxEvent] = []
    for chunk in _chunks(ids):
        rows += session.exec(select(OutboxEvent).where(col(OutboxEvent.id).in_(chunk))).all()
    return rows


def _save_facets(ix: whoosh_index.Index) -> None:
    """Save the filter tables of segments that have none (new, merged); drop those of gone ones.

    Opens only the segments without a table, not the whole index.
    """
    folder = Path(ix.storage.folder)
    keep = set()
    for segment in ix._segments():
        path = facet_file(folder, segment.segid, segment.doc_count_all())
        keep.add(path)
        if not path.exists():
            reader = SegmentReader(ix.storage, ix.schema, segment)
            try:
                _Segment.read(reader).save(path)
            finally:
                reader.close()
    prune_facet_files(folder, keep)


def _built_at(folder: Path) -> datetime:
    try:
        built = datetime.fromisoformat(json.loads((folder / INFO).read_text())["built_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return datetime.min.replace(tzinfo=UTC)
    return built if built.tzinfo else built.replace(tzinfo=UTC)


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
    return _built_at(folder) < utcnow() - MIN_PRUNE_AGE


def needs_rebuild(folder: Path) -> bool:
    """Whether a drain found this build missing pruned outbox rows (see :func:`drain`)."""
    try:
        return Cursor.load(folder).stale
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def prune_outbox(engine: Engine, before: datetime) -> int:
    """Delete outbox rows written before ``before``, always keeping the newest; returns rows deleted.

    Each node's cursor is its own, so nobody can tell whether every node applied a row:
    rows go by age alone, and a node whose cursor is older than the oldest row left
    notices on its next drain and rebuilds its index (:func:`drain`). The newest row stays
    so that SQLite, which gives a new row ``max(id) + 1``, never reuses an id a cursor passed.
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


def _drain_into(ix: whoosh_index.Index, engine: Engine) -> int:
    """Apply outbox rows past this build's cursor (and its gaps that have filled); caller holds the lock.

    A build whose cursor is older than the oldest row left (the rows in between were
    pruned) is marked stale first: :func:`drain` then starts a rebuild.
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
        _save_facets(ix)
    return done


def _live_cursor(root: Path) -> Cursor | None:
    """The cursor of this node's live build (None without a usable build)."""
    try:
        return Cursor.load(root / live_name(root))
    except IndexMissing:
        return None


def _pending(session: Session, cursor: Cursor | None) -> tuple[int, datetime | None]:
    """Outbox rows a build with this cursor has not applied, and when the oldest was written."""
    count, oldest = session.exec(select(func.count(), func.min(OutboxEvent.created_at))
                                 .where(_waiting(cursor))).one()  # fmt: skip
    return count, oldest


def pending_count(engine: Engine, root: Path | None = None) -> int:
    """Outbox rows not applied: by this node's live build (``root``), or by any node."""
    with Session(engine) as session:
        if root is not None:
            return _pending(session, _live_cursor(root))[0]
        return session.exec(select(func.count()).select_from(OutboxEvent)
                            .where(col(OutboxEvent.processed_at).is_(None))).one()  # fmt: skip


def drain(root: Path, engine: Engine, timeout: float = 30.0, name: str | None = None) -> int:
    """Apply outbox rows past a build's cursor; returns the rows applied.

    The build is ``name`` when given and usable (the one a process answers from), else
    the live one; it is opened once, under the lock. Callers drain when they know of rows
    (a commit, a search that found the cursor behind): one writer at a time, so other
    processes wait on the lock, then find nothing left.
    Raises :class:`IndexMissing` when this node has no usable build (never builds one).
    """
    from catalogue.search import building

    with write_lock(root, timeout=timeout):
        ix = _open_live(root, name)  # after the wait: without ``name``, a build swapped in meanwhile
        done = _drain_into(ix, engine)
        stale = needs_rebuild(Path(ix.storage.folder))
    if stale:  # rows it never applied were pruned: build afresh, answering from this one meanwhile
        building.start(root, engine)
    return done


# ----------------------------------------------------------------------------- reading


@dataclass
class Snapshot:
    """One consistent view for a query: a searcher and its document table."""

    searcher: Searcher
    table: DocTable


class IndexBuilding(RuntimeError):
    """No build to answer from yet: one is being built in the background."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(f"search index building: {progress.done} of {progress.total} products")
        self.progress = progress
        self.done, self.total = progress.done, progress.total


def _file_key(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes whenever a file is replaced (:func:`write_atomic` gives it a new inode)."""
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class Reader:
    """Per-process reader of one index root: one searcher, refreshed when stale.

    Never builds in the caller's thread: with CURRENT unusable it answers from the
    kept PREVIOUS build, with neither it raises :class:`IndexBuilding`; both start a
    background build (:mod:`catalogue.search.building`).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._name: str | None = None
        self._ix: whoosh_index.Index | None = None
        self._searcher: Searcher | None = None
        self._table: DocTable | None = None
        #: Build names found unusable, not retried on every search.
        self._bad: set[str] = set()
        #: ((build, file key), cursor) of the last cursor read: re-read only when its file changes.
        self._cursor: tuple[tuple[str, int, int, int, int], Cursor] | None = None

    def snapshot(self, engine: Engine) -> Snapshot:
        with self._lock:
            name = current_name(self.root)
            if self._searcher is None or (name != self._name and name not in self._bad):
                self._open(engine, name)
            else:
                assert self._searcher is not None
                if not self._searcher.up_to_date():
                    # Not Searcher.refresh(): it reuses readers of segments whose
                    # deletions changed and keeps serving the deleted documents.
                    assert self._ix is not None
                    # The old searcher is left to the garbage collector: another
                    # thread may still be reading from it.
                    self._searcher = self._ix.searcher()
                    self._table = DocTable.build(self._searcher, previous=self._table,
                                                 folder=self.root / str(self._name))  # fmt: skip
            assert self._searcher is not None and self._table is not None
            return Snapshot(self._searcher, self._table)

    def _open(self, engine: Engine, current: str | None) -> None:
        from catalogue.search import building

        ix = searcher = None
        for name in (current, previous_name(self.root)):
            if not name or name in self._bad:
                continue
            try:
                ix = _open_dir(self.root, name)
                searcher = ix.searcher()
                break
            except Exception as exc:  # noqa: BLE001 - damaged or missing: try the next, rebuild
                log.warning("search index build %s unusable (%s)", name, exc)
                self._bad.add(name)
                ix = None
        if ix is None or Path(ix.storage.folder).name != current:
            building.start(self.root, engine)
        if ix is None or searcher is None:
            raise IndexBuilding(building.progress(self.root))
        self._ix, self._name = ix, Path(ix.storage.folder).name
        self._searcher = searcher  # a replaced searcher is left to the garbage collector
        self._table = DocTable.build(self._searcher, folder=self.root / self._name)

    def serving(self) -> str | None:
        """Name of the build this process answers from (None before the first search)."""
        return self._name

    def cursor(self, name: str) -> Cursor | None:
        """Build ``name``'s cursor (None when its folder is gone), read again only when its file changed.

        The returned cursor is shared: callers never change it.
        """
        path = self.root / name / CURSOR
        try:
            key = (name, *_file_key(os.stat(path)))
            cached = self._cursor
            if cached is not None and cached[0] == key:
                return cached[1]
            with open(path, "rb") as f:  # the key of the file read, should it be replaced meanwhile
                key, cursor = (name, *_file_key(os.fstat(f.fileno()))), Cursor.parse(f.read())
        except FileNotFoundError:
            return None
        self._cursor = (key, cursor)
        return cursor

    def behind(self, engine: Engine) -> bool:
        """Whether the outbox holds rows the build this process answers from has not applied.

        Per search: a ``stat`` of its cursor file and one query of indexed ``EXISTS`` probes.
        Also true while that build missed pruned rows and no rebuild runs yet: the drain
        that follows starts one.
        """
        from catalogue.search import building

        cursor = self.cursor(self._name) if self._name else None
        if cursor is None:
            return False
        with engine.connect() as conn:
            # Gaps that never filled (rolled-back ids) stop costing a probe after GAP_TTL.
            if any_waiting(conn, cursor.expired()):
                return True
        return cursor.stale and not building.running(self.root)

    def mark_bad(self) -> None:
        """The open build raised while being read (damaged files): stop using it, rebuild."""
        with self._lock:
            if self._name:
                self._bad.add(self._name)
        self.reset()

    def reset(self) -> None:
        """Forget the open searcher (after an error that suggests corruption)."""
        with self._lock:
            if self._searcher is not None:
                try:
                    self._searcher.close()
                except Exception:  # noqa: BLE001, S110
                    pass
            self._searcher = self._table = self._ix = None
            self._name = None


_READERS: dict[str, Reader] = {}
_READERS_LOCK = threading.Lock()


def reader_for(root: Path) -> Reader:
    """This process's reader of an index root (each spelling of the path is resolved once)."""
    reader = _READERS.get(str(root))
    if reader is None:
        with _READERS_LOCK:
            key = str(Path(root).resolve())
            reader = _READERS.get(key) or Reader(Path(key))
            _READERS[key] = _READERS[str(root)] = reader
    return reader


@dataclass
class Status:
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
        ix = _open_dir(root, name)
        documents = ix.doc_count()
        built_at = json.loads((root / str(name) / INFO).read_text()).get("built_at")
        modified_age = time.time() - ix.last_modified()
    except Exception:  # noqa: BLE001 - status reports, never repairs
        pass
    with Session(engine) as session:
        pending, oldest = _pending(session, _live_cursor(root))
    age = None
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = (utcnow() - oldest).total_seconds()
    stale = bool(name) and needs_rebuild(root / str(name))
    return Status(name, documents, pending, age, built_at, modified_age, stale)
