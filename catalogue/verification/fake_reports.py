"""Consumers' reports of suspected fakes: stored for, and listed to, the officials of the province.

Officials read them grouped: by certificate, and within a certificate by the code
that was reported (the printed certificate code, or the serial codes of one label
run), each group beside the check history of its codes. A copied label shows as
many reports of one run whose serials were checked by many devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Connection, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as sm_select

from catalogue.clock import aware, today
from catalogue.paging import Pager
from catalogue.registry.models import Certificate, Producer, Product
from catalogue.text import nfc
from catalogue.verification import counting, serials
from catalogue.verification import serial_codes as codes
from catalogue.verification.models import FakeReport
from catalogue.verification.services import CertificateCheck

#: Days of device-days shown beside a certificate code.
HISTORY_DAYS = 14
#: Groups (certificates, and the one of unrecognised codes) on a page, newest report first.
GROUPS_PER_PAGE = 10
#: Newest reports shown per certificate code or label run (the total is said).
REPORTS_PER_GROUP = 20


def reported_code(conn: Connection, canonical: str | None) -> tuple[CertificateCheck | None, int | None]:
    """The certificate a reported code names and, for a serial code, its label run id.

    ``(None, None)`` for a code the registry does not know (a forged serial, a
    run that does not exist, or no code at all).
    """
    if canonical is None:
        return None, None
    found, check = serials.look_up_any(conn, canonical, current_app.config["VERIFY_KEYS"])
    return check, found.run_id if found is not None else None


def report_fake(
    session: Session,
    *,
    what: str,
    where: str | None,
    code: str | None,
    check: CertificateCheck | None,
    province_id: int | None = None,
    photo_key: str | None = None,
    bought_province_id: int | None = None,
    label_run_id: int | None = None,
) -> FakeReport:
    """Store a consumer's report for the officials of the certificate's current province.

    For an unrecognised code there is no certificate; the report goes to the
    province the reporter named, else to the province where it was bought.
    Flushes, never commits.
    """
    responsible = province_id or bought_province_id
    if check is not None and check.current_province_id:
        responsible = check.current_province_id
    report = FakeReport(
        certificate_id=check.id if check else None,
        code=(code or "")[:60] or None,
        province_id=responsible,
        what=nfc(what).strip()[:2000],
        where=nfc(where or "").strip()[:500] or None,
        bought_province_id=bought_province_id,
        label_run_id=label_run_id if check is not None else None,
        photo_key=photo_key,
    )
    session.add(report)
    session.flush()
    return report


# ----------------------------------------------------------------------------- check history


@dataclass(frozen=True)
class CodeHistory:
    """What the check log knows of one code (None counts: the log could not be read)."""

    code: str
    checks: int | None
    device_days: int | None
    first_at: datetime | None
    last_at: datetime | None
    #: ``(day, device-days)`` for the last :data:`HISTORY_DAYS` days, oldest first (certificate codes only).
    days: list[tuple[date, int]] = field(default_factory=list)
    #: A serial code's package number within its run.
    serial: int | None = None

    @property
    def peak(self) -> int:
        return max((n for _, n in self.days), default=0)


_TALLY = SQLModel.metadata.tables["verification_tally"]
_DAY = SQLModel.metadata.tables["verification_device_day"]


def _histories(codes: set[str], daily: set[str]) -> dict[str, CodeHistory] | None:
    """Tallies of ``codes``, with device-days per day for ``daily``; None when the store cannot be read.

    Read through the check store's own engine: it may be another database than the registry.
    """
    if not codes:
        return {}
    last = today()
    first = last - timedelta(days=HISTORY_DAYS - 1)
    try:
        with counting.store_engine().connect() as conn:
            tallies = {
                r.code: r for r in conn.execute(select(_TALLY).where(_TALLY.c.code.in_(sorted(codes))))
            }
            per_day: dict[tuple[str, date], int] = {}
            if daily:
                rows = conn.execute(
                    select(_DAY.c.code, _DAY.c.day, func.count())
                    .where(_DAY.c.code.in_(sorted(daily)), _DAY.c.day >= first, _DAY.c.day <= last)
                    .group_by(_DAY.c.code, _DAY.c.day)
                )
                per_day = {(code, day): int(n) for code, day, n in rows}
    except (SQLAlchemyError, OSError):
        return None
    out = {}
    for code in codes:
        t = tallies.get(code)
        days = [(first + timedelta(days=i), per_day.get((code, first + timedelta(days=i)), 0))
                for i in range(HISTORY_DAYS)] if code in daily else []  # fmt: skip
        out[code] = CodeHistory(
            code, int(t.checks) if t else 0, int(t.device_days) if t else 0,
            aware(t.first_checked_at) if t else None, aware(t.last_checked_at) if t else None, days,
        )  # fmt: skip
    return out


def _unknown(code: str) -> CodeHistory:
    return CodeHistory(code, None, None, None, None)


def _with_before(history: CodeHistory, cert: Certificate) -> CodeHistory:
    """A certificate code's history with the checks counted before the log existed (as the page counts)."""
    if history.checks is None:
        return history
    firsts = [aware(t) for t in (cert.first_checked_at, history.first_at) if t is not None]
    lasts = [aware(t) for t in (cert.last_checked_at, history.last_at) if t is not None]
    return CodeHistory(history.code, history.checks + (cert.check_count or 0), history.device_days,
                       min(firsts, default=None), max(lasts, default=None), history.days)  # fmt: skip


