"""Which office owns a record: the facts :func:`permissions.may_touch` decides on.

DESIGN §2: a producer or product belongs to the current province of its
producer (a product without a producer, to its own province); a certificate
or round of a local level (district, commune, provincial) to the Sở Công
Thương of its province; a regional or national one to the ministry. Every
write path — forms, the import's dry run and publish, the CLI — asks here,
so a same-name match can never lend an actor another office's record;
:func:`require_product` is the workspace's check before it changes a product.
"""

from __future__ import annotations

from sqlmodel import Session

from catalogue.accounts.permissions import MINISTRY_LEVELS, Actor, Owner, require, require_touch
from catalogue.db import get_row
from catalogue.places.services import MINISTRY_OFFICE, Provinces, office_of
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound
from catalogue.vocab import Level


def province_owner(provinces: Provinces, province_id: int | None) -> Owner:
    """The office of a province (any unit, pre-2025 ones count as their successor)."""
    current = provinces.current_of(provinces.get(province_id))
    return Owner(province_id=current.id if current else None, label=office_of(current))


def ministry_owner() -> Owner:
    return Owner(province_id=None, ministry=True, label=MINISTRY_OFFICE, certified=True)


def producer_owner(provinces: Provinces, producer: Producer) -> Owner:
    return province_owner(provinces, producer.province_id)


def product_owner(session: Session, provinces: Provinces, product: Product) -> Owner:
    """A product belongs to its producer's province; without a producer, to its own."""
    producer = get_row(session, Producer, product.producer_id)
    if producer is not None and producer.province_id is not None:
        return producer_owner(provinces, producer)
    return province_owner(provinces, product.province_id)


def record_owner(session: Session, provinces: Provinces, record: Producer | Product) -> Owner:
    """The owner of a producer or a product, whichever ``record`` is (merges handle both alike)."""
    if isinstance(record, Producer):
        return producer_owner(provinces, record)
    return product_owner(session, provinces, record)


def level_owner(provinces: Provinces, level: Level | str, province_id: int | None) -> Owner:
    """The issuing office of a certificate or round of ``level`` in ``province_id``."""
    if Level(level) in MINISTRY_LEVELS:
        return ministry_owner()
    office = province_owner(provinces, province_id)
    return Owner(office.province_id, label=office.label, certified=True)


def round_owner(provinces: Provinces, round_: SelectionRound) -> Owner:
    return level_owner(provinces, round_.level, round_.province_id)


def certificate_owner(session: Session, provinces: Provinces, certificate: Certificate) -> Owner:
    round_ = get_row(session, SelectionRound, certificate.round_id)
    assert round_ is not None
    return level_owner(provinces, round_.level, round_.province_id or certificate.province_id)


def require_product(session: Session, actor: Actor, product: Product) -> None:
    """Refuse unless ``actor`` may change ``product`` (its producer's province decides)."""
    require(actor, "use_workspace")
    require_touch(actor, product_owner(session, Provinces.load(session), product))
