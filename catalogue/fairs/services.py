"""Workspace edits of fairs and showrooms and their exhibitors (ministry officials only).

Same rules as :mod:`catalogue.registry.editing`, whose helpers it uses:
permission first, then the change with an audit entry (before/after) and, when
a product's public document changes, a search-outbox row; flush, the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlmodel import Session, select

from catalogue.accounts.permissions import Actor, audit_actor, require
from catalogue.audit import services as audit
from catalogue.db import pk
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.places.services import Provinces
from catalogue.registry.editing import clean_values, save_audited
from catalogue.registry.models import Producer, Product
from catalogue.registry.records import PublishError, unique_slug
from catalogue.text import nfc, slugify

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
