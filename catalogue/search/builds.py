"""Rebuilding a node's index from the database into a fresh directory, then swapping it in.

A build reads every product (optionally in parallel processes), saves its
filter tables and its starting cursor, then, under the write lock, catches up
with the outbox rows it could not see and swaps ``CURRENT`` (keeping the build
before it as ``PREVIOUS``). :mod:`catalogue.search.building` runs builds in the
background, one per node at a time.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from catalogue import faults
from catalogue.audit.models import OutboxEvent
from catalogue.clock import utcnow
from catalogue.registry.models import Product
from catalogue.search import documents
from catalogue.search.cursor import Cursor
from catalogue.search.documents import apply_products, index_products
from catalogue.search.index import (
    INFO,
    PREVIOUS,
    current_name,
    previous_name,
    save_facets,
    swap_pointer,
    usable,
    write_lock,
    write_pointer,
)
from catalogue.search.outbox import drain_into
from catalogue.search.schema import SCHEMA_VERSION, build_schema

#: Outbox rows written this long before a rebuild started that it could not see then
#: (their transaction committed while it was reading, below the GAP_SCAN window) are
#: applied after the build; rows it saw are covered by its cursor and never re-applied.
REBUILD_OVERLAP = timedelta(minutes=5)


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
        if procs > 1 and len(ids) >= procs * documents.BATCH:
            count = _build_parallel(ix, path, engine, ids, procs, progress)
        else:
            writer = SegmentWriter(ix, limitmb=256)
            try:
                count = index_products(writer, engine, ids, progress)
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
    save_facets(ix)  # the filter tables, so a fresh worker needs not read 100k documents
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
        caught += drain_into(ix, engine)
        if previous and previous != name:
            write_pointer(root, PREVIOUS, previous)
        swap_pointer(root, name)
        _remove_old(root, keep={name, previous or ""})
        return caught

    if locked:
        caught = swap()
    else:
        with write_lock(root):
            caught = swap()
    return RebuildReport(name=name, documents=count, seconds=time.perf_counter() - t0, caught_up=caught)


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
        count = index_products(writer, engine, ids, report)
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

    Rows up to the cursor's ``high`` (its gaps aside, which :func:`drain_into` follows)
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
