"""The workspace's imports: upload, dry run, publish, discard, a batch's photos and QR codes.

Views stay thin: they check the form, call one service, commit once and say what
happened; every route wears :func:`catalogue.accounts.login.guard`.
"""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlmodel import col, select

from catalogue.accounts import permissions
from catalogue.accounts.login import guard
from catalogue.accounts.models import User
from catalogue.clock import today
from catalogue.db import get_engine, pk
from catalogue.imports import annotated, files, kept, publishing, template
from catalogue.imports import checking as importing
from catalogue.imports import tasks as import_tasks
from catalogue.imports.forms import PublishForm, UploadForm, ZipForm
from catalogue.jobs import service as jobs
from catalogue.jobs.models import Job
from catalogue.registry import photos as media
from catalogue.registry.models import Certificate, ImportBatch, Product, SelectionRound
from catalogue.registry.records import PublishError
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm

bp = shell.blueprint("imports", __name__)


# ----------------------------------------------------------------------------- imports


@bp.route("/imports", methods=["GET", "POST"])
@guard("import")
def imports() -> Any:
    form = UploadForm()
    me = shell.me()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        # Whole (MAX_CONTENT_LENGTH bounds it), so a refusal can state the file's real size.
        data = upload.read()
        report = _dry_run(me, upload.filename or "upload", data)
        if not isinstance(report, importing.ImportReport):
            return report
    shell.form_errors(form)
    batches = importing.visible_batches(shell.session(), actor=me)
    recent = [jobs.status(j) for j in jobs.visible_jobs(shell.session(), actor=me, limit=10)]
    return render_template(
        "admin/imports.html", form=form, report=report, batches=batches,
        levels=permissions.publishable_levels(me), jobs=recent,
    ), 400 if report else 200  # fmt: skip


def _dry_run(me: User, filename: str, data: bytes) -> Any:
    """Check the file in a background job; go to the upload when it is done, else to the job.

    A file that cannot be read at all comes back as a report for the upload page.
    """
    try:  # an empty, oversized, old .xls or password-protected file is refused at once
        files.sniff(data)
    except importing.ImportFileError as exc:
        report = importing.ImportReport(filename=filename, sha256=importing.sha256(data))
        report.file_errors.append(str(exc))
        return report
    session = shell.session()
    job = jobs.create(
        session, kind="dry_run", actor=me, province_id=me.province_id,
        params={"filename": filename[:300]}, data=data, locale=str(get_locale() or "vi"),
    )  # fmt: skip
    job = jobs.submit(session, job)
    if job.state == "done" and job.batch_id:
        return redirect(url_for("imports.batch", batch_id=job.batch_id))
    if job.state == "done" and (job.result or {}).get("file_errors"):
        report = importing.ImportReport(filename=filename, sha256=importing.sha256(data))
        report.file_errors = list((job.result or {})["file_errors"])
        return report
    return redirect(url_for("jobs.job", job_id=job.id))


@bp.get("/imports/template.xlsx")
@guard("import")
def import_template() -> Response:
    data = template.template_xlsx(shell.provinces())
    response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = 'attachment; filename="mau-danh-sach-san-pham-cnnt.xlsx"'
    return response


def _batch(batch_id: int) -> ImportBatch:
    batch = shell.get_or_404(ImportBatch, batch_id)
    permissions.require(shell.me(), "view_batch", province=batch.province_id)
    return batch


