"""A search's filters as SQL over certificates joined with their product and round.

For the pages that count or list straight from the database with the search's filters
(statistics, Atom feeds): the same values, and the same meaning as the index gives them
(:func:`catalogue.search.schema.document_for`); words and status stay with the caller.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col

from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Product, SelectionRound
from catalogue.search.facets import UNCLASSIFIED
from catalogue.search.params import SearchParams


def region_sql(regions: tuple[str, ...], provinces: Provinces) -> Any:
    """A certificate's region as search indexes it (:func:`catalogue.search.schema.document_for`):
    the round's, else the current unit's of the certificate's province, else of the product's."""
    known = [p.id for p in provinces.rows if provinces.current_of(p) is not None]
    inside = [
        p.id for p in provinces.rows if (c := provinces.current_of(p)) is not None and c.region in regions
    ]
    no_round_region = or_(col(SelectionRound.region).is_(None), col(SelectionRound.region) == "")
    cert_province_unknown = or_(
        col(Certificate.province_id).is_(None), col(Certificate.province_id).not_in(known)
    )
    return or_(
        col(SelectionRound.region).in_(regions),
        and_(
            no_round_region,
            or_(
                col(Certificate.province_id).in_(inside),
                and_(cert_province_unknown, col(Product.province_id).in_(inside)),
            ),
        ),
    )


def conditions(params: SearchParams, provinces: Provinces) -> list[Any]:
    """SQL for every filter but the words and status (a computed column, filtered by the caller)."""
    where: list[Any] = []
    if params.groups:
        named: list[Any] = [col(Product.group).in_([g for g in params.groups if g != UNCLASSIFIED])]
        if UNCLASSIFIED in params.groups:
            named.append(or_(col(Product.group).is_(None), col(Product.group) == ""))
        where.append(or_(*named))
    if params.provinces:
        members: set[int] = set()
        for slug in params.provinces:
            current = provinces.match_current(slug)
            if current is not None:
                members |= provinces.member_ids(current)
        where.append(col(Product.province_id).in_(members))
    if params.levels:
        where.append(col(SelectionRound.level).in_(params.levels))
    if params.regions:
        where.append(region_sql(params.regions, provinces))
    if params.years:
        where.append(col(SelectionRound.year).in_(params.years))
    return where
