"""Reading a node's index: one searcher per process, refreshed when a drain or a swap changed it."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from catalogue.search.cursor import Cursor, any_waiting
from catalogue.search.facets import DocTable
from catalogue.search.index import CURSOR, current_name, open_dir, previous_name

if TYPE_CHECKING:
    from catalogue.search.building import Progress

log = logging.getLogger(__name__)


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
    """What changes whenever a file is replaced (each
    :func:`catalogue.search.index.write_atomic` gives it a new inode)."""
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
                ix = open_dir(self.root, name)
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
