"""The single write path for certified-product records.

Seeding, the officials' spreadsheet import and the CLI import all turn a row
into a :class:`RecordInput` (see :mod:`catalogue.services.rows`) and call
:func:`upsert_record`, which creates or updates producer, product, selection
round and certificate, and writes audit entries and search-outbox rows in the
caller's transaction. Re-running the same input changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, select

from catalogue.clock import utcnow
from catalogue.models import (
    Certificate,
    CertificateEvent,
    Producer,
    Product,
    Province,
    SelectionRound,
    User,
)
from catalogue.services import audit
from catalogue.services.codes import new_code
from catalogue.services.places import Provinces
from catalogue.services.status import effective_expiry
from catalogue.text import fold, nfc, slugify
from catalogue.vocab import Level, ProducerKind, ProductGroup, Region

LOCAL_LEVELS = {Level.XA, Level.HUYEN, Level.TINH}


@dataclass
class RecordInput:
    """One certified product as published in a decision or source, already typed."""

    product: str
    province: Province
    level: Level
    year: int
    producer: str | None = None
    producer_kind: ProducerKind | None = None
    locality: str | None = None
    group: ProductGroup | None = None
    group_assigned: bool = False
    region: Region | None = None
    certificate_number: str | None = None
    issued_on: date | None = None
    expires_on: date | None = None
    decision_number: str | None = None
    decision_date: date | None = None
    description: str | None = None
    photo: str | None = None
    is_set: bool = False
    components: str | None = None
    source: str | None = None
    edition: str | None = None
    organiser: str | None = None
    issuing_authority: str | None = None


@dataclass
class WriteContext:
    """Who writes, under which policy; built once per batch."""

    provinces: Provinces
    validity_years: int
    verify_keys: dict[str, str]
    verify_key_id: str
    actor: User | None = None
    actor_label: str | None = None
    batch_id: int | None = None
    #: Filled by upsert_record: product ids touched, for callers that report.
    touched: set[int] = field(default_factory=set)


@dataclass
class UpsertResult:
    certificate: Certificate
    product: Product
    created: bool
    changed: bool


def _unique_slug(session: Session, model: type, base: str) -> str:
    slug, n = base, 1
    while session.exec(select(model.id).where(model.slug == slug)).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _apply(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set changed attributes and return their diff; None in ``values`` keeps the old value."""
    before = {k: getattr(obj, k) for k in values}
    after = {k: (v if v is not None else before[k]) for k, v in values.items()}
    changes = audit.diff(before, after)
    for key in changes:
        setattr(obj, key, after[key])
    return changes


def _same_name(model: type, name: str) -> Any:
    """Rows whose slug shares the name's base slug (then compared folded in Python).

    SQLite's lower() folds only ASCII, so names are compared in Python.
    """
    return select(model).where(model.slug.startswith(slugify(name, 80)))


def _find_producer(session: Session, name: str) -> Producer | None:
    key = fold(name)
    for candidate in session.exec(_same_name(Producer, name)).all():
        if fold(candidate.name) == key:
            return candidate
    return None


def _upsert_producer(
    session: Session, rec: RecordInput, ctx: WriteContext
) -> Producer | None:
    if not rec.producer:
        return None
    producer = _find_producer(session, rec.producer)
    # A producer's own fields are corrected in the workspace; an import only fills gaps,
    # so a producer certified in two provinces' rounds does not flip between them.
    values = {
        "kind": rec.producer_kind.value if rec.producer_kind else None,
        "province_id": rec.province.id,
        "address": rec.locality,
    }
    if producer is not None:
        values = {k: v for k, v in values.items() if getattr(producer, k) is None}
    if producer is None:
        producer = Producer(
            name=nfc(rec.producer),
            slug=_unique_slug(session, Producer, slugify(rec.producer, 80)),
            source=rec.source,
            **values,
        )
        session.add(producer)
        session.flush()
        audit.record(
            session, actor=ctx.actor, actor_label=ctx.actor_label, action="create",
            entity_type="producer", entity_id=producer.id,
            province_id=_current_id(ctx, rec.province), summary=producer.name,
        )  # fmt: skip
        return producer
    changes = _apply(producer, values)
    if changes:
        producer.updated_at = utcnow()
        audit.record(
            session, actor=ctx.actor, actor_label=ctx.actor_label, action="update",
            entity_type="producer", entity_id=producer.id, changes=changes,
            province_id=_current_id(ctx, rec.province), summary=producer.name,
        )  # fmt: skip
    return producer


