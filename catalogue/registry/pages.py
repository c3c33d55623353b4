"""Read-only queries behind the registry's public pages: home, product, producer, province and round.

Views stay thin: each page asks one function here for a plain dataclass. Counts
are computed with grouped SQL so the home page stays cheap at 100,000 products;
product lists are paginated and rendered from :func:`load_summaries`. What the
fairs add to these pages comes from :mod:`catalogue.registry.parts`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import case, func, literal_column
from sqlmodel import Session, col, select

from catalogue.db import pk
from catalogue.paging import Pager
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.catalog import ProductSummary, load_summaries
from catalogue.registry.models import Certificate, ImportBatch, Producer, Product, SelectionRound
from catalogue.registry.status import Policy, current_policy, valid_sql
from catalogue.text import fold
from catalogue.vocab import Level, ProductGroup, Region

PER_PAGE = 40


# ----------------------------------------------------------------------------- helpers


def valid_on(day: date, policy: Policy | None = None) -> Any:
    """SQL condition for "valid on ``day``": the one status rule (:func:`status.valid_sql`),
    with the assumed validity in effect that day. Needs ``certificate`` joined with its
    ``selection_round``."""
    return valid_sql(day, policy or current_policy())


@dataclass
class Page(Pager):
    """One page of product summaries out of ``total``."""

    items: list[ProductSummary] = field(default_factory=list)


def _page_of_products(
    session: Session, condition: Any, page: int, provinces: Provinces, per_page: int = PER_PAGE
) -> Page:
    """Products matching ``condition`` ordered by name, one page of them."""
    total = session.exec(select(func.count()).select_from(Product).where(condition)).one()
    pager = Pager.clamped(page, total, per_page)
    ids = session.exec(
        select(Product.id).where(condition).order_by(Product.name, col(Product.id))
        .offset(pager.offset).limit(per_page)
    ).all()  # fmt: skip
    product_ids = [pid for pid in ids if pid is not None]
    return Page(pager.number, total, per_page, load_summaries(session, product_ids, provinces))


def source_parts(text: str | None) -> list[tuple[str, str | None]]:
    """Split a provenance string ("url ; url", "url (note)" or a note) into ``(label, href)`` pairs.

    Only http(s) addresses become links, up to the first space; what follows an address (the
    seed's remarks on that source) stays text beside it.
    """
    parts: list[tuple[str, str | None]] = []
    for raw in (text or "").split(" ; "):
        part = raw.strip()
        if not part:
            continue
        if part.startswith(("http://", "https://")):
            address, _, note = part.partition(" ")
            host = address.split("/", 3)[2] if address.count("/") >= 2 else address
            parts.append((host.removeprefix("www."), address))
            if note.strip():
                parts.append((note.strip(), None))
        else:
            parts.append((part, None))
    return parts


# ----------------------------------------------------------------------------- home


@dataclass
class LevelCount:
    level: Level
    valid: int
    total: int


def level_counts(session: Session, today: date, product_condition: Any = None) -> list[LevelCount]:
    """Certificates at each level, valid today and in all, highest level first.

    Counted per round over the certificate table's round index, then summed by
    level in Python (rounds are few), so the home page stays fast at 100k rows.
    """
    # "+ 0" keeps SQLite from walking the round_id index row by row (random reads:
    # 95 ms at 100k certificates) instead of one sequential scan (35 ms); harmless on PG.
    round_key = col(Certificate.round_id) + literal_column("0")
    query = (
        select(
            SelectionRound.level,
            func.sum(case((valid_on(today), 1), else_=0)),
            func.count(),
        )
        .join(SelectionRound, col(SelectionRound.id) == round_key)
        .group_by(round_key, SelectionRound.level)
    )
    if product_condition is not None:
        query = query.join(Product, col(Product.id) == Certificate.product_id).where(product_condition)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for level, valid, total in session.exec(query).all():  # the round's level comes with its counts
        counts[level][0] += int(valid or 0)
        counts[level][1] += total
    return [LevelCount(lv, *counts[lv.value]) for lv in Level.by_rank()
            if lv.value in counts]  # fmt: skip


@dataclass
class Home:
    products: int
    producers: int
    valid_certificates: int
    levels: list[LevelCount]
    provinces: list[tuple[Province, int]]
    groups: list[tuple[ProductGroup | None, int]]
    latest_year: int | None
    latest_rounds: list[SelectionRound]
    latest: list[ProductSummary]


def home(session: Session, provinces: Provinces, today: date, top: int = 10, latest: int = 6) -> Home:
    """Everything the home page shows, in a fixed number of grouped queries."""
    products = session.exec(select(func.count()).select_from(Product)).one()
    producers = session.exec(select(func.count()).select_from(Producer)).one()

    levels = level_counts(session, today)
    valid_total = sum(c.valid for c in levels)

    per_current: dict[int, int] = defaultdict(int)
    for province_id, count in session.exec(
        select(Product.province_id, func.count()).group_by(col(Product.province_id))
    ).all():
        current = provinces.current_of(provinces.get(province_id))
        if current is not None and current.id is not None:
            per_current[current.id] += count
    top_provinces = sorted(
        ((provinces.by_id[pid], n) for pid, n in per_current.items()),
        key=lambda pn: (-pn[1], fold(pn[0].short_name)),
    )[:top]

    group_counts = dict(session.exec(select(Product.group, func.count()).group_by(Product.group)).all())
    groups: list[tuple[ProductGroup | None, int]] = [(g, group_counts[g.value]) for g in ProductGroup
                                                    if group_counts.get(g.value)]  # fmt: skip
    if group_counts.get(None):
        groups.append((None, group_counts[None]))

    latest_year = session.exec(
        select(func.max(SelectionRound.year)).where(col(SelectionRound.id).in_(select(Certificate.round_id)))
    ).one()
    latest_rounds: list[SelectionRound] = []
    latest_items: list[ProductSummary] = []
    if latest_year is not None:
        latest_rounds = sorted(
            session.exec(select(SelectionRound).where(SelectionRound.year == latest_year)).all(),
            key=lambda r: (-Level(r.level).rank, r.slug),
        )
        ids = session.exec(
            select(Certificate.product_id)
            .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
            .where(SelectionRound.year == latest_year)
            .order_by(col(Certificate.id).desc()).limit(latest)
        ).all()  # fmt: skip
        latest_items = load_summaries(session, list(dict.fromkeys(ids)), provinces)

    return Home(products, producers, valid_total, levels, top_provinces, groups,
                latest_year, latest_rounds, latest_items)  # fmt: skip


# ----------------------------------------------------------------------------- product


@dataclass
class ProductPage:
    summary: ProductSummary
    #: batch id → the batch (office and decision) that published a certificate.
    batches: dict[int, ImportBatch]


def product_page(session: Session, slug: str, provinces: Provinces, today: date) -> ProductPage | None:
    product_id = session.exec(select(Product.id).where(Product.slug == slug)).first()
    if product_id is None:
        return None
    summary = load_summaries(session, [product_id], provinces, today)[0]
    batch_ids = {v.cert.batch_id for v in summary.certificates if v.cert.batch_id}
    batches = {
        pk(b): b for b in session.exec(select(ImportBatch).where(col(ImportBatch.id).in_(batch_ids))).all()
    } if batch_ids else {}  # fmt: skip
    return ProductPage(summary, batches)


# ----------------------------------------------------------------------------- producer


@dataclass
class ProducerPage:
    producer: Producer
    province: Province | None
    current_province: Province | None
    #: Every product of the producer, whatever its certificates' status, a page at a time.
    page: Page

    @property
    def products(self) -> list[ProductSummary]:
        return self.page.items


def producer_page(session: Session, slug: str, provinces: Provinces, today: date,
                  page: int = 1) -> ProducerPage | None:  # fmt: skip
    producer = session.exec(select(Producer).where(Producer.slug == slug)).first()
    if producer is None:
        return None
    province = provinces.get(producer.province_id)
    products = _page_of_products(session, col(Product.producer_id) == producer.id, page, provinces)
    return ProducerPage(producer, province, provinces.current_of(province), products)


# ----------------------------------------------------------------------------- provinces


@dataclass
class ProvinceEntry:
    province: Province
    former: list[Province]
    products: int


def province_list(session: Session, provinces: Provinces) -> list[ProvinceEntry]:
    """The 34 current units by name, each with its former units and product count."""
    counts: dict[int, int] = defaultdict(int)
    for province_id, count in session.exec(
        select(Product.province_id, func.count()).group_by(col(Product.province_id))
    ).all():
        current = provinces.current_of(provinces.get(province_id))
        if current is not None and current.id is not None:
            counts[current.id] += count
    return sorted(
        (ProvinceEntry(p, provinces.predecessors(p), counts.get(p.id or 0, 0)) for p in provinces.current()),
        key=lambda e: fold(e.province.short_name),
    )


@dataclass
class ProvincePage:
    province: Province
    #: For a current unit: the units it was formed from. For a former one: empty.
    former: list[Province]
    #: For a former unit: the current unit it became part of.
    successor: Province | None
    levels: list[LevelCount]
    page: Page


def province_page(
    session: Session, slug: str, provinces: Provinces, today: date, page: int = 1
) -> ProvincePage | None:
    """A current unit covers its predecessors' products; a former unit shows only its own."""
    province = next((p for p in provinces.rows if p.slug == slug), None)
    if province is None:
        return None
    if province.is_current:
        ids = provinces.member_ids(province)
        former = [p for p in provinces.predecessors(province)]
        successor = None
    else:
        ids = {pk(province)}
        former = []
        successor = provinces.current_of(province)
    condition = col(Product.province_id).in_(ids)
    levels = level_counts(session, today, condition)
    return ProvincePage(province, former, successor, levels,
                        _page_of_products(session, condition, page, provinces))  # fmt: skip


# ----------------------------------------------------------------------------- rounds


@dataclass
class RoundEntry:
    round: SelectionRound
    level: Level
    region: Region | None
    province: Province | None
    certificates: int


def _round_entry(r: SelectionRound, provinces: Provinces, count: int) -> RoundEntry:
    return RoundEntry(r, Level(r.level), Region(r.region) if r.region else None,
                      provinces.get(r.province_id), count)  # fmt: skip


def round_list(session: Session, provinces: Provinces) -> list[RoundEntry]:
    """Every round, newest year first, highest level first within a year."""
    counts = dict(session.exec(
        select(Certificate.round_id, func.count()).group_by(col(Certificate.round_id))
    ).all())  # fmt: skip
    rounds = session.exec(select(SelectionRound)).all()
    entries = [_round_entry(r, provinces, counts.get(pk(r), 0)) for r in rounds]
    return sorted(entries, key=lambda e: (-e.round.year, -e.level.rank, e.round.slug))


@dataclass
class RoundPage:
    entry: RoundEntry
    page: Page


def round_page(session: Session, slug: str, provinces: Provinces, page: int = 1) -> RoundPage | None:
    round_ = session.exec(select(SelectionRound).where(SelectionRound.slug == slug)).first()
    if round_ is None:
        return None
    count = session.exec(
        select(func.count()).select_from(Certificate).where(Certificate.round_id == round_.id)
    ).one()
    condition = col(Product.id).in_(select(Certificate.product_id).where(Certificate.round_id == round_.id))
    return RoundPage(_round_entry(round_, provinces, count),
                     _page_of_products(session, condition, page, provinces))  # fmt: skip
