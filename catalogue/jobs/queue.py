"""The task queue: one Huey instance per app, chosen by configuration.

* ``REDIS_URL`` set: :class:`huey.RedisHuey` (several machines share it);
* otherwise :class:`huey.SqliteHuey` in ``$CATALOGUE_DATA_DIR/queue.sqlite3``,
  a file apart from the registry's database so the queue never waits on a publish;
* tests (``TESTING`` or ``JOBS_IMMEDIATE``): Huey's immediate mode, which runs each
  task inline when it is enqueued (no consumer process).

One task runs jobs, :func:`run_job` with a job id: the ``job`` table says the rest. One periodic
task prunes old rows daily (:data:`PRUNE_AT`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

EXTENSION = "catalogue_huey"
TASK = "catalogue_huey_run_job"
WORK = "catalogue_huey_work"
PERIODIC = "catalogue_huey_periodic"
#: Jobs the consumer runs at the same time (threads): one office's long publish does not hold up
#: another office's upload check. On SQLite two publishes still take turns on the write lock.
WORKERS = 2
#: When the consumer prunes old rows (:mod:`catalogue.retention`): 20:30 UTC, 03:30 in Vietnam.
PRUNE_AT = crontab(minute="30", hour="20")


def make_huey(app: Flask) -> Huey:
    name = "catalogue"
    if app.config.get("JOBS_IMMEDIATE", app.config.get("TESTING", False)):
        huey: Huey = MemoryHuey(name, immediate=True)
    elif app.config.get("REDIS_URL"):
        huey = RedisHuey(name, url=app.config["REDIS_URL"])
    else:
        data_dir = Path(app.config["SETTINGS"].CATALOGUE_DATA_DIR)
        data_dir.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name, filename=str(data_dir / "queue.sqlite3"), timeout=30)
    run_job, daily = app.extensions[WORK]
    app.extensions[TASK] = huey.task(name="run_job", retries=0)(run_job)
    # Retention, once a day at 03:30 in Vietnam (Huey's crontab is in UTC), in every consumer:
    # pruning twice is harmless.
    huey.periodic_task(PRUNE_AT, name="prune")(daily)
    for schedule, name, fn in app.extensions.get(PERIODIC, ()):
        huey.periodic_task(schedule, name=name)(fn)
    return huey


def add_periodic(app: Flask, schedule: Any, name: str, fn: Callable[[], None]) -> None:
    """Have every consumer run ``fn`` (bound to ``app``) on ``schedule`` (a Huey crontab, in UTC):
    how a feature adds background work without this module importing it. Call before first use."""
    app.extensions.setdefault(PERIODIC, []).append((schedule, name, fn))


_LOCK = threading.Lock()


def init_app(app: Flask, run_job: Callable[[int], None], daily: Callable[[], None]) -> None:
    """``run_job(job_id)`` is the queue's one task, ``daily()`` its periodic one (both bound to ``app``).

    Nothing is opened yet: SqliteHuey creates its file, and a command pointed at an
    empty data folder must leave nothing behind (the queue is built on first use).
    """
    app.extensions[EXTENSION] = None
    app.extensions[WORK] = (run_job, daily)


def get_huey(app: Flask | None = None) -> Huey:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    huey: Huey | None = app.extensions.get(EXTENSION)
    if huey is None:
        with _LOCK:
            huey = app.extensions.get(EXTENSION)
            if huey is None:
                huey = app.extensions[EXTENSION] = make_huey(app)
    return huey


def enqueue(job_id: int, app: Flask | None = None) -> Any:
    """Hand a committed job row to the consumer (in immediate mode: run it now)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    get_huey(app)
    return app.extensions[TASK](job_id)


def make_consumer(app: Flask, workers: int = WORKERS, **options: Any) -> Any:
    """The consumer ``flask jobs consumer`` runs: ``workers`` threads (a job claim is atomic,
    :func:`catalogue.jobs.service.claim`, so no job runs twice) and the daily periodic task."""
    return get_huey(app).create_consumer(workers=workers, worker_type="thread", check_worker_health=True,
                                         **options)  # fmt: skip
