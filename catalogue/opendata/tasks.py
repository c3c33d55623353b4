"""Keeping the bulk downloads in step: a background tick, never a request.

Every minute each job consumer runs the tick: when the registry changed since the live
generation (a newer search outbox or audit row than its manifest records), or a new day began
in Vietnam (statuses are as of a day), and that generation is at least :data:`BATCH` old, it
writes a new one. Changes are so batched (a busy afternoon of edits makes one generation every
few minutes, not one each), and the files are at most ``BATCH`` plus a minute plus one build
behind: well within the promised ten minutes. A tick every minute, not every fifth: Huey looks
at its schedule once a minute of its own clock, and a slot it looks past is lost. A file lock
keeps two consumers on one data folder from writing at once: the second one skips its turn.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import Flask
from huey import crontab
from sqlmodel import Session

from catalogue.clock import VIETNAM, aware, today, utcnow
from catalogue.db import get_engine
from catalogue.jobs import queue
from catalogue.opendata import dumps, manifest
from catalogue.opendata.manifest import Manifest

#: A new generation is written at most this often.
BATCH = timedelta(minutes=3)
LOCK = ".lock"


@contextmanager
def writer_lock(app: Flask) -> Iterator[bool]:
    """Hold the data folder's writer lock; yields False (without waiting) when another process holds it."""
    root = manifest.root(app)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def stale(app: Flask) -> bool:
    """Whether the registry changed since the live generation, or a day began since it was written (each
    certificate's status is as of that day), or there is none yet."""
    live = manifest.load(app)
    if live is None:
        return True
    if utcnow() - aware(live.generated_at) < BATCH:
        return False
    if aware(live.generated_at).astimezone(VIETNAM).date() != today():
        return True
    with Session(get_engine()) as session:
        return dumps.highs(session) != (live.outbox_high, live.audit_high)


def regenerate(app: Flask, *, force: bool = False) -> Manifest | None:
    """Write a new generation when the registry changed (always with ``force``); None when nothing
    was written: up to date, or another process is writing."""
    with app.app_context(), writer_lock(app) as held:
        if not held or not (force or stale(app)):
            return None
        return dumps.build(app)


def tick_in_app(app: Flask) -> Callable[[], None]:
    """The consumer's periodic task, bound to ``app``."""

    def tick() -> None:
        written = regenerate(app)
        if written is not None:
            app.logger.warning("opendata: wrote %d files (%s)", len(written.files),
                               written.generated_at.isoformat())  # fmt: skip

    return tick


def init_app(app: Flask) -> None:
    queue.add_periodic(app, crontab(), "opendata", tick_in_app(app))  # every minute
