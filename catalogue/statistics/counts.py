"""The numbers behind ``/statistics``: certificates counted four ways, for a search's filters.

A certificate is one product certified at one level in one year. Filters mean what they mean
in search (:mod:`catalogue.search.facets`): group, province (the product's current unit, a
pre-2025 province counting in its successor) and the words ``q`` choose products; level,
region, year and status choose certificates. So ``level=quoc_gia`` counts national
certificates only, and the products counted are exactly those search lists for the same
filters (with ``status=all`` when no status is chosen).

Counting is one grouped SQL query over certificates (fast at 100,000 rows), status derived on
the day asked about by the registry's rule (:func:`catalogue.registry.status.valid_sql`).
Words need the search index: :func:`catalogue.search.query.run` gives the matching products,
and the same grouped query is run over them in chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import distinct, func, select
from sqlmodel import Session, col

from catalogue.db import chunks
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Product, SelectionRound
from catalogue.registry.status import Policy, status_sql
from catalogue.search import filters_sql
from catalogue.search.params import SearchParams
from catalogue.search.query import run
from catalogue.text import fold
from catalogue.vocab import Level

#: Product ids bound in one query (well under every database's parameter limit).
CHUNK = 20_000
#: Asks the search for every matching product, not a page.
EVERY_MATCH = 10**9


@dataclass
class Statistics:
    """Certificate counts by year × level, current province, group and status."""

    certificates: int = 0
    #: Products with at least one counted certificate.
    products: int = 0
    #: ``(year, level value) → count``.
    year_level: Counter[tuple[int, str]] = field(default_factory=Counter)
    #: Current province id → count (``None``: the product's province is unknown).
    province: Counter[int | None] = field(default_factory=Counter)
    #: Product group value → count (``""``: not yet classified).
    group: Counter[str] = field(default_factory=Counter)
    #: Status value → count.
    status: Counter[str] = field(default_factory=Counter)

    @property
    def years(self) -> list[int]:
        return sorted({year for year, _ in self.year_level})

    @property
    def levels(self) -> list[Level]:
        """Levels with certificates, highest first (as every list of levels is shown)."""
        return Level.by_rank({Level(level) for _, level in self.year_level})

    def year_total(self, year: int) -> int:
        return sum(n for (y, _), n in self.year_level.items() if y == year)

    def level_total(self, level: Level) -> int:
        return sum(n for (_, lv), n in self.year_level.items() if lv == level.value)

    def by_province(self, provinces: Provinces) -> list[tuple[Province, int]]:
        """Every current province, 0 included, most certificates first (ties by name)."""
        rows = [(p, self.province.get(p.id, 0)) for p in provinces.current()]
        return sorted(rows, key=lambda row: (-row[1], fold(row[0].short_name)))

    def add(self, other: Statistics) -> None:
        self.certificates += other.certificates
        self.products += other.products
        self.year_level.update(other.year_level)
        self.province.update(other.province)
        self.group.update(other.group)
        self.status.update(other.status)


def _count(session: Session, params: SearchParams, provinces: Provinces, day: date, policy: Policy,
           product_ids: Sequence[int] | None) -> Statistics:  # fmt: skip
    """One grouped query (plus a distinct count of products) over the filtered certificates."""
    where = filters_sql.conditions(params, provinces)
    if product_ids is not None:
        where.append(col(Certificate.product_id).in_(product_ids))
    # A subquery names the status column, so that grouping and filtering by it work on every database.
    rows = (
        select(
            col(Certificate.product_id).label("product_id"),
            col(SelectionRound.year).label("year"),
            col(SelectionRound.level).label("level"),
            col(Product.province_id).label("province_id"),
            col(Product.group).label("grp"),
            status_sql(day, policy).label("status"),
        )
        .select_from(Certificate)
        .join(SelectionRound, col(SelectionRound.id) == col(Certificate.round_id))
        .join(Product, col(Product.id) == col(Certificate.product_id))
        .where(*where)
        .subquery()
    )
    chosen = [rows.c.status.in_(params.statuses)] if params.statuses else []
    grouped = (
        select(rows.c.year, rows.c.level, rows.c.province_id, rows.c.grp, rows.c.status, func.count())
        .where(*chosen)
        .group_by(rows.c.year, rows.c.level, rows.c.province_id, rows.c.grp, rows.c.status)
    )
    stats = Statistics()
    for year, level, province_id, group, status, n in session.execute(grouped):
        stats.certificates += n
        stats.year_level[(int(year), str(level))] += n
        stats.province[provinces.current_id(province_id)] += n
        stats.group[group or ""] += n
        stats.status[str(status)] += n
    stats.products = int(
        session.execute(select(func.count(distinct(rows.c.product_id))).where(*chosen)).scalar_one()
    )
    return stats


def compute(
    session: Session, params: SearchParams, provinces: Provinces, day: date, policy: Policy
) -> Statistics:
    """The statistics of the certificates ``params`` choose, with status as of ``day``.

    Without words the database answers alone (no index needed); with words the search
    finds the products first (may raise :class:`~catalogue.search.reader.IndexBuilding`).
    """
    if not params.q:
        return _count(session, params, provinces, day, policy, None)
    ids = run(params, today=day, limit=EVERY_MATCH).ids
    stats = Statistics()
    for chunk in chunks(sorted(ids), CHUNK):
        stats.add(_count(session, params, provinces, day, policy, chunk))
    return stats


def years_on_record(session: Session) -> list[int]:
    """Every year a selection round is recorded for, newest first (the filter form's choices)."""
    years: Iterable[int] = session.execute(select(col(SelectionRound.year)).distinct()).scalars()
    return sorted({int(y) for y in years}, reverse=True)
