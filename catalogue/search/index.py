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
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select
from whoosh import index as whoosh_index
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from catalogue import faults
from catalogue.clock import utcnow
from catalogue.models import OutboxEvent, Product
from catalogue.search.facets import DocTable, _Segment, facet_file, prune_facet_files
from catalogue.search.schema import SCHEMA_VERSION, build_schema, document_for
from catalogue.services.catalog import load_summaries
from catalogue.services.places import Provinces
from catalogue.services.status import Policy

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
#: Outbox rows written this long before a rebuild started are re-applied after
#: the swap, covering transactions that committed while the rebuild was reading.
REBUILD_OVERLAP = timedelta(minutes=5)
BATCH = 100  # load_summaries matches certificates per product: keep batches small
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


def current_name(root: Path) -> str | None:
    try:
        name = (root / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def previous_name(root: Path) -> str | None:
    try:
        name = (root / PREVIOUS).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def _write_pointer(root: Path, pointer: str, name: str) -> None:
    tmp = root / f"{pointer}.{secrets.token_hex(4)}.tmp"
    tmp.write_text(name + "\n")
    os.replace(tmp, root / pointer)


def _swap_pointer(root: Path, name: str) -> None:
    _write_pointer(root, POINTER, name)


def usable(root: Path, name: str | None) -> bool:
    try:
        _open_dir(root, name)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return True


def live_name(root: Path) -> str:
    """The build to answer from: CURRENT, else the kept PREVIOUS; raises IndexMissing."""
    for name in (current_name(root), previous_name(root)):
        if name and usable(root, name):
            return name
    raise IndexMissing("no usable search index")


def _open_dir(root: Path, name: str | None) -> whoosh_index.Index:
    """Open a build directory; any problem (missing, other version, corrupt) raises."""
    if not name:
        raise FileNotFoundError("no current index")
    path = root / name
    info = json.loads((path / INFO).read_text())
    if info.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"index schema version {info.get('schema_version')} != {SCHEMA_VERSION}")
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

    @classmethod
    def load(cls, folder: Path, session: Session) -> Cursor:
        try:
            data = json.loads((folder / CURSOR).read_text())
            return cls(int(data["high"]), {int(k): float(v) for k, v in data.get("gaps", {}).items()})
        except FileNotFoundError:
            # A build made before cursors existed: start after the rows some node processed.
            first_pending = session.exec(select(func.min(OutboxEvent.id))
                                         .where(col(OutboxEvent.processed_at).is_(None))).one()  # fmt: skip
            if first_pending is not None:
                return cls(high=first_pending - 1)
            return cls(high=session.exec(select(func.max(OutboxEvent.id))).one() or 0)

    @classmethod
    def at_start(cls, session: Session) -> Cursor:
        """Where a build that reads the database now continues from afterwards."""
        high = session.exec(select(func.max(OutboxEvent.id))).one() or 0
        seen = set(session.exec(select(OutboxEvent.id).where(col(OutboxEvent.id) > high - GAP_SCAN)).all())
        now = _now()
        return cls(high=high, gaps={i: now for i in range(max(1, high - GAP_SCAN + 1), high + 1)
                                    if i not in seen})  # fmt: skip

    def save(self, folder: Path) -> None:
        tmp = folder / f"{CURSOR}.{secrets.token_hex(4)}.tmp"
        tmp.write_text(json.dumps({"high": self.high, "gaps": {str(k): v for k, v in self.gaps.items()}}))
        os.replace(tmp, folder / CURSOR)

    def advance(self, ids: list[int]) -> None:
        """Record rows read past ``high`` (sorted ids of one batch): skipped ids become gaps."""
        if not ids:
            return
        now, seen = _now(), set(ids)
        for missing in range(self.high + 1, ids[-1]):
            if missing not in seen:
                self.gaps[missing] = now
        self.high = max(self.high, ids[-1])

    def expire(self) -> None:
        limit = _now() - GAP_TTL.total_seconds()
        self.gaps = {i: t for i, t in self.gaps.items() if t >= limit}
        if len(self.gaps) > MAX_GAPS:
            self.gaps = dict(sorted(self.gaps.items())[-MAX_GAPS:])


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
    the swap and a catch-up of recent outbox rows run under it.
    """
    started, t0 = utcnow(), time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    name = f"gen-{started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    path = root / name
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    with Session(engine, expire_on_commit=False) as session:
        cursor = Cursor.at_start(session)  # before reading products: later rows get applied
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
        caught = _catch_up(ix, engine, since=started - REBUILD_OVERLAP, cursor=cursor)
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


def _catch_up(ix: whoosh_index.Index, engine: Engine, since: datetime, cursor: Cursor) -> int:
    """Re-apply products changed shortly before a rebuild (belt and braces besides the cursor).

    Rows the build read past (up to its starting cursor) count as processed.
    """
    with Session(engine, expire_on_commit=False) as session:
        pids = sorted(set(session.exec(select(OutboxEvent.product_id)
                                       .where(col(OutboxEvent.created_at) >= since)).all()))  # fmt: skip
        apply_products(ix, session, pids)
        session.exec(update(OutboxEvent).where(col(OutboxEvent.id) <= cursor.high,
                                               col(OutboxEvent.processed_at).is_(None),
                                               col(OutboxEvent.id).not_in(sorted(cursor.gaps)))
                     .values(processed_at=utcnow()))  # fmt: skip
        session.commit()
        return len(pids)


def _mark_processed(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 1000):
        session.exec(update(OutboxEvent).where(col(OutboxEvent.id).in_(ids[start:start + 1000]),
                                               col(OutboxEvent.processed_at).is_(None))
                     .values(processed_at=utcnow()))  # fmt: skip


def _rows_in(session: Session, ids: list[int]) -> list[OutboxEvent]:
    rows: list[OutboxEvent] = []
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
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


def _drain_into(ix: whoosh_index.Index, engine: Engine) -> int:
    """Apply outbox rows past this build's cursor (and its gaps that have filled); caller holds the lock."""
    folder = Path(ix.storage.folder)
    done = 0
    with Session(engine, expire_on_commit=False) as session:
        cursor = Cursor.load(folder, session)
        before = (cursor.high, dict(cursor.gaps))
        if cursor.gaps:
            filled = _rows_in(session, sorted(cursor.gaps))
            if filled:
                apply_products(ix, session, sorted({r.product_id for r in filled}))
                for row in filled:
                    cursor.gaps.pop(row.id or 0, None)
                _mark_processed(session, [r.id for r in filled if r.id is not None])
                session.commit()
                done += len(filled)
                cursor.save(folder)
        while True:
            rows = session.exec(select(OutboxEvent).where(col(OutboxEvent.id) > cursor.high)
                                .order_by(col(OutboxEvent.id)).limit(BATCH * 5)).all()  # fmt: skip
            if not rows:
                break
            apply_products(ix, session, sorted({r.product_id for r in rows}))
            faults.point("drain.applied")  # in the index, not yet in the cursor: re-applied, never lost
            cursor.advance([r.id for r in rows if r.id is not None])
            cursor.save(folder)  # after the index commit: a crash in between only re-applies rows
            _mark_processed(session, [r.id for r in rows if r.id is not None])
            session.commit()
            done += len(rows)
        cursor.expire()
        if (cursor.high, cursor.gaps) != before:
            cursor.save(folder)
    if done:
        _save_facets(ix)
    return done


