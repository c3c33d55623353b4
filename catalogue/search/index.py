"""The on-disk index: open it, rebuild it, and drain the outbox into it.

Layout under ``INDEX_DIR``::

    CURRENT         name of the live build directory (replaced atomically)
    write.lock      flock'd by the one process writing at a time
    gen-<stamp>-<random>/   a complete Whoosh index + ``catalogue.json``

A rebuild writes a fresh ``gen-*`` directory and then swaps ``CURRENT``, so
readers never see a half-built index. Changes reach the index through the
``search_outbox`` table, written in the same transaction as the change: any
process drains pending rows after its commit (and on first use), holding the
write lock, and marks them processed only after the index commit. A crash
in between leaves the rows pending, and re-applying a row is harmless.
A missing, corrupt or outdated index is rebuilt from the database.
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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select
from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from catalogue.clock import utcnow
from catalogue.models import OutboxEvent, Product
from catalogue.search.facets import DocTable
from catalogue.search.schema import SCHEMA_VERSION, build_schema, document_for
from catalogue.services.catalog import load_summaries
from catalogue.services.places import Provinces
from catalogue.services.status import Policy

log = logging.getLogger(__name__)

POINTER = "CURRENT"
LOCK = "write.lock"
INFO = "catalogue.json"
#: Outbox rows written this long before a rebuild started are re-applied after
#: the swap, covering transactions that committed while the rebuild was reading.
REBUILD_OVERLAP = timedelta(minutes=5)
BATCH = 100  # load_summaries matches certificates per product: keep batches small
#: Documents hold dates, never a status (worked out per query with the policy then in effect),
#: so building them needs no policy from the database.
_NO_STATUS = Policy()


class LockTimeout(RuntimeError):
    """Another process held the index write lock for too long."""


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


def _swap_pointer(root: Path, name: str) -> None:
    tmp = root / f"{POINTER}.{secrets.token_hex(4)}.tmp"
    tmp.write_text(name + "\n")
    os.replace(tmp, root / POINTER)


def _open_dir(root: Path, name: str | None) -> whoosh_index.Index:
    """Open a build directory; any problem (missing, other version, corrupt) raises."""
    if not name:
        raise FileNotFoundError("no current index")
    path = root / name
    info = json.loads((path / INFO).read_text())
    if info.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"index schema version {info.get('schema_version')} != {SCHEMA_VERSION}")
    ix = whoosh_index.open_dir(str(path))
    with ix.searcher() as s:
        s.doc_count()
    return ix


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
    kwargs = {"procs": procs, "multisegment": True} if procs > 1 else {}
    writer = ix.writer(limitmb=256, **kwargs)
    count = 0
    with Session(engine, expire_on_commit=False) as session:
        ids = _all_product_ids(session)
        provinces = Provinces.load(session)
        if progress:
            progress(0, len(ids))
        try:
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                for summary in load_summaries(session, chunk, provinces, policy=_NO_STATUS):
                    writer.add_document(**document_for(summary, provinces))
                    count += 1
                session.expunge_all()
                if progress:
                    progress(min(start + BATCH, len(ids)), len(ids))
        except BaseException:
            writer.cancel()
            shutil.rmtree(path, ignore_errors=True)
            raise
    writer.commit()
    built = ix.doc_count()
    if built != count:  # Whoosh's multi-process writer ignores a crashed sub-process
        shutil.rmtree(path, ignore_errors=True)
        raise RuntimeError(f"index build wrote {built} of {count} documents; nothing was swapped in")
    (path / INFO).write_text(json.dumps({
        "schema_version": SCHEMA_VERSION, "built_at": started.isoformat(), "documents": count,
    }))  # fmt: skip

    def swap() -> int:
        previous = current_name(root)
        _swap_pointer(root, name)
        caught = _catch_up(ix, engine, since=started - REBUILD_OVERLAP)
        _remove_old(root, keep={name, previous or ""})
        return caught

    if locked:
        caught = swap()
    else:
        with write_lock(root):
            caught = swap()
    return RebuildReport(name=name, documents=count, seconds=time.perf_counter() - t0, caught_up=caught)


def _catch_up(ix: whoosh_index.Index, engine: Engine, since: object) -> int:
    """Re-apply products changed around a rebuild and mark all pending rows processed."""
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(select(OutboxEvent).where(
            (col(OutboxEvent.created_at) >= since) | col(OutboxEvent.processed_at).is_(None)
        )).all()  # fmt: skip
        pids = sorted({r.product_id for r in rows})
        apply_products(ix, session, pids)
        _mark_processed(session, [r.id for r in rows if r.processed_at is None and r.id is not None])
        session.commit()
        return len(pids)


def _mark_processed(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 1000):
        session.exec(update(OutboxEvent).where(col(OutboxEvent.id).in_(ids[start:start + 1000]))
                     .values(processed_at=utcnow()))  # fmt: skip


def ensure_index(root: Path, engine: Engine) -> whoosh_index.Index:
    """Open the live index, rebuilding it from the database if missing or unusable."""
    try:
        return _open_dir(root, current_name(root))
    except Exception as exc:  # noqa: BLE001 - any failure means "rebuild"
        with write_lock(root, timeout=600):
            try:  # another process may have rebuilt it while we waited
                return _open_dir(root, current_name(root))
            except Exception:  # noqa: BLE001
                log.warning("search index unusable (%s): rebuilding from the database", exc)
                rebuild(root, engine, locked=True)
                return _open_dir(root, current_name(root))


def pending_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(OutboxEvent)
                            .where(col(OutboxEvent.processed_at).is_(None))).one()  # fmt: skip


def drain(root: Path, engine: Engine, timeout: float = 30.0) -> int:
    """Apply every pending outbox row to the index; returns the rows processed.

    One writer at a time: other processes wait on the lock, then find nothing left.
    """
    ix = ensure_index(root, engine)
    done = 0
    with write_lock(root, timeout=timeout):
        if current_name(root) != Path(ix.storage.folder).name:  # swapped while we waited
            ix = _open_dir(root, current_name(root))
        while True:
            with Session(engine, expire_on_commit=False) as session:
                rows = session.exec(select(OutboxEvent).where(col(OutboxEvent.processed_at).is_(None))
                                    .order_by(col(OutboxEvent.id)).limit(BATCH)).all()  # fmt: skip
                if not rows:
                    return done
                apply_products(ix, session, sorted({r.product_id for r in rows}))
                _mark_processed(session, [r.id for r in rows if r.id is not None])
                session.commit()
                done += len(rows)


# ----------------------------------------------------------------------------- reading


@dataclass
class Snapshot:
    """One consistent view for a query: a searcher and its document table."""

    searcher: Searcher
    table: DocTable


class Reader:
    """Per-process reader of one index root: one searcher, refreshed when stale."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._name: str | None = None
        self._ix: whoosh_index.Index | None = None
        self._searcher: Searcher | None = None
        self._table: DocTable | None = None

    def snapshot(self, engine: Engine) -> Snapshot:
        with self._lock:
            name = current_name(self.root)
            if self._searcher is None or name != self._name:
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
                    self._table = DocTable.build(self._searcher, previous=self._table)
            assert self._searcher is not None and self._table is not None
            return Snapshot(self._searcher, self._table)

    def _open(self, engine: Engine) -> None:
        ix = ensure_index(self.root, engine)
        self._ix, self._name = ix, Path(ix.storage.folder).name
        self._searcher = ix.searcher()  # a replaced searcher is left to the garbage collector
        self._table = DocTable.build(self._searcher)

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
    """What ``search status`` prints: documents, pending outbox rows and ages."""
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
        oldest = session.exec(select(func.min(OutboxEvent.created_at))
                              .where(col(OutboxEvent.processed_at).is_(None))).one()  # fmt: skip
    age = None
    if oldest is not None:
        if oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        age = (utcnow() - oldest).total_seconds()
    return Status(name, documents, pending_count(engine), age, built_at, modified_age)
