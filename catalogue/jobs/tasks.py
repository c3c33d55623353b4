"""What each kind of job does; run by the consumer (or inline in Huey's immediate mode).

Each handler does its work in one session and commits once at the end, so a
consumer killed part-way leaves nothing written: publishing keeps
:func:`catalogue.registry.publishing.publish_batch`'s all-or-nothing transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_babel import force_locale, gettext
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.db import get_engine
from catalogue.imports import checking as importing
from catalogue.imports.models import ImportBatch
from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.registry import publishing

#: Test hook: called with (job id, done, total) at every progress report; raise to simulate a crash.
FAULT: Callable[[int, int, int], None] | None = None


class Killed(BaseException):
    """Raised by a test's :data:`FAULT` to stand for ``kill -9``: nothing of the job's own runs after it."""


def run_job_in_app(app: Flask) -> Callable[[int], None]:
    """The queue's one task, bound to ``app`` (the consumer has no request to borrow it from)."""

    def run_job(job_id: int) -> None:
        if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
            run(app, job_id)
            return
        with app.app_context():
            run(app, job_id)

    return run_job


def prune_in_app(app: Flask) -> Callable[[], None]:
    """The consumer's daily retention task (:mod:`catalogue.retention`), bound to ``app``."""

    def prune() -> None:
        from catalogue import retention

        with app.app_context():
            app.logger.warning("retention: %s", retention.prune(app).summary())

    return prune


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
                    job_id, state="failed", message=gettext("The account that started this job is gone.")
                )
                return
            try:
                result = HANDLERS[job.kind](app, session, job, user, reporter)
            except (publishing.PublishError, service.JobError) as exc:
                session.rollback()
                service.finish(job_id, state="failed", message=str(exc))
                return
            except Exception:
                session.rollback()
                app.logger.exception("job %s (%s) failed", job_id, job.kind)
                service.finish(job_id, state="failed", message=_server_error(job.kind))
                return
        message, done = result.pop("_message", None), result.pop("_done", None)
        service.finish(job_id, state="done", message=message, result=result,
                       batch_id=result.get("batch_id"), done=done)  # fmt: skip


def _server_error(kind: str) -> str:
    if kind == "publish":
        return gettext("Publishing failed because of a server error; nothing was published. Try again later.")
    return gettext("The job failed because of a server error; nothing was changed. Try again later.")


def _report_json(report: importing.ImportReport) -> dict[str, Any]:
    """A dry run's findings, small enough to keep: every row's verdict, values only as shown."""
    shown = ("product", "province", "certificate_number", "level", "year")
    return {
        "filename": report.filename,
        "file_errors": report.file_errors,
        "rows": [
            {
                "line": r.line,
                "values": {k: r.values.get(k) for k in shown if r.values.get(k) is not None},
                "errors": [[e.field, e.message] for e in r.errors],
                "warnings": [[w.field, w.message] for w in r.warnings],
                "existing_id": r.existing_id,
            }
            for r in report.rows
        ],
    }


def report_from_json(data: dict[str, Any], sha: str = "") -> importing.ImportReport:
    """The stored dry run as the preview template expects it."""
    from catalogue.registry.rows import FieldError

    report = importing.ImportReport(filename=str(data.get("filename", "")), sha256=sha)
    report.file_errors = list(data.get("file_errors") or [])
    for r in data.get("rows") or []:
        report.rows.append(
            importing.RowReport(
                line=int(r["line"]),
                values=dict(r["values"]),
                errors=[FieldError(f, m) for f, m in r["errors"]],
                warnings=[FieldError(f, m) for f, m in r["warnings"]],
                existing_id=r.get("existing_id"),
            )
        )
    return report


