"""A label run's background jobs: its codes as a CSV for label printers, one range as PDF label sheets.

Registered with :func:`catalogue.jobs.runner.handler` when ``create_app`` imports this
module. Each writes its file beside the job (a ``.part`` renamed when whole, so a killed
job leaves no half file behind) and the job page offers it for a week. Withdrawn serials
are left out of both: a lost roll's codes must never be printed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, col, select

from catalogue.accounts.models import User
from catalogue.db import pk
from catalogue.i18n import fmt_number
from catalogue.jobs import service
from catalogue.jobs.models import Job
from catalogue.jobs.runner import handler
from catalogue.label_runs import codes, runs, writing
from catalogue.label_runs.models import LabelRun, LabelWithdrawal
from catalogue.registry.models import Certificate, Producer, Product


def kept_ranges(first: int, last: int, withdrawn: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Serials ``first..last`` less the withdrawn spans, as ranges in order."""
    kept: list[tuple[int, int]] = []
    start = first
    for w_first, w_last in sorted(withdrawn):
        if w_last < start or w_first > last:
            continue
        if w_first > start:
            kept.append((start, w_first - 1))
        start = max(start, w_last + 1)
        if start > last:
            break
    if start <= last:
        kept.append((start, last))
    return kept


def _withdrawn(session: Session, run: LabelRun) -> list[tuple[int, int]]:
    rows = session.exec(select(LabelWithdrawal).where(col(LabelWithdrawal.run_id) == pk(run))).all()
    return [(w.first_serial, w.last_serial) for w in rows]


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
    first = int(params.get("first") or 1)
    last = int(params.get("last") or run.count)
    if not 1 <= first <= last <= run.count:
        raise runs.RunRefused(
            gettext("Choose serials from %(first)s to %(last)s, the first not after the last.",
                    first=1, last=fmt_number(run.count))
        )  # fmt: skip
    return run, certificate, first, last


def _nothing_left() -> runs.RunRefused:
    return runs.RunRefused(gettext("Every label of these serials is withdrawn: there is nothing to print."))


class _AfterHeader:
    """Passes writes on, except the CSV header of a second or later range (one header per file)."""

    def __init__(self, out: IO[str]) -> None:
        self.out, self.skipped = out, False

    def write(self, text: str) -> int:
        if not self.skipped:
            self.skipped = True
            if text == writing.HEADER:
                return len(text)
        return self.out.write(text)


def _filename(run: LabelRun, first: int, last: int, suffix: str) -> str:
    whole = first == 1 and last == run.count
    return f"label-run-{pk(run)}.{suffix}" if whole else f"label-run-{pk(run)}-{first}-{last}.{suffix}"


@handler("label_csv")
def label_csv(app: Flask, session: Session, job: Job, user: User, report: service.Reporter) -> dict[str, Any]:
    """The run's codes (or one range's) as ``serial,code,url`` rows, withdrawn serials left out."""
    run, _certificate, first, last = _run(session, job, user)
    ranges = kept_ranges(first, last, _withdrawn(session, run))
    if not ranges:
        raise _nothing_left()
    total = sum(b - a + 1 for a, b in ranges)
    service.prune_downloads(session, app)
    path = service.download_path(job, app, suffix=".csv")
    tmp = path.with_suffix(".part")
    rows = 0
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        for index, (a, b) in enumerate(ranges):
            offset = rows

            def progress(done: int, _total: int, offset: int = offset) -> None:
                report(offset + done, total)

            rows += writing.write_csv(
                handle if index == 0 else _AfterHeader(handle),  # type: ignore[arg-type]
                run, keys=app.config["VERIFY_KEYS"], base_url=app.config["PUBLIC_BASE_URL"],
                first=a, last=b, progress=progress,
            )  # fmt: skip
    tmp.replace(path)  # whole or absent
    return {
        "run_id": pk(run),
        "download": _filename(run, first, last, "csv"),
        "_done": rows,
        "_message": _l("The CSV of %(n)s label codes is ready.", n=rows),
    }


def _labels(
    run: LabelRun, ranges: list[tuple[int, int]], keys: dict[str, str], base_url: str
) -> Iterator[tuple[int, str]]:
    prefix = f"{base_url.rstrip('/')}/v/"
    for a, b in ranges:
        for serial, code in enumerate(codes.serial_codes(keys, run.key_id, pk(run), a, b), start=a):
            yield serial, prefix + code


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
    ranges = kept_ranges(first, last, _withdrawn(session, run))
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
    tmp = path.with_suffix(".part")
    progress: Callable[[int, int], None] = report
    with tmp.open("wb") as out:
        count = sheets.write_sheets(
            out, _labels(run, ranges, app.config["VERIFY_KEYS"], app.config["PUBLIC_BASE_URL"]),
            heading=heading, progress=progress, total=total,
        )  # fmt: skip
    tmp.replace(path)
    return {
        "run_id": pk(run),
        "download": _filename(run, first, last, "pdf"),
        "_done": count,
        "_message": _l("Label sheets for %(n)s packages are ready.", n=count),
    }