@bp.get("/imports/<int:batch_id>")
@guard("import")
def batch(batch_id: int) -> str:
    batch = _batch(batch_id)
    me = shell.me()
    batch_jobs = jobs.visible_jobs(shell.session(), actor=me, batch_id=batch.id, limit=5)
    busy = any(jobs.effective_state(j) in jobs.ACTIVE for j in batch_jobs)
    report = _batch_report(batch, batch_jobs) if batch.state == "pending" and not busy else None
    certificates = (
        publishing.batch_certificates(shell.session(), actor=me, batch=batch)
        if batch.state == "published"
        else []
    )
    products = (
        {
            p.id: p
            for p in shell.session()
            .exec(select(Product).where(col(Product.id).in_({c.product_id for c in certificates})))
            .all()
        }
        if certificates
        else {}
    )
    publish_form = PublishForm(decision_number=batch.decision_number)
    marked = _marked(batch, batch_jobs, report) if batch.state == "pending" and not busy else None
    return render_template(
        "admin/batch.html",
        batch=batch,
        report=report,
        publish_form=publish_form,
        confirm=ConfirmForm(),
        zip_form=ZipForm(),
        certificates=certificates,
        products=products,
        twin=importing.published_twin(shell.session(), batch),
        column_label=importing.column_label,
        rounds=_rounds_of(certificates),
        label_url=shell.label_url,
        jobs=[jobs.status(j) for j in batch_jobs[:1]],
        busy=busy,
        marked=marked,
    )


def _marked(batch: ImportBatch, batch_jobs: list[Job], report: importing.ImportReport | None) -> Any:
    """The marked-up file on offer: when it was made, and whether this page's check still agrees."""
    if not kept.marked_path(pk(batch)).exists():
        return None
    made = next((j for j in batch_jobs if j.kind == "dry_run" and j.state == "done" and j.result), None)
    marks = import_tasks.report_from_json(made.result or {}) if made is not None else None
    return {
        "at": made.finished_at if made is not None else None,
        "current": marks is None or report is None or _marks_of(marks) == _marks_of(report),
    }


def _marks_of(report: importing.ImportReport) -> set[tuple[int, str, bool]]:
    """What a marked file shows, language aside: each row's problem columns, error or warning."""
    return {(r.line, e.field, True) for r in report.rows for e in r.errors} | {
        (r.line, w.field, False) for r in report.rows for w in r.warnings
    }


@bp.get("/imports/<int:batch_id>/marked.xlsx")
@guard("import")
def marked_file(batch_id: int) -> Any:
    """The official's own file with every problem of its check marked (built by the dry-run job)."""
    batch = _batch(batch_id)
    try:
        data = kept.marked_path(pk(batch)).read_bytes() if batch.state == "pending" else None
    except FileNotFoundError:
        data = None
    if data is None:
        flash(
            _("This upload has no marked file: it had no problems, or it was published or discarded."),
            "error",
        )
        return redirect(url_for("imports.batch", batch_id=batch_id))
    stem = (batch.filename.rsplit(".", 1)[0] or "upload")[:120]
    suffix = _("problems")  # the download's name: "qd-45 - problems.xlsx"
    response = send_file(
        io.BytesIO(data), mimetype=annotated.XLSX_MIMETYPE, as_attachment=True,
        download_name=f"{stem} - {suffix}.xlsx",
    )  # fmt: skip
    response.headers["Cache-Control"] = "private, no-store"
    return response


#: A pending upload up to this many rows is checked again on each view; a larger one
#: shows its background dry run (the check is repeated when publishing anyway).
RECHECK_ROWS = 1000


def _batch_report(batch: ImportBatch, batch_jobs: list[Job]) -> importing.ImportReport | None:
    if batch.row_count <= RECHECK_ROWS:
        # Checked as its uploader's office would publish it: the ministry looking at a province's
        # batch must not read "published by the provincial office" on every provincial row.
        uploader = shell.session().get(User, batch.created_by) if batch.created_by else None
        checker = uploader if uploader is not None and uploader.is_active else shell.me()
        return importing.check_batch(shell.session(), actor=checker, batch=batch)
    for job in batch_jobs:
        if job.kind == "dry_run" and job.state == "done" and job.result:
            return import_tasks.report_from_json(job.result, batch.file_sha256)
    return None


def _rounds_of(certificates: list[Certificate]) -> list[SelectionRound]:
    ids = {c.round_id for c in certificates}
    if not ids:
        return []
    return list(shell.session().exec(select(SelectionRound).where(col(SelectionRound.id).in_(ids))).all())


