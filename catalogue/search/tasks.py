"""The search index's background job: a full rebuild of this node's index (``rebuild --background``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.db import get_engine
from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.jobs.runner import handler
from catalogue.search import building


@handler("rebuild")
def rebuild(
    app: Flask, session: Session, job: Job, user: User | None, report: service.Reporter
) -> dict[str, Any]:
    """A full rebuild of this node's index, under its build lock like ``flask search rebuild``."""
    report.phase = _l("Indexing the products…")
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
        "_message": _l("The search index was rebuilt."),
        "_done": outcome.documents,
        "documents": outcome.documents,
    }