def behind(root: Path, engine: Engine, name: str) -> bool:
    """Whether the outbox holds rows this build has not applied (one cheap query per search)."""
    with Session(engine) as session:
        cursor = Cursor.load(root / name, session)
        cursor.expire()  # gaps that never filled (rolled-back ids) stop costing a query after GAP_TTL
        newest = session.exec(select(func.max(OutboxEvent.id))).one() or 0
        if newest > cursor.high:
            return True
        if cursor.gaps:
            return bool(_rows_in(session, sorted(cursor.gaps)))
    return False


def pending_count(engine: Engine, root: Path | None = None) -> int:
    """Outbox rows not applied: by this node's live build (``root``), or by any node."""
    with Session(engine) as session:
        if root is not None:
            try:
                name = live_name(root)
            except IndexMissing:
                return session.exec(select(func.count()).select_from(OutboxEvent)).one()
            cursor = Cursor.load(root / name, session)
            later = session.exec(select(func.count()).select_from(OutboxEvent)
                                 .where(col(OutboxEvent.id) > cursor.high)).one()  # fmt: skip
            return later + len(_rows_in(session, sorted(cursor.gaps)))
        return session.exec(select(func.count()).select_from(OutboxEvent)
                            .where(col(OutboxEvent.processed_at).is_(None))).one()  # fmt: skip


def drain(root: Path, engine: Engine, timeout: float = 30.0) -> int:
    """Apply outbox rows past the live build's cursor; returns the rows applied.

    One writer at a time: other processes wait on the lock, then find nothing left.
    Raises :class:`IndexMissing` when this node has no usable build (never builds one).
    """
    if not behind(root, engine, live_name(root)):
        return 0  # the common case (another worker drained): no lock, no index opened
    with write_lock(root, timeout=timeout):
        ix = _open_dir(root, live_name(root))  # swapped while we waited: drain the new one
        return _drain_into(ix, engine)


# ----------------------------------------------------------------------------- reading


@dataclass
class Snapshot:
    """One consistent view for a query: a searcher and its document table."""

    searcher: Searcher
    table: DocTable


class IndexBuilding(RuntimeError):
    """No build to answer from yet: one is being built in the background."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"search index building: {done} of {total} products")
        self.done, self.total = done, total


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

    def snapshot(self, engine: Engine) -> Snapshot:
        with self._lock:
            name = current_name(self.root)
            if self._searcher is None or (name != self._name and name not in self._bad):
                self._open(engine)
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

    def _open(self, engine: Engine) -> None:
        from catalogue.search import building

        current = current_name(self.root)
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
            found = building.progress(self.root)
            raise IndexBuilding(found.done, found.total)
        self._ix, self._name = ix, Path(ix.storage.folder).name
        self._searcher = searcher  # a replaced searcher is left to the garbage collector
        self._table = DocTable.build(self._searcher, folder=self.root / self._name)

    def serving(self) -> str | None:
        """Name of the build this process answers from (None before the first search)."""
        return self._name

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
    key = str(Path(root).resolve())
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = Reader(Path(key))
        return _READERS[key]


@dataclass
class Status:
    name: str | None
    documents: int | None
    pending: int
    oldest_pending_age: float | None
    built_at: str | None
    modified_age: float | None


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
        try:
            cursor = Cursor.load(root / live_name(root), session)
            waiting = col(OutboxEvent.id) > cursor.high
            if cursor.gaps:
                waiting = waiting | col(OutboxEvent.id).in_(sorted(cursor.gaps)[:1000])
        except IndexMissing:
            waiting = col(OutboxEvent.id).is_not(None)
        oldest = session.exec(select(func.min(OutboxEvent.created_at)).where(waiting)).one()
    age = None
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = (utcnow() - oldest).total_seconds()
    return Status(name, documents, pending_count(engine, root), age, built_at, modified_age)
