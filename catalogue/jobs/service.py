"""Creating, running, watching and retrying jobs; the ``job`` table is the truth.

A job runs in short transactions of its own for its bookkeeping (claim,
progress, finish) and in one transaction for its work, so a consumer killed
with ``-9`` leaves the work uncommitted and the row ``running`` with a heartbeat
that goes stale: :func:`effective_state` then says "interrupted" and
:func:`retry` queues it again.

On SQLite the row cannot be written while the same job's publish transaction
holds the write lock, so live progress and heartbeat also go to the queue's
key-value storage (a separate file, or Redis), read back by :func:`status`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlmodel import Session, col, select

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.clock import aware, utcnow
from catalogue.db import get_engine, pk
from catalogue.jobs import messages, queue
from catalogue.jobs.models import Job
from catalogue.refused import Refused

#: A running job whose heartbeat is older than this is taken for dead (consumer killed).
STALE_AFTER = timedelta(seconds=90)
#: Progress is written at most this often (each write is a short transaction).
REPORT_EVERY = timedelta(seconds=1)

KINDS = {
    "dry_run": _l("Checking the file"),
    "publish": _l("Publishing"),
    "photo_zip": _l("Attaching photos"),
    "rebuild": _l("Rebuilding the search index"),
    "qr_zip": _l("Preparing the QR codes"),
    "label_csv": _l("Writing the label codes"),
    "label_sheets": _l("Drawing label sheets"),
}
#: The page's title once a job has done its work.
KINDS_DONE = {
    "dry_run": _l("File checked"),
    "publish": _l("Published"),
    "photo_zip": _l("Photos attached"),
    "rebuild": _l("Search index rebuilt"),
    "qr_zip": _l("QR codes ready"),
    "label_csv": _l("Label codes ready"),
    "label_sheets": _l("Label sheets ready"),
}
STATES = {
    "queued": _l("waiting to start"),
    "running": _l("running"),
    "done": _l("finished"),
    "failed": _l("failed"),
    "interrupted": _l("interrupted"),
}
ACTIVE = ("queued", "running")
#: Kinds that need no official's account: the command line may start them (``actor_id`` empty).
SYSTEM_KINDS = frozenset({"rebuild"})


#: Test hook: called with (job id, done, total) at every progress report; raise to simulate a crash.
FAULT: Callable[[int, int, int], None] | None = None


class Killed(BaseException):
    """Raised by a test's :data:`FAULT` to stand for ``kill -9``: nothing of the job's own runs after it."""


class JobError(Refused):
    """The job cannot be changed as asked; the message is for the official."""


def files_dir(app: Flask | None = None) -> Path:
    """Where uploads wait for their job (never served)."""
    app = app or current_app
    path = Path(app.config["SETTINGS"].CATALOGUE_DATA_DIR) / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path(job: Job, app: Flask | None = None) -> Path:
    return files_dir(app) / f"{pk(job)}.upload"


#: Kinds whose job writes a download, and each download's type by its suffix.
DOWNLOAD_KINDS = frozenset({"qr_zip", "label_csv", "label_sheets"})
MIMETYPES = {".zip": "application/zip", ".csv": "text/csv", ".pdf": "application/pdf"}


def download_path(job: Job, app: Flask | None = None, suffix: str | None = None) -> Path:
    """A file the job made for the official (a QR zip, a CSV, a PDF), sent by the job page.

    Its suffix is the one of ``result["download"]`` (the name it is sent under) once the
    job is done; the handler, writing it before that, passes ``suffix``.
    """
    if suffix is None:
        suffix = Path(str((job.result or {}).get("download") or "")).suffix.lower()
    return files_dir(app) / f"{pk(job)}{suffix if suffix in MIMETYPES else '.zip'}"


#: How long a job's generated download (a QR zip) is kept; the job page then says to make it again.
KEEP_DOWNLOADS = timedelta(days=7)


def prune_downloads(session: Session, app: Flask | None = None, now: datetime | None = None) -> int:
    """Remove downloads of jobs finished more than :data:`KEEP_DOWNLOADS` ago, and leftover parts.

    Run before each new download is made, so the folder holds about a week of them.
    """
    cutoff = (now or utcnow()) - KEEP_DOWNLOADS
    removed = 0
    old = session.exec(
        select(Job).where(col(Job.finished_at) < cutoff, col(Job.kind).in_(DOWNLOAD_KINDS))
    ).all()
    for job in old:
        path = download_path(job, app)
        if path.exists():
            path.unlink()
            removed += 1
    for part in files_dir(app).glob("*.part"):
        if part.stat().st_mtime < cutoff.timestamp():  # a job killed while writing
            part.unlink(missing_ok=True)
    return removed


def create(
    session: Session,
    *,
    kind: str,
    actor: User | permissions.SystemActor,
    province_id: int | None,
    batch_id: int | None = None,
    params: dict[str, Any] | None = None,
    data: bytes | None = None,
    locale: str = "vi",
) -> Job:
    """A queued job row (flushed, not committed); ``data`` is kept on disk for the job.

    ``actor`` :data:`~catalogue.accounts.permissions.SYSTEM` (the command line) leaves
    ``actor_id`` empty: only :data:`SYSTEM_KINDS` may run so.
    """
    if isinstance(actor, permissions.SystemActor) and kind not in SYSTEM_KINDS:
        raise JobError(f"a {kind} job needs an official's account")
    job = Job(
        kind=kind,
        actor_id=actor.id if isinstance(actor, User) else None,
        province_id=province_id,
        batch_id=batch_id,
        params=params or {},
        locale=locale[:8],
    )
    session.add(job)
    session.flush()
    if data is not None:
        path = upload_path(job)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return job


def submit(session: Session, job: Job) -> Job:
    """Commit the job row, then enqueue it (immediate mode runs it now) and reload it."""
    session.commit()
    queue.enqueue(pk(job))
    session.expire(job)
    session.refresh(job)
    return job


def _live_key(job_id: int) -> str:
    return f"job-progress:{job_id}"


def _stale(moment: datetime | None, now: datetime) -> bool:
    return moment is None or now - aware(moment) > STALE_AFTER


def live(job: Job) -> dict[str, Any] | None:
    """The progress the job reported to the queue's storage, if newer than the row's."""
    try:
        value = queue.get_huey().get(_live_key(pk(job)), peek=True)
    except Exception:  # noqa: BLE001 - a queue store that is down only hides live progress
        return None
    return value if isinstance(value, dict) else None


def _lost_in_queue(job: Job, now: datetime) -> bool:
    """Queued a while ago, yet the queue holds nothing: its entry was lost (queue file or Redis wiped).

    A job merely waiting behind a long one is still among the queue's pending tasks.
    """
    if not _stale(job.created_at, now):
        return False
    try:
        return queue.get_huey().pending_count() == 0
    except Exception:  # noqa: BLE001 - a queue store that is down cannot say; keep "queued"
        return False


def effective_state(job: Job, now: datetime | None = None, extra: dict[str, Any] | None = None) -> str:
    """The state to show: a running job whose heartbeat went stale, or a queued job the
    queue has lost, is "interrupted" (and may be retried). ``extra``: :func:`live`, if read."""
    now = now or utcnow()
    if job.state == "queued":
        return "interrupted" if _lost_in_queue(job, now) else "queued"
    if job.state != "running":
        return job.state
    beat = job.heartbeat_at
    extra = extra if extra is not None else live(job)
    if extra and extra.get("at") and (beat is None or extra["at"] > aware(beat)):
        beat = extra["at"]
    return "interrupted" if _stale(beat, now) else "running"


def status(job: Job) -> dict[str, Any]:
    """What the job page and its JSON endpoint show."""
    extra = live(job) if job.state == "running" else None  # read once from the queue's storage
    state = effective_state(job, extra=extra)
    # An unreadable file ends "done" with its reasons; the page says so as a refusal.
    refused = state == "done" and bool((job.result or {}).get("file_errors"))
    done, total, message = job.done, job.total, job.message
    extra = extra if state == "running" else None
    if extra and (job.heartbeat_at is None or extra.get("at", job.heartbeat_at) >= aware(job.heartbeat_at)):
        done, total, message = int(extra.get("done", 0)), int(extra.get("total", 0)), extra.get("phase")
    # A phase is stored as its message id (messages.phase_id), also in a job that stopped in it;
    # gettext leaves a message worded by a service (not an id) as it is.
    worded = gettext(message) if message else None
    message = worded if state in ACTIVE else messages.render(job.text, worded)
    return {
        "id": job.id,
        "kind": job.kind,
        "kind_label": str(KINDS.get(job.kind, job.kind)),
        "heading": _heading(job.kind, state, refused),
        "state": state,
        "state_label": str(STATES.get(state, state)),
        "done": done,
        "total": total,
        "percent": int(100 * done / total) if total else (100 if state == "done" else 0),
        "message": message,
        "result": job.result or {},
        "batch_id": job.batch_id,
        "finished": state not in ACTIVE,
        # "failed" is always a server-side failure (or a refusal): worth another try.
        "retryable": state in ("interrupted", "failed"),
        # ... and the page says so as a refusal, with the way to send another file.
        "refused": refused,
    }


def _heading(kind: str, state: str, refused: bool) -> str:
    """The job page's title: what it does while it runs, what it did once done."""
    if state == "done" and not refused and kind in KINDS_DONE:
        return str(KINDS_DONE[kind])
    label = str(KINDS.get(kind, kind))
    return label if state in ACTIVE else f"{label}: {STATES.get(state, state)}"


