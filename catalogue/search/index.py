"""The on-disk index of one node: its layout, the write lock, the build pointers, opening a build.

Layout under ``INDEX_DIR`` (one per node: nodes never share an index)::

    CURRENT         name of the live build directory (replaced atomically)
    PREVIOUS        the build before it, kept to answer while a damaged CURRENT is rebuilt
    write.lock      flock'd by the one process writing at a time
    build.lock      flock'd by the one process building a fresh directory
    building.json   the running build's progress (documents done / total)
    gen-<stamp>-<random>/   a Whoosh index + ``catalogue.json`` + ``cursor.json``
                            + ``facets-*.npz`` (the filter tables, per segment)

A rebuild (:mod:`catalogue.search.builds`) writes a fresh ``gen-*`` directory and
then swaps ``CURRENT``, so readers (:mod:`catalogue.search.reader`) never see a
half-built index. Changes reach the index through the ``search_outbox`` table,
written in the same transaction as the change, and drained into each node's
index (:mod:`catalogue.search.drain`) past that build's own cursor
(:mod:`catalogue.search.cursor`). So every node keeps its own index in step from
the shared outbox, and a node joining late builds from the database and
continues from the cursor taken when its build began.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.reading import SegmentReader

from catalogue.clock import aware
from catalogue.search.facets import _Segment, facet_file, prune_facet_files
from catalogue.search.schema import SCHEMA_VERSION

POINTER = "CURRENT"
PREVIOUS = "PREVIOUS"
LOCK = "write.lock"
BUILD_LOCK = "build.lock"
PROGRESS = "building.json"
INFO = "catalogue.json"
CURSOR = "cursor.json"


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


def write_pointer(root: Path, pointer: str, name: str) -> None:
    write_atomic(root / pointer, name + "\n")


def swap_pointer(root: Path, name: str) -> None:
    write_pointer(root, POINTER, name)


def usable(root: Path, name: str | None) -> bool:
    try:
        open_dir(root, name)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return True


def open_live(root: Path, first: str | None = None) -> whoosh_index.Index:
    """Open the build to write to or answer from: ``first`` when given and usable, else CURRENT,
    else the kept PREVIOUS; raises IndexMissing. Each candidate is opened once."""
    for name in dict.fromkeys((first, current_name(root), previous_name(root))):
        if name:
            try:
                return open_dir(root, name)
            except Exception:  # noqa: BLE001 - damaged or missing: try the next
                continue
    raise IndexMissing("no usable search index")


def live_name(root: Path) -> str:
    """The build to answer from: CURRENT, else the kept PREVIOUS; raises IndexMissing."""
    return Path(open_live(root).storage.folder).name


def open_dir(root: Path, name: str | None) -> whoosh_index.Index:
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


def save_facets(ix: whoosh_index.Index) -> None:
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


def built_at(folder: Path) -> datetime:
    try:
        built = datetime.fromisoformat(json.loads((folder / INFO).read_text())["built_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return datetime.min.replace(tzinfo=UTC)
    return aware(built)