def _current_id(ctx: WriteContext, province: Province | None) -> int | None:
    current = ctx.provinces.current_of(province)
    return current.id if current else None


def _round_for(session: Session, rec: RecordInput) -> SelectionRound:
    query = select(SelectionRound).where(
        SelectionRound.level == rec.level.value, SelectionRound.year == rec.year
    )
    if rec.level is Level.KHU_VUC:
        query = query.where(SelectionRound.region == (rec.region.value if rec.region else None))
    if rec.level in LOCAL_LEVELS:
        query = query.where(SelectionRound.province_id == rec.province.id)
    if rec.level in {Level.HUYEN, Level.XA}:
        query = query.where(SelectionRound.locality == rec.locality)
    if rec.decision_number:
        candidates = session.exec(query).all()
        for r in candidates:
            if r.decision_number == rec.decision_number:
                return r
        for r in candidates:
            if not r.decision_number:
                r.decision_number = rec.decision_number
                r.decision_date = r.decision_date or rec.decision_date
                return r
    else:
        existing = session.exec(query.order_by(SelectionRound.id)).first()
        if existing is not None:
            return existing
    if rec.level is Level.KHU_VUC:
        where = rec.region.value if rec.region else "khu-vuc"
    elif rec.level in LOCAL_LEVELS:
        where = rec.province.slug
        if rec.level in {Level.HUYEN, Level.XA} and rec.locality:
            where += "-" + slugify(rec.locality, 30)
    else:
        where = "quoc-gia"
    base = slugify(f"{rec.level.value}-{where}-{rec.year}", 110)
    new_round = SelectionRound(
        slug=_unique_slug(session, SelectionRound, base),
        level=rec.level.value,
        region=rec.region.value if rec.region and rec.level is Level.KHU_VUC else None,
        year=rec.year,
        province_id=rec.province.id if rec.level in LOCAL_LEVELS else None,
        locality=rec.locality if rec.level in {Level.HUYEN, Level.XA} else None,
        edition=rec.edition,
        organiser=rec.organiser,
        issuing_authority=rec.issuing_authority,
        decision_number=rec.decision_number,
        decision_date=rec.decision_date,
        source=rec.source,
    )
    session.add(new_round)
    session.flush()
    return new_round


def _find_certificate(
    session: Session, rec: RecordInput, producer: Producer | None, round_: SelectionRound
) -> Certificate | None:
    if rec.certificate_number:
        return session.exec(
            select(Certificate)
            .join(SelectionRound, SelectionRound.id == Certificate.round_id)
            .where(
                Certificate.number == nfc(rec.certificate_number),
                SelectionRound.level == rec.level.value,
            )
        ).first()
    # No number (public sources rarely print one): same product in the same round.
    product = _find_product(session, rec, producer)
    if product is None:
        return None
    return session.exec(
        select(Certificate).where(
            Certificate.product_id == product.id, Certificate.round_id == round_.id
        )
    ).first()


def _find_product(session: Session, rec: RecordInput, producer: Producer | None) -> Product | None:
    key = fold(rec.product)
    for product in session.exec(_same_name(Product, rec.product)).all():
        if fold(product.name) != key:
            continue
        if producer is not None and product.producer_id == producer.id:
            return product
        if producer is None and product.producer_id is None and product.province_id == rec.province.id:
            return product
    return None