# ----------------------------------------------------------------------------- grouped listing


@dataclass
class RunGroup:
    """A certificate's reports of one reported code kind: ``run_id`` None is the certificate code."""

    run_id: int | None
    total: int
    reports: list[FakeReport] = field(default_factory=list)
    #: Reported serials of the run, newest report first, each with its checks.
    serials: list[CodeHistory] = field(default_factory=list)


@dataclass
class ReportGroup:
    """A certificate's reports (``certificate`` None: the reports of codes the registry did not know)."""

    certificate: Certificate | None
    product: Product | None
    producer: Producer | None
    latest: datetime
    total: int
    runs: list[RunGroup] = field(default_factory=list)
    #: The printed certificate code's checks (None without a certificate code).
    history: CodeHistory | None = None


def _scoped(query: Any, province_id: int | None) -> Any:
    return query.where(FakeReport.province_id == province_id) if province_id is not None else query


def list_groups(
    session: Session, *, province_id: int | None, page: int = 1, per_page: int = GROUPS_PER_PAGE
) -> tuple[list[ReportGroup], Pager]:
    """A page of report groups, the group with the newest report first.

    ``province_id`` limits them to the reports routed to one current province's officials.
    """
    cert = col(FakeReport.certificate_id)
    latest = func.max(FakeReport.created_at).label("latest")
    grouped = _scoped(select(cert, latest, func.count().label("n")), province_id).group_by(cert)
    total = session.execute(select(func.count()).select_from(grouped.subquery())).scalar_one()
    pager = Pager.clamped(page, int(total), per_page)
    heads = session.execute(
        grouped.order_by(latest.desc(), cert.desc()).limit(per_page).offset(pager.offset)
    ).all()
    if not heads:
        return [], pager
    ids = [h.certificate_id for h in heads if h.certificate_id is not None]
    in_page = (
        or_(cert.in_(ids), cert.is_(None)) if any(h.certificate_id is None for h in heads) else cert.in_(ids)
    )

    records = {
        pk: (c, p, m)
        for c, p, m in session.exec(
            sm_select(Certificate, Product, Producer)
            .join(Product, col(Product.id) == Certificate.product_id)
            .join(Producer, col(Producer.id) == Product.producer_id, isouter=True)
            .where(col(Certificate.id).in_(ids))
        ).all()
        if (pk := c.id) is not None
    }
    run = col(FakeReport.label_run_id)
    counts: dict[tuple[int | None, int | None], int] = {}
    for c, r, n in session.execute(
        _scoped(select(cert, run, func.count()), province_id).where(in_page).group_by(cert, run)
    ).all():
        key = (c, r if c is not None else None)  # an unrecognised code has no run: one group
        counts[key] = counts.get(key, 0) + int(n)
    rank = func.row_number().over(partition_by=(cert, run), order_by=(col(FakeReport.created_at).desc(),
                                                                     col(FakeReport.id).desc()))  # fmt: skip
    ranked = _scoped(select(col(FakeReport.id), rank.label("rank")), province_id).where(in_page).subquery()
    shown = session.exec(
        sm_select(FakeReport)
        .join(ranked, ranked.c.id == FakeReport.id)
        .where(ranked.c.rank <= REPORTS_PER_GROUP)
        .order_by(col(FakeReport.created_at).desc(), col(FakeReport.id).desc())
    ).all()

    groups: dict[int | None, ReportGroup] = {}
    for h in heads:
        c, p, m = records.get(h.certificate_id, (None, None, None))
        groups[h.certificate_id] = ReportGroup(c, p, m, latest=aware(h.latest), total=int(h.n))
    for (c, r), n in sorted(counts.items(), key=lambda kv: (kv[0][1] is not None, -(kv[0][1] or 0))):
        if c in groups:
            groups[c].runs.append(RunGroup(r, n))
    for report in shown:
        group = groups.get(report.certificate_id)
        if group is None:
            continue
        wanted = report.label_run_id if report.certificate_id is not None else None
        target = next((g for g in group.runs if g.run_id == wanted), None)
        if target is not None:
            target.reports.append(report)
    _attach_histories(list(groups.values()))
    return list(groups.values()), pager


def _attach_histories(groups: list[ReportGroup]) -> None:
    """Each certificate code's checks and each reported serial's, from the check store."""
    cert_codes = {g.certificate.verify_code for g in groups if g.certificate and g.certificate.verify_code}
    serials: dict[int, list[str]] = {}
    for g in groups:
        for run in g.runs:
            if run.run_id is None or g.certificate is None:
                continue
            seen = serials.setdefault(id(run), [])
            for r in run.reports:
                if r.code and r.code not in seen:
                    seen.append(r.code)
    found = _histories(cert_codes | {c for run_codes in serials.values() for c in run_codes}, cert_codes)
    keys = current_app.config["VERIFY_KEYS"]
    for g in groups:
        if g.certificate is not None and g.certificate.verify_code:
            code = g.certificate.verify_code
            g.history = _with_before(found[code], g.certificate) if found is not None else _unknown(code)
        for run in g.runs:
            run.serials = []
            for c in serials.get(id(run), []):
                parsed = codes.parse_serial(c, keys)
                history = found[c] if found is not None else _unknown(c)
                run.serials.append(replace(history, serial=parsed.serial if parsed else None))
