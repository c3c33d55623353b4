"""The task queue: one Huey instance per app, chosen by configuration.

* ``REDIS_URL`` set: :class:`huey.RedisHuey` (several machines share it);
* otherwise :class:`huey.SqliteHuey` in ``$CATALOGUE_DATA_DIR/queue.sqlite3``,
  a file apart from the registry's database so the queue never waits on a publish;
* tests (``TESTING`` or ``JOBS_IMMEDIATE``): Huey's immediate mode, which runs each
  task inline when it is enqueued (no consumer process).

Only one task is registered, :func:`run_job` with a job id: the ``job`` table says the rest.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

EXTENSION = "catalogue_huey"
TASK = "catalogue_huey_run_job"


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
    from catalogue.jobs import tasks

    app.extensions[TASK] = huey.task(name="run_job", retries=0)(tasks.run_job_in_app(app))
    return huey


_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Nothing is opened yet: SqliteHuey creates its file, and a command pointed at an
    empty data folder must leave nothing behind (the queue is built on first use)."""
    app.extensions[EXTENSION] = None


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
