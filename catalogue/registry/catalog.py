"""Read models for public pages, search results, the API and CSV.

One loader turns product ids into :class:`ProductSummary` objects in the order
given (search returns ids; the database returns rows in that order), with a
fixed number of queries whatever the page size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from catalogue.clock import today as clock_today
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.gtins import gtins_by_product
from catalogue.registry.models import Certificate, Photo, Producer, Product, SelectionRound
from catalogue.registry.status import Policy, Standing, certificate_standing, current_policy
from catalogue.vocab import CertificateStatus, Level, ProducerKind, ProductGroup, Region


@dataclass
class CertificateView:
    cert: Certificate
    round: SelectionRound
    level: Level
    region: Region | None
    status: CertificateStatus
    province: Province | None
    current_province: Province | None
    #: Status with its basis (decision or the registry's assumed validity) and effective expiry.
    standing: Standing | None = None

    @property
    def year(self) -> int:
        return self.round.year

    def sort_key(self) -> tuple[int, int, int]:
        """Valid first, then highest level, then newest."""
        return (0 if self.status is CertificateStatus.VALID else 1, -self.level.rank, -self.year)


@dataclass
class ProductSummary:
    product: Product
    producer: Producer | None
    province: Province | None
    current_province: Province | None
    certificates: list[CertificateView] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)
    #: GTIN-14s printed on the package (:mod:`catalogue.registry.gtins`), in the order added.
    gtins: list[str] = field(default_factory=list)

    @property
    def best(self) -> CertificateView | None:
        """The certificate to show first: highest valid level, else the most recent."""
        return self.certificates[0] if self.certificates else None

    @property
    def group(self) -> ProductGroup | None:
        return ProductGroup(self.product.group) if self.product.group else None

    @property
    def producer_kind(self) -> ProducerKind | None:
        return ProducerKind(self.producer.kind) if self.producer and self.producer.kind else None

    @property
    def province_changed(self) -> bool:
        return bool(self.province and self.current_province and self.province.id != self.current_province.id
                    and self.province.short_name != self.current_province.short_name)  # fmt: skip

    @property
    def photo(self) -> Photo | None:
        return self.photos[0] if self.photos else None


def certificate_views(
    session: Session,
    certs: list[Certificate],
    provinces: Provinces,
    today: date | None = None,
    policy: Policy | None = None,
) -> list[CertificateView]:
    """Wrap certificates with their round and the status derived for ``today``."""
    day = today or clock_today()
    policy = policy or current_policy(session)
    round_ids = {c.round_id for c in certs}
    rounds = {
        r.id: r
        for r in session.exec(select(SelectionRound).where(col(SelectionRound.id).in_(round_ids))).all()
    } if round_ids else {}  # fmt: skip
    views = []
    for cert in certs:
        round_ = rounds[cert.round_id]
        province = provinces.get(cert.province_id)
        standing = certificate_standing(cert, round_.level, round_.year, policy, day)
        views.append(CertificateView(
            cert=cert, round=round_, level=Level(round_.level),
            region=Region(round_.region) if round_.region else None,
            status=standing.status, province=province,
            current_province=provinces.current_of(province), standing=standing,
        ))  # fmt: skip
    return sorted(views, key=CertificateView.sort_key)


def load_summaries(
    session: Session,
    product_ids: list[int],
    provinces: Provinces | None = None,
    today: date | None = None,
    policy: Policy | None = None,
) -> list[ProductSummary]:
    """Summaries for ``product_ids`` in that order (unknown ids are skipped)."""
    if not product_ids:
        return []
    provinces = provinces or Provinces.load(session)
    products = {p.id: p for p in session.exec(select(Product).where(col(Product.id).in_(product_ids))).all()}
    producer_ids = {p.producer_id for p in products.values() if p.producer_id}
    producers = {
        p.id: p for p in session.exec(select(Producer).where(col(Producer.id).in_(producer_ids))).all()
    } if producer_ids else {}  # fmt: skip
    certs = session.exec(select(Certificate).where(col(Certificate.product_id).in_(product_ids))).all()
    views = certificate_views(session, list(certs), provinces, today, policy)
    photos = session.exec(
        select(Photo)
        .where(col(Photo.product_id).in_(product_ids))
        .order_by(col(Photo.position), col(Photo.id))
    ).all()
    gtins = gtins_by_product(session, product_ids)
    out = []
    for pid in product_ids:
        product = products.get(pid)
        if product is None:
            continue
        province = provinces.get(product.province_id)
        out.append(ProductSummary(
            product=product,
            producer=producers.get(product.producer_id) if product.producer_id else None,
            province=province,
            current_province=provinces.current_of(province),
            certificates=[v for v in views if v.cert.product_id == pid],
            photos=[ph for ph in photos if ph.product_id == pid],
            gtins=gtins.get(pid, []),
        ))  # fmt: skip
    return out


def verify_url(base_url: str, code: str | None) -> str | None:
    """The printed, never-changing verification URL of a code."""
    return f"{base_url.rstrip('/')}/v/{code}" if code else None
