"""Running a job: the queue's one task, the :func:`handler` registry, and the generic handlers.

Each feature registers its own kinds with :func:`handler` in its ``tasks``
module (the import's dry run, publish and photo zip live in
:mod:`catalogue.imports.tasks`; ``create_app`` imports them). Each handler does
its work in one session and commits once at the end, so a consumer killed
part-way leaves nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.db import get_engine
from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.refused import Refused


def run_job_in_app(app: Flask) -> Callable[[int], None]:
    """The queue's one task, bound to ``app`` (the consumer has no request to borrow it from)."""

    def run_job(job_id: int) -> None:
        if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
            run(app, job_id)
            return
        with app.app_context():
            run(app, job_id)

    return run_job


#: Each kind's work; the fourth argument is the official who started it (None for a system job,
#: one of :data:`service.SYSTEM_KINDS` started from the command line).
HANDLERS: dict[str, Callable[[Flask, Session, Job, Any, service.Reporter], dict[str, Any]]] = {}


def handler(kind: str) -> Callable[[Any], Any]:
    def register(fn: Any) -> Any:
        HANDLERS[kind] = fn
        return fn

    return register


def run(app: Flask, job_id: int) -> None:
    """Claim the job, run its handler, record the outcome; exceptions become a failed job."""
    if not service.claim(job_id):
        return
    reporter = service.Reporter(app, job_id)
    with Session(get_engine(), expire_on_commit=False) as session:
        job = session.get(Job, job_id)
        assert job is not None
        user = session.get(User, job.actor_id) if job.actor_id else None
        with force_locale(job.locale):
            system = job.actor_id is None and job.kind in service.SYSTEM_KINDS
            if not system and (user is None or not user.is_active):
                service.finish(
                    job_id, state="failed", message=_l("The account that started this job is gone.")
                )
                return
            try:
                result = HANDLERS[job.kind](app, session, job, user, reporter)
            except Refused as exc:
                session.rollback()
                service.finish(job_id, state="failed", message=str(exc))
                return
            except Exception:
                session.rollback()
                app.logger.exception("job %s (%s) failed", job_id, job.kind)
                service.finish(job_id, state="failed", message=_server_error(job.kind))
                return
            # Still in the job's language: a lazy message is worded here, and a worker has no request.
            message, done = result.pop("_message", None), result.pop("_done", None)
            service.finish(job_id, state="done", message=message, result=result,
                           batch_id=result.get("batch_id"), done=done)  # fmt: skip


def _server_error(kind: str) -> object:
    if kind == "publish":
        return _l("Publishing failed because of a server error; nothing was published. Try again later.")
    return _l("The job failed because of a server error; nothing was changed. Try again later.")