@bp.post("/imports/<int:batch_id>/publish")
@guard("import")
def publish(batch_id: int) -> Any:
    batch = _batch(batch_id)
    form = PublishForm()
    if not form.validate_on_submit():
        shell.form_errors(form)
        return redirect(url_for("imports.batch", batch_id=batch_id))
    session = shell.session()
    if batch.state != "pending":
        flash(
            _(
                "This batch is %(state)s; only a pending batch can be published.",
                state=publishing.BATCH_STATES.get(batch.state, batch.state),
            ),
            "error",
        )
        return redirect(url_for("imports.batch", batch_id=batch_id))
    if any(
        jobs.effective_state(j) in jobs.ACTIVE
        for j in jobs.visible_jobs(session, actor=shell.me(), batch_id=batch.id, limit=5)
    ):
        flash(_("This upload is already being worked on; wait for that job to finish."), "error")
        return redirect(url_for("imports.batch", batch_id=batch_id))
    decision_date = form.decision_date.data
    job = jobs.create(
        session, kind="publish", actor=shell.me(), province_id=batch.province_id, batch_id=batch.id,
        params={"decision_number": form.decision_number.data or None,
                "decision_date": decision_date.isoformat() if decision_date else None},
        locale=str(get_locale() or "vi"),
    )  # fmt: skip
    job = jobs.submit(session, job)
    if job.state in ("done", "failed"):  # finished already (a small batch, or jobs run inline)
        flash(job.message or "", "info" if job.state == "done" else "error")
    return redirect(url_for("imports.batch", batch_id=batch_id))


@bp.post("/imports/<int:batch_id>/discard")
@guard("import")
def discard(batch_id: int) -> Any:
    batch = _batch(batch_id)
    if ConfirmForm().validate_on_submit():
        try:
            importing.discard_batch(shell.session(), actor=shell.me(), batch=batch)
            shell.session().commit()
            kept.remove(pk(batch))
            flash(_("The upload was discarded."), "info")
        except PublishError as exc:
            flash(str(exc), "error")
    return redirect(url_for("imports.imports"))


@bp.post("/imports/<int:batch_id>/photos")
@guard("import")
def batch_photos(batch_id: int) -> Any:
    batch = _batch(batch_id)
    form = ZipForm()
    if form.validate_on_submit():
        data = form.file.data.read(media.MAX_ZIP_BYTES + 1)
        if batch.state != "published":
            flash(_("Publish the batch first, then add its photos."), "error")
        elif len(data) > media.MAX_ZIP_BYTES:
            try:
                media.zip_images(data)  # says how large a zip may be
            except media.PhotoRejected as exc:
                flash(str(exc), "error")
        else:
            session = shell.session()
            job = jobs.create(
                session, kind="photo_zip", actor=shell.me(), province_id=batch.province_id, batch_id=batch.id,
                data=data, locale=str(get_locale() or "vi"),
            )  # fmt: skip
            job = jobs.submit(session, job)
            if job.state in ("done", "failed"):
                status = jobs.status(job)
                flash(status["message"] or "", "info" if job.state == "done" else "error")
                for problem in status["result"].get("problems", []):
                    flash(problem, "error")
    shell.form_errors(form)
    return redirect(url_for("imports.batch", batch_id=batch_id))


@bp.get("/imports/<int:batch_id>/qr.zip")
@guard("import")
def batch_qr(batch_id: int) -> Any:
    """Every QR code of a published batch as PNG files named by certificate number.

    A large batch's zip is built by a job; this then sends the official to its page.
    """
    from catalogue.verification import exports

    batch = _batch(batch_id)
    certificates = publishing.batch_certificates(shell.session(), actor=shell.me(), batch=batch)
    if len(certificates) > exports.INLINE_QR_CODES:
        session = shell.session()
        job = jobs.create(
            session, kind="qr_zip", actor=shell.me(), province_id=batch.province_id, batch_id=batch.id,
            locale=str(get_locale() or "vi"),
        )  # fmt: skip
        job = jobs.submit(session, job)
        return redirect(url_for("jobs.job", job_id=job.id))
    data = exports.qr_zip_bytes(
        certificates, engine=get_engine(), base=current_app.config["PUBLIC_BASE_URL"], day=today()
    )
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="qr-batch-{batch.id}.zip"'
    return response