#: A kind's own rule on top of the batch's, by kind: a label file carries printable codes, so
#: only the office that issues the certificate's labels opens its job (see catalogue.label_runs).
ACCESS: dict[str, Callable[[permissions.Actor, Job], None]] = {}


def require_job(actor: permissions.Actor, job: Job) -> None:
    """The batch's rule: the province's officials (and the ministry) see and retry its jobs;
    a kind in :data:`ACCESS` adds its own."""
    permissions.require(actor, "view_batch", province=job.province_id)
    if (extra := ACCESS.get(job.kind)) is not None:
        extra(actor, job)


def visible_jobs(
    session: Session, *, actor: permissions.Actor, batch_id: int | None = None, limit: int = 20
) -> list[Job]:
    query = select(Job)
    scope = permissions.province_scope(actor)
    if scope is not None:
        query = query.where(Job.province_id == scope)
    if batch_id is not None:
        query = query.where(Job.batch_id == batch_id)
    return list(session.exec(query.order_by(col(Job.id).desc()).limit(limit)).all())


def retry(session: Session, *, actor: permissions.Actor, job: Job) -> Job:
    """Queue an interrupted or failed job again (its work was all-or-nothing, so rerunning is safe)."""
    require_job(actor, job)
    if not status(job)["retryable"]:
        raise JobError(str(_l("Only an interrupted or failed job can be retried.")))
    job.state, job.done, job.message, job.result, job.text = "queued", 0, None, None, None
    job.started_at = job.finished_at = job.heartbeat_at = None
    job.attempts += 1
    session.add(job)
    return submit(session, job)