def upsert_record(session: Session, rec: RecordInput, ctx: WriteContext) -> UpsertResult:
    """Create or update one certified product; matched by certificate number + level.

    Flushes but never commits: the caller commits the whole batch at once.
    """
    producer = _upsert_producer(session, rec, ctx)
    round_ = _round_for(session, rec)
    cert = _find_certificate(session, rec, producer, round_)
    province_current = _current_id(ctx, rec.province)

    product_values = {
        "name": nfc(rec.product),
        "is_set": rec.is_set,
        "components": rec.components,
        "group": rec.group.value if rec.group else None,
        "group_assigned": rec.group_assigned if rec.group else None,
        "description": rec.description,
        "producer_id": producer.id if producer else None,
        "locality": nfc(rec.locality) or None,
        "province_id": rec.province.id,
    }
    created = False
    product = session.get(Product, cert.product_id) if cert else _find_product(session, rec, producer)
    if product is None:
        product = Product(
            slug=_unique_slug(session, Product, slugify(rec.product, 80)),
            **{k: v for k, v in product_values.items() if v is not None},
        )
        session.add(product)
        session.flush()
        product_changes: dict[str, list[Any]] = {}
        audit.record(
            session, actor=ctx.actor, actor_label=ctx.actor_label, action="create",
            entity_type="product", entity_id=product.id, province_id=province_current,
            summary=product.name,
        )  # fmt: skip
    else:
        product_changes = _apply(product, product_values)
        if product_changes:
            product.updated_at = utcnow()
            audit.record(
                session, actor=ctx.actor, actor_label=ctx.actor_label, action="update",
                entity_type="product", entity_id=product.id, changes=product_changes,
                province_id=province_current, summary=product.name,
            )  # fmt: skip

    expires_on, from_policy = effective_expiry(
        rec.expires_on, rec.issued_on, rec.year, ctx.validity_years
    )
    cert_values = {
        "number": nfc(rec.certificate_number) or None,
        "round_id": round_.id,
        "province_id": rec.province.id,
        "issued_on": rec.issued_on,
        "expires_on": expires_on,
        "expires_from_policy": from_policy,
        "source": rec.source,
    }
    if cert is None:
        created = True
        cert = Certificate(
            product_id=product.id,  # type: ignore[arg-type]
            verify_code=new_code(ctx.verify_keys, ctx.verify_key_id),
            batch_id=ctx.batch_id,
            **cert_values,
        )
        session.add(cert)
        session.flush()
        session.add(
            CertificateEvent(
                certificate_id=cert.id,  # type: ignore[arg-type]
                kind="issued",
                effective_on=rec.issued_on,
                actor_id=ctx.actor.id if ctx.actor else None,
                reference=rec.decision_number,
            )
        )
        audit.record(
            session, actor=ctx.actor, actor_label=ctx.actor_label, action="create",
            entity_type="certificate", entity_id=cert.id, province_id=province_current,
            summary=f"{product.name} — {rec.level.value} {rec.year}",
        )  # fmt: skip
        cert_changes: dict[str, list[Any]] = {}
    else:
        # An identical re-import changes nothing; a batch that changes the record
        # becomes its provenance (the batch whose values the page now shows).
        cert_changes = _apply(cert, cert_values)
        if cert_changes:
            if ctx.batch_id is not None and cert.batch_id != ctx.batch_id:
                cert_changes["batch_id"] = [cert.batch_id, ctx.batch_id]
                cert.batch_id = ctx.batch_id
            cert.updated_at = utcnow()
            session.add(
                CertificateEvent(
                    certificate_id=cert.id,  # type: ignore[arg-type]
                    kind="corrected",
                    actor_id=ctx.actor.id if ctx.actor else None,
                    reference=rec.decision_number,
                    changes=cert_changes,
                )
            )
            audit.record(
                session, actor=ctx.actor, actor_label=ctx.actor_label, action="update",
                entity_type="certificate", entity_id=cert.id, changes=cert_changes,
                province_id=province_current, summary=product.name,
            )  # fmt: skip
    changed = created or bool(product_changes) or bool(cert_changes)
    if changed:
        audit.enqueue_reindex(session, product.id)  # type: ignore[arg-type]
    ctx.touched.add(product.id)  # type: ignore[arg-type]
    return UpsertResult(certificate=cert, product=product, created=created, changed=changed)
