"""The import's background jobs: the dry run of an upload, publishing a batch, attaching a zip of photos.

Registered with :func:`catalogue.jobs.runner.handler` when this module is imported
(``create_app`` imports it). Each handler works in one session and commits once
at the end, so a consumer killed part-way leaves nothing written: publishing
keeps :func:`catalogue.imports.publishing.publish_batch`'s all-or-nothing
transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.clock import today, utcnow
from catalogue.db import get_engine, pk
from catalogue.imports import annotated, kept, publishing
from catalogue.imports import checking as importing
from catalogue.imports.publishing import batch_certificates
from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.jobs.runner import handler
from catalogue.registry.models import ImportBatch
from catalogue.registry.records import PublishError
from catalogue.registry.rows import FieldError
from catalogue.verification import exports


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
    kept.sweep(session, app)  # among them the earlier upload of this file, which this one replaced
    stored = _report_json(checked)
    stored["_done"] = len(checked.rows)
    if batch is None:
        service.discard_files(job, app)
        stored["_message"] = " ".join(checked.file_errors)
        return stored
    batch_id = pk(batch)
    stored["marked"] = _mark(app, batch_id, data, checked, report)
    kept.keep_upload(job, batch_id, app)  # last: until here a retry finds the upload where it was
    stored["batch_id"] = batch_id
    bad = len(checked.bad_rows)
    stored["_message"] = (
        _l("%(bad)s of %(n)s rows have problems", bad=bad, n=len(checked.rows))
        if bad
        else (
            _l("All %(n)s rows are correct.", n=len(checked.rows))
            if len(checked.rows) != 1
            else _l("The row is correct.")
        )
    )
    return stored


def _mark(
    app: Flask, batch_id: int, data: bytes, checked: importing.ImportReport, report: service.Reporter
) -> bool:
    """The upload with its problems marked, kept for download; False when there is nothing to mark."""
    if not annotated.has_marks(checked):
        return False
    report.phase = _l("Marking the problems in your file…")
    report(len(checked.rows), len(checked.rows), force=True)
    try:
        marked = annotated.mark_file(data, checked, utcnow())
    except Exception:  # noqa: BLE001 - the check stands without its marked copy; the preview lists all
        app.logger.exception("batch %s: the file could not be marked", batch_id)
        return False
    kept.write_marked(batch_id, marked, app)
    return True


@handler("publish")
def publish(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    params = job.params or {}
    batch = session.get(ImportBatch, job.batch_id)
    if batch is None:
        raise PublishError(gettext("This upload no longer exists."))
    decision_date = params.get("decision_date")

    def progress(done: int, total: int) -> None:
        if done == 1:
            report.phase = _l("Preparing the rows; none is public until all are ready…")
        report(done, total)

    def locking() -> None:
        # The registry was too busy to stage: this attempt holds SQLite's write lock throughout.
        report.phase = _l("Writing the rows (all at once, or nothing)…")
        report(0, 0, force=True)
        report.hold_table(session)

    report.phase = _l("Checking every row again…")
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
    kept.remove(pk(batch), app)
    return {
        "batch_id": batch.id,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "_done": result.created + result.updated + result.unchanged,
        "_message": _l(
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
        raise PublishError(gettext("This upload no longer exists."))
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
        "_message": _l("%(n)d photos attached.", n=len(outcome.attached)),
    }


@handler("qr_zip")
def qr_zip(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    batch = session.get(ImportBatch, job.batch_id)
    if batch is None:
        raise publishing.PublishError(gettext("This upload no longer exists."))
    certificates = batch_certificates(session, actor=user, batch=batch)
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
        "_message": _l("The zip of %(n)s QR codes is ready.", n=count),
    }
