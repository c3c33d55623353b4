"""Workspace edits of producers, products and selection rounds.

Each service checks permission first, then makes the change with an audit entry
(before/after) and, when a product's public document changes, a search-outbox
row; it flushes, the caller commits. :func:`clean_values` and :func:`save_audited`
serve the fairs' edits too (:mod:`catalogue.fairs.services`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlmodel import Session, select

from catalogue.accounts import permissions
from catalogue.accounts.permissions import Actor, audit_actor, require
from catalogue.audit import services as audit
from catalogue.clock import utcnow
from catalogue.db import pk
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry import ownership
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound
from catalogue.registry.records import PublishError, unique_slug
from catalogue.text import nfc, slugify
from catalogue.vocab import Level

PRODUCER_FIELDS = (
    "name",
    "kind",
    "address",
    "commune",
    "province_id",
    "phone",
    "email",
    "website",
    "contacts_public",
    "source",
)
PRODUCT_FIELDS = (
    "name",
    "is_set",
    "components",
    "group",
    "description",
    "producer_id",
    "locality",
    "province_id",
)
ROUND_FIELDS = (
    "level",
    "region",
    "year",
    "province_id",
    "locality",
    "edition",
    "organiser",
    "issuing_authority",
    "decision_number",
    "decision_date",
    "source",
)


def clean_values(values: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """The ``allowed`` fields of a form's values, text NFC-normalised and blank text as ``None``."""
    out = {}
    for key in allowed:
        if key in values:
            value = values[key]
            out[key] = (nfc(value) or None) if isinstance(value, str) else value
    return out


def save_audited(
    session: Session, actor: Actor, obj: Any, values: dict[str, Any], entity: str, province_id: int | None
) -> dict[str, list[Any]]:
    """Apply values to a new or existing row and audit the difference (also for the fairs' rows)."""
    creating = obj.id is None
    before = {k: (None if creating else getattr(obj, k)) for k in values}
    changes = audit.diff(before, values)
    if not changes and not creating:
        return {}
    for key, value in values.items():
        setattr(obj, key, value)
    if hasattr(obj, "updated_at") and not creating:
        obj.updated_at = utcnow()
    session.add(obj)
    session.flush()
    audit.record(
        session,
        **audit_actor(actor),
        action="create" if creating else "update",
        entity_type=entity,
        entity_id=obj.id,
        changes=changes,
        summary=getattr(obj, "name", None) or getattr(obj, "slug", None),
        province_id=Provinces.load(session).current_id(province_id),
    )
    moved_from = Provinces.load(session).current_id(before.get("province_id"))
    if "province_id" in changes and moved_from not in (None, Provinces.load(session).current_id(province_id)):
        # A record moved between provinces touches both: each office sees the entry.
        audit.record(
            session,
            **audit_actor(actor),
            action="update",
            entity_type=entity,
            entity_id=obj.id,
            changes=changes,
            summary=getattr(obj, "name", None) or getattr(obj, "slug", None),
            province_id=moved_from,
        )
    return changes


def _province(session: Session, province_id: int | None) -> Province | None:
    return session.get(Province, province_id) if province_id else None


def save_producer(
    session: Session, *, actor: Actor, producer: Producer | None, values: Mapping[str, Any]
) -> Producer:
    """Create or edit a producer; both the old and the new province must be the official's."""
    data = clean_values(values, PRODUCER_FIELDS)
    if producer is not None:
        require(actor, "edit_producer", province=_province(session, producer.province_id))
    require(
        actor,
        "edit_producer",
        province=_province(session, data.get("province_id", producer.province_id if producer else None)),
    )
    if not data.get("name", producer.name if producer else None):
        raise PublishError(_("The producer needs a name."))
    if producer is None:
        producer = Producer(name=data["name"], slug=unique_slug(session, Producer, slugify(data["name"], 80)))
    data["contacts_public"] = bool(data.get("contacts_public", producer.contacts_public))
    if not save_audited(
        session, actor, producer, data, "producer", producer.province_id or data.get("province_id")
    ):
        return producer  # saved untouched: nothing to reindex
    for product_id in session.exec(select(Product.id).where(Product.producer_id == producer.id)).all():
        if product_id is not None:  # always, for a stored row: the model types a new row's id
            audit.enqueue_reindex(session, product_id)
    return producer


def save_product(
    session: Session, *, actor: Actor, product: Product | None, values: Mapping[str, Any]
) -> Product:
    """Create or edit a product within the official's province."""
    data = clean_values(values, PRODUCT_FIELDS)
    provinces = Provinces.load(session)
    if product is not None:
        ownership.require_product(session, actor, product)
    target = data.get("province_id", product.province_id if product else None)
    require(actor, "edit_product", province=_province(session, target))
    if not data.get("name", product.name if product else None):
        raise PublishError(_("The product needs a name."))
    if data.get("producer_id") and data["producer_id"] != (product.producer_id if product else None):
        producer = session.get(Producer, data["producer_id"])
        if producer is None:
            raise PublishError(_("Unknown producer."))
        # Attaching a product to a producer changes what that producer's page shows.
        permissions.require_touch(actor, ownership.producer_owner(provinces, producer))
    if product is None:
        product = Product(name=data["name"], slug=unique_slug(session, Product, slugify(data["name"], 80)))
    if data.get("group") is not None and (product is None or data["group"] != product.group):
        # An official's own choice of group is no longer the editors' assignment.
        data["group_assigned"] = False
    if save_audited(session, actor, product, data, "product", target):
        audit.enqueue_reindex(session, pk(product))
    return product


def _round_level(values: Mapping[str, Any], round_: SelectionRound | None) -> str | None:
    level = values.get("level", round_.level if round_ else None)
    return level.value if isinstance(level, Level) else level


def save_round(
    session: Session, *, actor: Actor, round_: SelectionRound | None, values: Mapping[str, Any]
) -> SelectionRound:
    """Create or edit a selection round; the level decides which office may."""
    data = clean_values(values, ROUND_FIELDS)
    if isinstance(data.get("level"), Level):
        data["level"] = data["level"].value
    if round_ is not None:
        require(actor, "edit_round", province=_province(session, round_.province_id), level=round_.level)
    level = _round_level(data, round_)
    province_id = data.get("province_id", round_.province_id if round_ else None)
    if level in (Level.KHU_VUC, Level.QUOC_GIA):
        data["province_id"] = province_id = None
        # A ministry round is not tied to a province: the level alone decides.
        require(actor, "edit_round", province=None, level=level)
    else:
        require(actor, "edit_round", province=_province(session, province_id), level=level)
        if province_id is None:
            raise PublishError(_("A provincial, district or commune round needs its province."))
    has_region = level is not None and Level(level).has_region
    if has_region and not data.get("region", round_.region if round_ else None):
        raise PublishError(_("A regional round needs its region."))
    if not has_region:
        data["region"] = None
    year = data.get("year", round_.year if round_ else None)
    if not year:
        raise PublishError(_("The round needs its year."))
    if round_ is None:
        assert level is not None, "a new round needs its level"  # the form always sends one
        round_ = SelectionRound(
            slug=unique_slug(session, SelectionRound, slugify(f"{level}-{year}-{utcnow():%H%M%S}", 80)),
            level=level,
            year=year,
        )
    if not save_audited(session, actor, round_, data, "selection_round", province_id):
        return round_  # saved untouched: nothing to reindex
    for product_id in session.exec(
        select(Certificate.product_id).where(Certificate.round_id == round_.id)
    ).all():
        audit.enqueue_reindex(session, product_id)
    return round_
