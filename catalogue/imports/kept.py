"""A pending upload's own files: the official's file and its marked copy, kept while the batch is pending.

Both live in the jobs folder (:func:`catalogue.jobs.service.files_dir`), which the
nodes of a cluster share (README, "several nodes"), so the node that answers the
download finds what the job worker wrote. They are named by the batch, never
served directly, and removed when the batch is published or discarded; a file
whose batch is no longer pending (a crash between the commit and the removal,
an upload replaced by a newer one) is swept before each new dry run.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from sqlmodel import Session, col, select

from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.registry.models import ImportBatch

_KEPT = re.compile(r"^batch-([0-9]+)\.(upload|marked\.xlsx)$")


def upload_path(batch_id: int, app: Flask | None = None) -> Path:
    """The official's file as uploaded, byte for byte."""
    return service.files_dir(app) / f"batch-{batch_id}.upload"


def marked_path(batch_id: int, app: Flask | None = None) -> Path:
    """The same workbook with every problem marked (:mod:`catalogue.imports.annotated`)."""
    return service.files_dir(app) / f"batch-{batch_id}.marked.xlsx"


def keep_upload(job: Job, batch_id: int, app: Flask | None = None) -> None:
    """Move a dry run's upload to its batch (a rename in the same folder: whole or absent)."""
    service.upload_path(job, app).replace(upload_path(batch_id, app))


def write_marked(batch_id: int, data: bytes, app: Flask | None = None) -> None:
    path = marked_path(batch_id, app)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)  # a reader never sees half a workbook


def remove(batch_id: int, app: Flask | None = None) -> None:
    """Forget a batch's files (it was published or discarded)."""
    upload_path(batch_id, app).unlink(missing_ok=True)
    marked_path(batch_id, app).unlink(missing_ok=True)


def sweep(session: Session, app: Flask | None = None) -> int:
    """Remove the files of batches that are no longer pending (or no longer exist); returns how many."""
    found: dict[int, list[Path]] = {}
    for path in service.files_dir(app).iterdir():
        match = _KEPT.match(path.name)
        if match:
            found.setdefault(int(match.group(1)), []).append(path)
    if not found:
        return 0
    pending = set(
        session.exec(
            select(ImportBatch.id).where(col(ImportBatch.id).in_(found), ImportBatch.state == "pending")
        ).all()
    )
    removed = 0
    for batch_id, paths in found.items():
        if batch_id in pending:
            continue
        for path in paths:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
