"""Background index builds: a request never builds an index itself.

When a node has no usable build (first start, or every kept build damaged) or
its CURRENT build is damaged, the first search that notices calls
:func:`start`; searches answer 503 with :func:`progress` (first start) or keep
answering from the previous build (damage) until the new build is swapped in.
Only one build runs per index folder: the builder holds ``build.lock``
(``flock``) for its whole run and writes ``building.json`` as it goes.

By default the build runs in a separate process (``python -m
catalogue.search.building``) so it does not compete with the worker's
requests for the GIL; tests use a thread (``mode="thread"``) they can pause
with :data:`HOOK`. The task queue (``catalogue/jobs``) could take the build
over later: enqueue :func:`build` instead of spawning, keeping the lock.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from catalogue.search.builds import RebuildReport, rebuild
from catalogue.search.index import BUILD_LOCK, PROGRESS, write_atomic

log = logging.getLogger(__name__)

#: "process" (default: a separate Python process) or "thread" (tests, single-process tools).
MODE = "process"
#: Called with (documents done, total) as the build goes: tests pause a build with it.
HOOK: Callable[[int, int], None] | None = None
#: Environment variable carrying the database URL to the builder process (not on its command line).
URL_ENV = "CATALOGUE_SEARCH_BUILD_URL"
#: Seconds a client is told to wait before retrying while the index is built.
RETRY_AFTER = 10
#: Processes a background build uses (each reads and indexes its share): both cores of a small server.
PROCS = max(1, min(2, os.cpu_count() or 1))

_threads: dict[str, threading.Thread] = {}
_spawned: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
_guard = threading.Lock()


@dataclass
class Progress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def _try_lock(root: Path) -> int | None:
    """The build lock's fd when acquired, else None (another build runs)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / BUILD_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def running(root: Path) -> bool:
    fd = _try_lock(root)
    if fd is None:
        return True
    os.close(fd)
    return False


def progress(root: Path) -> Progress:
    """The running build's documents done / total (0 / 0 before it has counted)."""
    try:
        data = json.loads((root / PROGRESS).read_text())
        return Progress(int(data["done"]), int(data["total"]))
    except (OSError, ValueError, KeyError):
        return Progress(0, 0)


def _write_progress(root: Path, done: int, total: int) -> None:
    write_atomic(root / PROGRESS, json.dumps({"done": done, "total": total}))


def build(
    root: Path,
    engine: Engine,
    progress: Callable[[int, int], None] | None = None,
    procs: int | None = None,
) -> RebuildReport | None:
    """Build and swap in a fresh index unless another build runs on this node (then None).

    Every build goes through here (background and ``flask search rebuild``), so one
    runs at a time and the 503 page shows whichever is running.
    """
    fd = _try_lock(root)
    if fd is None:
        return None
    try:

        def report(done: int, total: int) -> None:
            _write_progress(root, done, total)
            if progress is not None:
                progress(done, total)
            if HOOK is not None:
                HOOK(done, total)

        result = rebuild(root, engine, report, procs=procs or PROCS)
        log.info("search index built: %d documents in %.1f s", result.documents, result.seconds)
        return result
    finally:
        (root / PROGRESS).unlink(missing_ok=True)
        os.close(fd)


def _thread_build(root: Path, engine: Engine) -> None:
    try:
        build(root, engine)
    except Exception:  # a daemon thread has nobody to raise to; the next search retries
        log.exception("background search index build failed")


def start(root: Path, engine: Engine) -> None:
    """Start a background build unless one runs (in any process of this node)."""
    key = str(root)
    with _guard:
        if MODE == "thread":
            thread = _threads.get(key)
            if thread is not None and thread.is_alive():
                return
            if running(root):
                return
            thread = threading.Thread(target=_thread_build, args=(root, engine), daemon=True,
                                      name="search-index-build")  # fmt: skip
            _threads[key] = thread
            thread.start()
            return
        spawned = _spawned.get(key)
        if spawned is not None and spawned[0].poll() is None:
            return  # our builder is still starting up or building
        if running(root):
            return
        url = engine.url.render_as_string(hide_password=False)
        env = {**os.environ, URL_ENV: url}
        proc = subprocess.Popen([sys.executable, "-m", "catalogue.search.building", str(root)], env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        _spawned[key] = (proc, time.monotonic())
        log.warning("search index missing or damaged: building it in process %d", proc.pid)


def wait(root: Path, timeout: float = 120.0) -> None:
    """Until no build runs for ``root`` (tests and tools; polling ends as soon as it is done)."""
    key = str(root)
    thread = _threads.get(key)
    if thread is not None:
        thread.join(timeout)
    spawned = _spawned.get(key)
    if spawned is not None:
        spawned[0].wait(timeout)
    deadline = time.monotonic() + timeout
    while running(root) and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    from catalogue.db import make_engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s search-build %(message)s")
    root = Path(sys.argv[1])
    build(root, make_engine(os.environ[URL_ENV]))


if __name__ == "__main__":
    main()
