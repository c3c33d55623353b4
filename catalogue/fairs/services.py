"""Workspace edits of fairs and showrooms and their exhibitors (ministry officials only).

Same rules as :mod:`catalogue.registry.editing`, whose helpers it uses:
permission first, then the change with an audit entry (before/after) and, when
a product's public document changes, a search-outbox row; flush, the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlmodel import Session, col, select

from catalogue.accounts.permissions import Actor, audit_actor, province_scope, require
from catalogue.audit import services as audit
from catalogue.clock import today as clock_today
from catalogue.db import pk
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.catalog import ProductSummary, load_summaries
from catalogue.registry.editing import clean_values, save_audited
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound
from catalogue.registry.records import PublishError, unique_slug
from catalogue.registry.status import current_policy, valid_sql
from catalogue.text import nfc, slugify, words_key

EVENT_FIELDS = (
    "kind",
    "name",
    "start_date",
    "end_date",
    "opening_hours",
    "venue",
    "province_id",
    "organiser",
    "booths",
    "description",
    "source",
)


def save_event(session: Session, *, actor: Actor, event: Event | None, values: Mapping[str, Any]) -> Event:
    """Create or edit a trade fair or showroom (ministry only)."""
    require(actor, "manage_events")
    data = clean_values(values, EVENT_FIELDS)
    if not data.get("name", event.name if event else None):
        raise PublishError(_("The fair or showroom needs a name."))
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        raise PublishError(_("The last day comes before the first day."))
    if event is None:
        event = Event(
            name=data["name"],
            kind=data.get("kind") or "fair",
            slug=unique_slug(session, Event, slugify(data["name"], 80)),
        )
    save_audited(session, actor, event, data, "event", data.get("province_id", event.province_id))
    return event


#: Matches listed at most; a longer list asks for more of the name instead.
MATCH_LIMIT = 20


@dataclass
class ProducerMatch:
    """A producer found by name, with the certified products it could show."""

    producer: Producer
    province: Province | None
    current_province: Province | None
    products: list[ProductSummary]
    #: Already an exhibitor at the fair the official is adding to.
    exhibiting: bool


@dataclass
class ProducerMatches:
    items: list[ProducerMatch]
    #: How many producers matched in all (more than listed when over :data:`MATCH_LIMIT`).
    total: int


def producer_matches(
    session: Session, *, actor: Actor, query: str, event: Event | None = None
) -> ProducerMatches:
    """Producers visible to ``actor`` whose name holds every word of ``query``, diacritics ignored.

    Officials pick exhibitors by name: ``gom bat trang`` finds "HTX Gốm Bát Tràng". Names
    starting with the query come first, then by name.
    """
    require(actor, "manage_events")
    words = words_key(query).split()
    if not words:
        return ProducerMatches([], 0)
    provinces = Provinces.load(session)
    rows = select(Producer.id, Producer.name)
    home = provinces.get(province_scope(actor))
    if home is not None:
        rows = rows.where(col(Producer.province_id).in_(provinces.member_ids(home)))
    keyed = [(words_key(name), pid) for pid, name in session.exec(rows).all() if pid is not None]
    wanted = " ".join(words)
    found = sorted(
        (not key.startswith(wanted), key, pid) for key, pid in keyed if all(w in key for w in words)
    )
    ids = [pid for _first, _key, pid in found[:MATCH_LIMIT]]
    producers = {p.id: p for p in session.exec(select(Producer).where(col(Producer.id).in_(ids))).all()}
    certified = _certified(session, ids)
    summaries = {s.product.id: s for s in load_summaries(session, [pid for pid, _ in certified], provinces)}
    exhibiting = set(session.exec(select(Exhibitor.producer_id).where(Exhibitor.event_id == event.id)).all()
                     if event is not None else [])  # fmt: skip
    items = []
    for pid in ids:
        producer = producers[pid]
        province = provinces.get(producer.province_id)
        shown = [
            summaries[product_id]
            for product_id, owner in certified
            if owner == pid and product_id in summaries
        ]
        items.append(
            ProducerMatch(producer, province, provinces.current_of(province), shown, pid in exhibiting)
        )
    return ProducerMatches(items, len(found))


def _certified(session: Session, producer_ids: list[int]) -> list[tuple[int, int | None]]:
    """(product id, producer id) of the producers' products holding a certificate valid today, by name:
    a revoked or expired product is no certified product to show buyers."""
    rows = session.exec(
        select(Product.name, Product.id, Product.producer_id)
        .join(Certificate, col(Certificate.product_id) == Product.id)
        .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .where(col(Product.producer_id).in_(producer_ids), valid_sql(clock_today(), current_policy()))
        .distinct()
        .order_by(col(Product.name), col(Product.id))
    ).all()
    return [(pk_, owner) for _name, pk_, owner in rows if pk_ is not None]


def certified_products(session: Session, producer: Producer) -> list[Product]:
    """The producer's products that hold a certificate valid today: what it may show at a fair."""
    ids = [pid for pid, _owner in _certified(session, [pk(producer)])]
    found = {p.id: p for p in session.exec(select(Product).where(col(Product.id).in_(ids))).all()}
    return [found[pid] for pid in ids]