@handler("dry_run")
def dry_run(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    params = job.params or {}
    data = service.upload_path(job, app).read_bytes()
    report(0, 0, force=True)
    batch, checked = importing.stage_batch(
        session, actor=user, filename=str(params.get("filename") or "upload"), data=data, progress=report
    )
    session.commit()
    service.discard_files(job, app)
    stored = _report_json(checked)
    stored["_done"] = len(checked.rows)
    if batch is None:
        stored["_message"] = " ".join(checked.file_errors)
        return stored
    stored["batch_id"] = batch.id
    bad = len(checked.bad_rows)
    stored["_message"] = (
        gettext("%(bad)s of %(n)s rows have problems", bad=bad, n=len(checked.rows))
        if bad
        else gettext("All %(n)s rows are correct.", n=len(checked.rows))
    )
    return stored


@handler("publish")
def publish(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    params = job.params or {}
    batch = session.get(ImportBatch, job.batch_id)
    if batch is None:
        raise publishing.PublishError(gettext("This upload no longer exists."))
    decision_date = params.get("decision_date")

    def progress(done: int, total: int) -> None:
        if done == 1:
            report.phase = gettext("Preparing the rows; none is public until all are ready…")
        report(done, total)

    def locking() -> None:
        # The registry was too busy to stage: this attempt holds SQLite's write lock throughout.
        report.phase = gettext("Writing the rows (all at once, or nothing)…")
        report(0, 0, force=True)
        report.hold_table(session)

    report.phase = gettext("Checking every row again…")
    result = publishing.publish_batch(
        session,
        actor=user,
        batch=batch,
        decision_number=params.get("decision_number"),
        decision_date=date.fromisoformat(decision_date) if decision_date else None,
        progress=progress,
        check_progress=report,
        staged=True,
        locking=locking,
    )
    session.commit()  # on PostgreSQL (a staged publish on SQLite has committed)
    return {
        "batch_id": batch.id,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "_done": result.created + result.updated + result.unchanged,
        "_message": gettext(
            "Published: %(new)d new, %(updated)d updated, %(same)d unchanged.",
            new=result.created,
            updated=result.updated,
            same=result.unchanged,
        ),
    }


@handler("photo_zip")
def photo_zip(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    batch = session.get(ImportBatch, job.batch_id)
    if batch is None:
        raise publishing.PublishError(gettext("This upload no longer exists."))
    data = service.upload_path(job, app).read_bytes()
    report(0, 0, force=True)
    outcome = publishing.attach_batch_photos(session, actor=user, batch=batch, data=data)
    session.commit()
    service.discard_files(job, app)
    lines = [f"{name}: {reason}" for name, reason in outcome.rejected]
    if outcome.unmatched_files:
        lines.append(
            gettext(
                "Files matching no row of the “Ảnh” column: %(names)s",
                names=", ".join(outcome.unmatched_files),
            )
        )
    if outcome.missing:
        lines.append(
            gettext(
                "Photos named in the file but not in the zip: %(names)s", names=", ".join(outcome.missing)
            )
        )
    return {
        "batch_id": batch.id,
        "attached": len(outcome.attached),
        "problems": lines,
        "_done": len(outcome.attached),
        "_message": gettext("%(n)d photos attached.", n=len(outcome.attached)),
    }


@handler("rebuild")
def rebuild(
    app: Flask, session: Session, job: Job, user: User | None, report: service.Reporter
) -> dict[str, Any]:
    """A full rebuild of this node's index, under its build lock like ``flask search rebuild``."""
    from pathlib import Path

    from catalogue.search import building

    report.phase = gettext("Indexing the products…")
    report(0, 0, force=True)
    outcome = building.build(Path(app.config["INDEX_DIR"]), get_engine(), progress=report)
    if outcome is None:
        raise service.JobError(
            gettext(
                "Another build of the search index is running on this server; nothing was started. "
                "Try again when it has finished."
            )
        )
    return {
        "_message": gettext("The search index was rebuilt."),
        "_done": outcome.documents,
        "documents": outcome.documents,
    }


@handler("qr_zip")
def qr_zip(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    from catalogue.clock import today
    from catalogue.verification import exports

    batch = session.get(ImportBatch, job.batch_id)
    if batch is None:
        raise publishing.PublishError(gettext("This upload no longer exists."))
    certificates = publishing.batch_certificates(session, actor=user, batch=batch)
    service.prune_downloads(session, app)
    path = service.download_path(job, app)
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as out:
        count = exports.write_qr_zip(
            out, certificates, engine=get_engine(), base=app.config["PUBLIC_BASE_URL"], day=today(),
            progress=report,
        )  # fmt: skip
    tmp.replace(path)  # whole or absent: a killed job leaves only the .part file
    return {
        "batch_id": batch.id,
        "download": f"qr-batch-{batch.id}.zip",
        "_done": count,
        "_message": gettext("The zip of %(n)s QR codes is ready.", n=count),
    }