def active_rebuild(session: Session) -> Job | None:
    """The search index rebuild job waiting or running, if any (one interrupted does not count)."""
    candidates = session.exec(
        select(Job).where(col(Job.kind) == "rebuild", col(Job.state).in_(ACTIVE)).order_by(col(Job.id).desc())
    ).all()
    return next((job for job in candidates if effective_state(job) in ACTIVE), None)


def latest_rebuild(session: Session) -> Job | None:
    """The newest search index rebuild job (the workspace home shows it to ministry officials)."""
    return session.exec(select(Job).where(col(Job.kind) == "rebuild").order_by(col(Job.id).desc())).first()


def start_rebuild(session: Session, *, actor: User | permissions.SystemActor, locale: str = "vi") -> Job:
    """Queue a full rebuild of the search index (ministry officials, or the command line).

    Refused while another rebuild job is waiting or running. The job builds under the
    node's build lock (:func:`catalogue.search.building.build`), like ``flask search rebuild``.
    """
    permissions.require(actor, "rebuild_search")
    running = active_rebuild(session)
    if running is not None:
        raise JobError(
            gettext(
                "A rebuild of the search index is already under way (job #%(id)s); wait for it to finish.",
                id=running.id,
            )
        )
    job = create(session, kind="rebuild", actor=actor, province_id=None, locale=locale)
    return submit(session, job)


# ----------------------------------------------------------------------------- the consumer's side


class Reporter:
    """Writes a job's progress and heartbeat, at most once a second."""

    def __init__(self, app: Flask, job_id: int) -> None:
        self.app, self.job_id = app, job_id
        self.last: datetime | None = None
        #: What the job is doing now, shown while it runs (a lazy string: shown in each viewer's language).
        self.phase: object = None
        #: False while the job's own transaction holds SQLite's write lock.
        self.table_writable = True

    def __call__(self, done: int, total: int, *, force: bool = False) -> None:
        if FAULT is not None:
            FAULT(self.job_id, done, total)
        now = utcnow()
        if not force and self.last is not None and now - self.last < REPORT_EVERY and 0 < done < total:
            return
        self.last = now
        try:
            live = {"done": done, "total": total, "at": now, "phase": messages.phase_id(self.phase)}
            queue.get_huey(self.app).put(_live_key(self.job_id), live)
        except Exception:  # noqa: BLE001 - live progress is a nicety; the row stays the truth
            current_app.logger.warning("job %s: could not store live progress", self.job_id)
        if self.table_writable:
            with Session(get_engine()) as s:
                s.execute(
                    update(Job)
                    .where(col(Job.id) == self.job_id)
                    .values(done=done, total=total, heartbeat_at=now, message=messages.phase_id(self.phase))
                )
                s.commit()

    def hold_table(self, session: Session) -> None:
        """Stop writing the row while ``session`` writes, on SQLite (one writer at a time)."""
        self.table_writable = session.get_bind().dialect.name != "sqlite"


def claim(job_id: int) -> bool:
    """Mark a queued job running; False when another consumer has it or it is finished."""
    now = utcnow()
    with Session(get_engine()) as s:
        claimed = s.execute(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.state) == "queued")
            .values(state="running", started_at=now, heartbeat_at=now)
        )
        s.commit()
        return bool(getattr(claimed, "rowcount", 0))


def finish(job_id: int, *, state: str, message: object, result: dict[str, Any] | None = None,
           batch_id: int | None = None, done: int | None = None) -> None:  # fmt: skip
    """Record the outcome; a lazy ``message`` is also kept portable (shown in each viewer's language)."""
    shown = str(message) if message is not None else None
    with Session(get_engine()) as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        job.state, job.message, job.finished_at = state, shown[:2000] if shown else None, utcnow()
        job.heartbeat_at = job.finished_at
        if result is not None:
            job.result = result
        job.text = messages.portable(message)
        if batch_id is not None:
            job.batch_id = batch_id
        if done is not None:
            job.done = done
            job.total = max(job.total, done)
        s.add(job)
        s.commit()


def discard_files(job: Job, app: Flask | None = None) -> None:
    path = upload_path(job, app)
    path.unlink(missing_ok=True)