def add_exhibitor(
    session: Session,
    *,
    actor: Actor,
    event: Event,
    producer: Producer,
    booth: str | None,
    products: list[Product],
) -> Exhibitor:
    """Add a producer to a fair or showroom with its booth and the products it shows."""
    require(actor, "manage_events")
    foreign = [p.name for p in products if p.producer_id != producer.id]
    if foreign:
        raise PublishError(_("These products are not the producer's: %(names)s.", names=", ".join(foreign)))
    already = select(Exhibitor.id).where(Exhibitor.event_id == event.id, Exhibitor.producer_id == producer.id)
    if session.exec(already).first() is not None:
        raise PublishError(
            _(
                "%(name)s already exhibits here; remove it first to change its booth or products.",
                name=producer.name,
            )
        )
    exhibitor = Exhibitor(event_id=pk(event), producer_id=pk(producer), booth=nfc(booth)[:50] or None)
    session.add(exhibitor)
    session.flush()
    for product in products:
        session.add(Exhibit(exhibitor_id=pk(exhibitor), product_id=pk(product)))
        audit.enqueue_reindex(session, pk(product))
    audit.record(
        session,
        **audit_actor(actor),
        action="add_exhibitor",
        entity_type="event",
        entity_id=event.id,
        summary=f"{event.name}: {producer.name}",
        changes={
            "exhibitor": [
                None,
                {"producer_id": producer.id, "booth": exhibitor.booth, "products": [p.id for p in products]},
            ]
        },
        province_id=Provinces.load(session).current_id(event.province_id),
    )
    session.flush()
    return exhibitor


def remove_exhibitor(session: Session, *, actor: Actor, exhibitor: Exhibitor) -> None:
    """Take a producer and the products it showed off a fair or showroom."""
    require(actor, "manage_events")
    event = session.get(Event, exhibitor.event_id)
    shown = session.exec(select(Exhibit).where(Exhibit.exhibitor_id == exhibitor.id)).all()
    product_ids = [x.product_id for x in shown]
    for exhibit in shown:
        session.delete(exhibit)
    audit.record(
        session,
        **audit_actor(actor),
        action="remove_exhibitor",
        entity_type="event",
        entity_id=exhibitor.event_id,
        summary=event.name if event else None,
        changes={
            "exhibitor": [
                {"producer_id": exhibitor.producer_id, "booth": exhibitor.booth, "products": product_ids},
                None,
            ]
        },
        province_id=Provinces.load(session).current_id(event.province_id if event else None),
    )
    session.delete(exhibitor)
    for product_id in product_ids:
        audit.enqueue_reindex(session, product_id)
    session.flush()
