"""Jobs no longer run one at a time: the consumer runs several worker threads, and a job is
claimed by exactly one of them (``service.claim`` is one conditional UPDATE)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.db import get_engine
from catalogue.jobs import queue, service
from catalogue.jobs.models import Job
from tests.fixtures.workspace import make_user


def _queued(app: Flask, n: int = 1) -> list[int]:
    with Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False) as s:
        jobs = [Job(kind="rebuild") for _ in range(n)]
        s.add_all(jobs)
        s.commit()
        return [int(j.id) for j in jobs]  # type: ignore[arg-type]


def _state(app: Flask, job_id: int) -> str:
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job.state


def test_two_claims_of_the_same_job_succeed_only_once(seeded_app: Flask) -> None:
    """Two workers that dequeue the same job id at once (a re-delivered task): one runs it."""
    for job_id in _queued(seeded_app, 10):
        start = threading.Barrier(2)
        results: list[bool] = []

        def claim(
            job_id: int = job_id, start: threading.Barrier = start, results: list[bool] = results
        ) -> None:
            with seeded_app.app_context():
                start.wait(10)
                results.append(service.claim(job_id))

        threads = [threading.Thread(target=claim) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == [False, True], job_id
        assert _state(seeded_app, job_id) == "running"
    with seeded_app.app_context():
        assert service.claim(job_id) is False  # a running (or finished) job is never claimed again


@pytest.fixture
def consumer_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """A seeded app whose jobs go through a real queue file and consumer threads."""
    app = make_app(seeded=True)
    app.config["JOBS_IMMEDIATE"] = False
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield app
    service.FAULT = None
    for sig, handler in handlers.items():  # the consumer sets its own on start
        signal.signal(sig, handler)


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(
    "faketime" in os.environ.get("LD_PRELOAD", ""),
    reason="a real consumer polls on the monotonic clock, which a frozen libfaketime clock never moves",
)
def test_a_long_job_does_not_hold_up_another_offices_check(consumer_app: Flask) -> None:
    app = consumer_app
    held, release = threading.Event(), threading.Event()
    csv = "Tên sản phẩm,Tên cơ sở,Tỉnh/Thành phố,Cấp,Năm\nChè thử,HTX thử,Lào Cai,tỉnh,2025\n".encode()
    with app.app_context(), Session(get_engine(), expire_on_commit=False) as s:
        offices = (("laocai@so.gov.vn", "Lào Cai"), ("hue@so.gov.vn", "Huế"))
        users = [s.get(User, make_user(app, email, "province", province)) for email, province in offices]
        long_job, quick_job = (
            service.create(s, kind="dry_run", actor=u, province_id=u.province_id, data=csv)
            for u in users
            if u is not None
        )
        s.commit()
        first = int(long_job.id)  # type: ignore[arg-type]

        def hold(job_id: int, _done: int, _total: int) -> None:
            if job_id == first:
                held.set()
                assert release.wait(60)

        service.FAULT = hold
        consumer = queue.make_consumer(app, initial_delay=0.05, max_delay=0.2, scheduler_interval=1)
        consumer.start()
        try:
            queue.enqueue(first, app)
            assert held.wait(60), "the first job never started"
            queue.enqueue(int(quick_job.id), app)  # type: ignore[arg-type]
            # The second office's check finishes while the first job is still busy.
            assert _wait_for(lambda: _state(app, int(quick_job.id)) == "done")  # type: ignore[arg-type]
            assert _state(app, first) == "running"
        finally:
            release.set()
            _wait_for(lambda: _state(app, first) != "running")
            consumer.stop(graceful=True)
    assert _state(app, first) == "done"
    assert queue.WORKERS == 2
