"""A label run's background jobs: its codes as a CSV for label printers, one range as PDF label sheets.

Registered with :func:`catalogue.jobs.runner.handler` when ``create_app`` imports this
module. Each writes its file beside the job (a ``.part`` renamed when whole, so a killed
job leaves no half file behind) and the job page offers it for a week. Withdrawn serials
are left out of both: a lost roll's codes must never be printed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor, Forbidden
from catalogue.db import get_session, pk
from catalogue.i18n import fmt_number
from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.jobs.runner import handler
from catalogue.label_runs import runs, writing
from catalogue.registry.certificates import require_certificate
from catalogue.registry.models import Certificate, Producer, Product
from catalogue.verification.models import LabelRun


def _may_open(actor: Actor, job: Job) -> None:
    """A label job is opened (page, download, retry) only under the label rule of its run's certificate."""
    session = get_session()
    run = session.get(LabelRun, int((job.params or {}).get("run_id") or 0))
    certificate = session.get(Certificate, run.certificate_id) if run is not None else None
    if certificate is None:
        raise Forbidden()
    require_certificate(session, actor, runs.ACTION, certificate)


service.ACCESS["label_csv"] = service.ACCESS["label_sheets"] = _may_open


def _run(session: Session, job: Job, user: User) -> tuple[LabelRun, Certificate, int, int]:
    """The job's run and range, re-checked: the official must still be allowed to issue its labels."""
    params = job.params or {}
    run = session.get(LabelRun, int(params.get("run_id") or 0))
    if run is None:
        raise runs.RunRefused(gettext("This label run no longer exists."))
    certificate = session.get(Certificate, run.certificate_id)
    assert certificate is not None  # a run's certificate is a required foreign key
    if not runs.may_issue(session, user, certificate):
        raise runs.RunRefused(gettext("Your account may not issue labels for this certificate."))
    runs.require_valid(session, certificate)
    first = int(params.get("first") or 1)
    last = int(params.get("last") or run.count)
    runs.check_range(run, first, last)
    return run, certificate, first, last


def _nothing_left() -> runs.RunRefused:
    return runs.RunRefused(gettext("Every label of these serials is withdrawn: there is nothing to print."))


def _filename(run: LabelRun, first: int, last: int, suffix: str) -> str:
    whole = first == 1 and last == run.count
    return f"label-run-{pk(run)}.{suffix}" if whole else f"label-run-{pk(run)}-{first}-{last}.{suffix}"


@handler("label_csv")
def label_csv(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    """The run's codes (or one range's) as ``serial,code,url`` rows, withdrawn serials left out."""
    run, _certificate, first, last = _run(session, job, user)
    ranges = runs.printable_ranges(session, run, first, last)
    if not ranges:
        raise _nothing_left()
    service.prune_downloads(session, app)
    path = service.download_path(job, app, suffix=".csv")
    with _whole_or_absent(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        rows = writing.write_csv(
            handle, run, ranges, keys=app.config["VERIFY_KEYS"], base_url=app.config["PUBLIC_BASE_URL"],
            progress=report,
        )  # fmt: skip
    return {
        "run_id": pk(run),
        "download": _filename(run, first, last, "csv"),
        "_done": rows,
        "_message": _l("The CSV of %(n)s label codes is ready.", n=fmt_number(rows)),
    }


@contextmanager
def _whole_or_absent(path: Path) -> Iterator[Path]:
    """A ``.part`` file renamed to ``path`` when whole, removed when the job fails or is refused."""
    tmp = path.with_suffix(".part")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


@handler("label_sheets")
def label_sheets(
    app: Flask, session: Session, job: Job, user: User, report: service.Reporter
) -> dict[str, Any]:
    """One range of at most :data:`sheets.MAX_RANGE` serials as print-ready A4 label sheets (PDF)."""
    from catalogue.label_runs import sheets

    run, certificate, first, last = _run(session, job, user)
    if last - first + 1 > sheets.MAX_RANGE:
        raise runs.RunRefused(
            gettext(
                "Label sheets are made for at most %(n)s serials at a time.", n=fmt_number(sheets.MAX_RANGE)
            )
        )
    ranges = runs.printable_ranges(session, run, first, last)
    if not ranges:
        raise _nothing_left()
    product = session.get(Product, certificate.product_id)
    producer = session.get(Producer, product.producer_id) if product and product.producer_id else None
    heading = sheets.SheetHeading(
        product_name=product.name if product else "",
        producer_name=producer.name if producer else None,
        certificate_number=certificate.number,
        run_id=pk(run),
        first=first,
        last=last,
    )
    total = sum(b - a + 1 for a, b in ranges)
    service.prune_downloads(session, app)
    path = service.download_path(job, app, suffix=".pdf")
    labels = ((serial, url) for serial, _code, url in writing.labels(
        run, ranges, app.config["VERIFY_KEYS"], app.config["PUBLIC_BASE_URL"]))  # fmt: skip
    with _whole_or_absent(path) as tmp, tmp.open("wb") as out:
        count = sheets.write_sheets(out, labels, heading=heading, progress=report, total=total)
    return {
        "run_id": pk(run),
        "download": _filename(run, first, last, "pdf"),
        "_done": count,
        "_message": _l("Label sheets for %(n)s packages are ready.", n=fmt_number(count)),
    }
