"""Consumers' reports of suspected fakes: stored for, and listed to, the officials of the province."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col
from sqlmodel import select as sm_select

from catalogue.registry.models import Certificate, Product
from catalogue.verification.models import FakeReport
from catalogue.verification.services import CertificateCheck


def report_fake(
    session: Session,
    *,
    what: str,
    where: str | None,
    code: str | None,
    check: CertificateCheck | None,
    province_id: int | None = None,
    photo_key: str | None = None,
) -> FakeReport:
    """Store a consumer's report for the officials of the certificate's current province.

    For an unrecognised code there is no certificate; the reporter may name the
    province instead. Flushes, never commits.
    """
    report = FakeReport(
        certificate_id=check.id if check else None,
        code=(code or "")[:60] or None,
        province_id=check.current_province_id if check and check.current_province_id else province_id,
        what=what.strip()[:2000],
        where=(where or "").strip()[:500] or None,
        photo_key=photo_key,
    )
    session.add(report)
    session.flush()
    return report


@dataclass
class ReportRow:
    report: FakeReport
    product_name: str | None
    product_slug: str | None
    certificate_number: str | None


def list_reports(session: Session, *, province_id: int | None, limit: int = 200) -> list[ReportRow]:
    """Newest reports first; ``province_id`` limits them to one current province's officials."""
    query = (
        sm_select(FakeReport, Product.name, Product.slug, Certificate.number)
        .join(Certificate, col(Certificate.id) == FakeReport.certificate_id, isouter=True)
        .join(Product, col(Product.id) == Certificate.product_id, isouter=True)
        .order_by(col(FakeReport.created_at).desc(), col(FakeReport.id).desc())
        .limit(limit)
    )
    if province_id is not None:
        query = query.where(FakeReport.province_id == province_id)
    return [ReportRow(r, name, slug, number) for r, name, slug, number in session.exec(query).all()]
