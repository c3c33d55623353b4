"""Blueprint "jobs": a job's page (progress, result, Retry) and the JSON its script polls.

The page refreshes itself with ``<meta http-equiv="refresh">`` when scripts are
off; with scripts, ``static/js/jobs.js`` polls :func:`job_json` (no inline
script: the CSP forbids it).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from catalogue.accounts.login import guard
from catalogue.db import get_session
from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.workspace import shell
from catalogue.workspace.forms import ConfirmForm

bp = shell.blueprint("jobs", __name__, url_prefix="/admin/jobs")


def _job(job_id: int) -> Job:
    job = get_session().get(Job, job_id)
    if job is None:
        abort(404)
    service.require_job(shell.me(), job)
    return job


@bp.get("/<int:job_id>")
@guard("import")
def job(job_id: int) -> str:
    found = _job(job_id)
    return render_template("admin/job.html", job=found, status=service.status(found), confirm=ConfirmForm())


@bp.get("/<int:job_id>.json")
@guard("import")
def job_json(job_id: int) -> Response:
    return jsonify(service.status(_job(job_id)))


@bp.post("/<int:job_id>/retry")
@guard("import")
def retry(job_id: int) -> Any:
    found = _job(job_id)
    if ConfirmForm().validate_on_submit():
        try:
            service.retry(get_session(), actor=shell.me(), job=found)
            flash(_("The job was started again."), "info")
        except service.JobError as exc:
            flash(str(exc), "error")
    return redirect(url_for("jobs.job", job_id=job_id))


@bp.post("/search-rebuild")
@guard("rebuild_search")
def rebuild_search() -> Any:
    """Ministry officials: rebuild the search index in the background, then watch its job page."""
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("workspace.index"))
    session = get_session()
    try:
        started = service.start_rebuild(session, actor=shell.me(), locale=str(get_locale() or "vi"))
    except service.JobError as exc:
        flash(str(exc), "error")
        running = service.active_rebuild(session)
        return redirect(url_for("jobs.job", job_id=running.id) if running else url_for("workspace.index"))
    return redirect(url_for("jobs.job", job_id=started.id))


@bp.get("/<int:job_id>/download")
@guard("import")
def download(job_id: int) -> Response:
    found = _job(job_id)
    name = (found.result or {}).get("download")
    path = service.download_path(found)
    if found.state != "done" or not name:
        abort(404)
    if not path.exists():  # kept for a week (service.KEEP_DOWNLOADS)
        again = (
            _("This file was removed after a week; make it again from the label run.")
            if found.kind.startswith("label_")
            else _("This file was removed after a week; make the QR zip again from the upload.")
        )
        abort(410, description=again)
    mimetype = service.MIMETYPES.get(path.suffix, "application/octet-stream")
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=str(name))
