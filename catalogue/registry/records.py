"""The single write path for certified-product records, and the error a refused registry change raises.

Seeding, the officials' spreadsheet import and the CLI import all turn a row
into a :class:`~catalogue.registry.rows.RecordInput` and call
:func:`upsert_record`, which finds what the row names
(:func:`catalogue.registry.matching.match_record`), creates or updates
producer, product, selection round and certificate, and writes audit entries
and search-outbox rows in the caller's transaction. Re-running the same input
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlmodel import Session, select

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor
from catalogue.accounts.services import office_name
from catalogue.audit import services as audit
from catalogue.clock import utcnow
from catalogue.db import pk
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.refused import Refused
from catalogue.registry import gtins, matching
from catalogue.registry.codes import new_code
from catalogue.registry.matching import LOCAL_LEVELS
from catalogue.registry.models import (
    Certificate,
    CertificateEvent,
    Producer,
    Product,
    SelectionRound,
    SlugRedirect,
)
from catalogue.registry.rows import RecordInput
from catalogue.text import nfc, slugify
from catalogue.vocab import ChangeKind, Level


class PublishError(Refused):
    """The change cannot be made as asked; the message is for the official.

    Raised by every refused registry change (certificates, photos, workspace
    edits, import batches); the workspace shows it as a flash message and a job
    as its failure.
    """


@dataclass
class WriteContext:
    """Who writes, with which keys; built once per batch."""

    provinces: Provinces
    verify_keys: dict[str, str]
    verify_key_id: str
    actor: User | None = None
    actor_label: str | None = None
    batch_id: int | None = None
    #: The publishing office, recorded on each certificate it writes (provenance).
    office: str | None = None
    #: Filled by upsert_record: product ids touched, for callers that report.
    touched: set[int] = field(default_factory=set)
    #: Ignored (accepted for older callers): an assumed validity is worked out
    #: when read (services.status), never written.
    validity_years: int | None = None
    #: Set when the rows are worked out before the write lock is taken (see :class:`Staging`).
    staging: Staging | None = None


#: The tables whose new rows a staged publish numbers itself.
STAGED_MODELS: tuple[type[Producer | Product | SelectionRound | Certificate], ...] = (
    Producer, Product, SelectionRound, Certificate,
)  # fmt: skip


@dataclass
class Staging:
    """Keys for rows a publish adds without flushing, so it holds SQLite's writer only to reveal them.

    SQLite numbers a new row max(id) + 1 (producers and products, AUTOINCREMENT: past
    the highest id ever given, a merged one too); a staged publish takes those numbers
    itself (from ``next_ids``, read before the first row is worked out) so rows
    can refer to each other unwritten. The publish later writes them only after
    checking, under the lock, that no other writer has added or changed a
    registry row since (:func:`catalogue.imports.publishing.publish_batch`).
    """

    next_ids: dict[type[Any], int]

    def store(self, session: Session, row: Producer | Product | SelectionRound | Certificate) -> None:
        matching.follow_writes(session)
        row.id = self.next_ids[type(row)]
        self.next_ids[type(row)] += 1
        session.add(row)
        staged: dict[tuple[type[Any], int], Any] = session.info.setdefault("staged_rows", {})
        staged[(type(row), row.id)] = row
        if not isinstance(row, Certificate):
            session.info.setdefault("staged_slugs", set()).add((type(row), row.slug))


@dataclass
class UpsertResult:
    certificate: Certificate
    product: Product
    created: bool
    changed: bool


def unique_slug(session: Session, model: type[Any], base: str) -> str:
    """``base``, or ``base-2``, ``base-3``…: the first slug no row of ``model`` has (staged rows count).

    A merged record's old slug stays taken: its address redirects to the survivor,
    and undoing the merge gives it back.
    """
    staged: set[tuple[type[Any], str]] = session.info.get("staged_slugs", set())
    kind = getattr(model, "__tablename__", "")
    slug, n = base, 1
    while (
        (model, slug) in staged
        or session.exec(select(model.id).where(model.slug == slug)).first() is not None
        or session.exec(
            select(SlugRedirect.id).where(SlugRedirect.kind == kind, SlugRedirect.old_slug == slug)
        ).first()
        is not None
    ):
        n += 1
        slug = f"{base}-{n}"
    return slug


def _store(
    session: Session,
    ctx: WriteContext,
    row: Producer | Product | SelectionRound | Certificate,
    found_in: Callable[[], list[Any]],
) -> None:
    """Give a new row its key: numbered by a staged publish, else by the database (a flush).

    ``found_in`` is the remembered answer that must now include the row: a flush
    drops every remembered answer, but a staged row is only ever found there.
    """
    if ctx.staging is not None:
        ctx.staging.store(session, row)
    else:
        session.add(row)
        session.flush()
    if matching.follows_writes(session):
        found_in().append(row)


def _apply(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set changed attributes and return their diff; None in ``values`` keeps the old value."""
    before = {k: getattr(obj, k) for k in values}
    after = {k: (v if v is not None else before[k]) for k, v in values.items()}
    changes = audit.diff(before, after)
    for key in changes:
        setattr(obj, key, after[key])
    return changes


def write_context(
    session: Session, actor: Actor, batch_id: int | None = None, config: Mapping[str, Any] | None = None
) -> WriteContext:
    """The context :func:`upsert_record` writes with: ``actor``'s office, the verification keys, the batch."""
    cfg = config if config is not None else current_app.config
    user = actor if isinstance(actor, User) else None
    province = session.get(Province, user.province_id) if user and user.province_id else None
    return WriteContext(
        office=office_name(user, province) if user else None,
        provinces=Provinces.load(session),
        verify_keys=dict(cfg["VERIFY_KEYS"]),
        verify_key_id=str(cfg["VERIFY_CURRENT_KEY_ID"]),
        actor=actor if not isinstance(actor, permissions.SystemActor) else None,
        actor_label=permissions.actor_label(actor),
        batch_id=batch_id,
    )


def _new_round(session: Session, rec: RecordInput, ctx: WriteContext) -> SelectionRound:
    if rec.level is Level.KHU_VUC:
        where = rec.region.value if rec.region else "khu-vuc"
    elif rec.level in LOCAL_LEVELS:
        where = rec.province.slug
        if rec.level in {Level.HUYEN, Level.XA} and rec.locality:
            where += "-" + slugify(rec.locality, 30)
    else:
        where = "quoc-gia"
    base = slugify(f"{rec.level.value}-{where}-{rec.year}", 110)
    round_ = SelectionRound(
        slug=unique_slug(session, SelectionRound, base),
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
    _store(session, ctx, round_, lambda: matching.round_candidates(session, rec))
    return round_


def _audit(
    session: Session, ctx: WriteContext, action: str, entity: str, entity_id: int | None,
    province_id: int | None, summary: str, changes: dict[str, list[Any]] | None = None,
) -> None:  # fmt: skip
    audit.record(
        session, actor=ctx.actor, actor_label=ctx.actor_label, action=action, entity_type=entity,
        entity_id=entity_id, changes=changes, province_id=province_id, summary=summary,
    )  # fmt: skip


def _write_producer(
    session: Session, rec: RecordInput, ctx: WriteContext, found: Producer | None, owner_id: int | None
) -> Producer | None:
    if not rec.producer:
        return None
    # A producer's own fields are corrected in the workspace; an import only fills gaps
    # (a provincial row only: a ministry row never changes a province's producer).
    values: dict[str, Any] = {
        "kind": rec.producer_kind.value if rec.producer_kind else None,
        "kind_as_printed": nfc(rec.producer_kind_as_printed)[:100] or None,
        "province_id": rec.province.id,
        "address": rec.locality,
    }
    if found is None:
        producer = Producer(
            name=nfc(rec.producer),
            slug=unique_slug(session, Producer, slugify(rec.producer, 80)),
            source=rec.source,
            **values,
        )
        _store(session, ctx, producer, lambda: matching.named(session, Producer, nfc(rec.producer)))
        _audit(session, ctx, "create", "producer", producer.id, owner_id, producer.name)
        return producer
    if rec.level not in LOCAL_LEVELS:
        return found
    changes = _apply(found, {k: v for k, v in values.items() if getattr(found, k) is None})
    if changes:
        found.updated_at = utcnow()
        _audit(session, ctx, "update", "producer", found.id, owner_id, found.name, changes)
    return found


def upsert_record(session: Session, rec: RecordInput, ctx: WriteContext) -> UpsertResult:
    """Create or update one certified product, within the actor's own records only.

    Matching is :func:`~catalogue.registry.matching.match_record`'s; a row that
    would change another office's record raises :class:`permissions.Forbidden`
    naming that office (the dry run reports the same as a row error first).
    Flushes but never commits: the caller commits the whole batch at once.
    """
    actor: Actor = ctx.actor if ctx.actor is not None else permissions.SYSTEM
    match = matching.match_record(session, rec, ctx.provinces, actor)
    if match.conflicts:
        raise permissions.Forbidden(
            permissions.explain_owner(actor, permissions.Owner(None, label=", ".join(match.conflicts)))
        )
    province_current = ctx.provinces.current_id(rec.province.id)
    producer = _write_producer(session, rec, ctx, match.producer, province_current)
    round_ = match.round or _new_round(session, rec, ctx)
    cert = match.certificate

    product_values: dict[str, Any] = {
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
    product = match.product
    product_changes: dict[str, list[Any]] = {}
    if product is None:
        product = Product(
            slug=unique_slug(session, Product, slugify(rec.product, 80)),
            **{k: v for k, v in product_values.items() if v is not None},
        )
        _store(session, ctx, product, lambda: matching.named(session, Product, rec.product))
        _audit(session, ctx, "create", "product", product.id, province_current, product.name)
    elif rec.level in LOCAL_LEVELS:
        # A ministry row attaches its certificate and never changes the province's product.
        product_changes = _apply(product, product_values)
        if product_changes:
            product.updated_at = utcnow()
            _audit(session, ctx, "update", "product", product.id, province_current, product.name,
                   product_changes)  # fmt: skip

    cert_values: dict[str, Any] = {
        "number": nfc(rec.certificate_number) or None,
        "round_id": round_.id,
        "province_id": rec.province.id,
        "issued_on": rec.issued_on,
        # Only an expiry the decision prints; an assumed one is worked out when read.
        "expires_on": rec.expires_on,
        "source": rec.source,
        "source_note": rec.source_note,
        "decision_number": nfc(rec.decision_number) or None,
        "decision_date": rec.decision_date,
        "office": ctx.office,
    }
    if cert is None:
        created = True
        cert = Certificate(
            product_id=pk(product),
            verify_code=new_code(ctx.verify_keys, ctx.verify_key_id),
            batch_id=ctx.batch_id,
            **cert_values,
        )
        number = cert.number
        _store(session, ctx, cert, lambda: matching.held(session, pk(product), pk(round_)))
        if number and matching.follows_writes(session):
            matching.numbered(session, number, rec.level, rec.year).append((cert, round_.province_id))
        session.add(
            CertificateEvent(
                certificate_id=pk(cert),
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
                    certificate_id=pk(cert),
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
    # Only the GTINs the row names are added (never removed); one on another product is refused.
    added = gtins.add_gtins(session, product, rec.gtins, actor=ctx.actor, actor_label=ctx.actor_label,
                            province_id=province_current, reindex=False,
                            staged=ctx.staging is not None) if rec.gtins else []  # fmt: skip
    changed = created or bool(product_changes) or bool(cert_changes) or bool(added)
    if changed:
        kind = ChangeKind.CREATED if created else ChangeKind.CORRECTED
        audit.enqueue_reindex(session, pk(product), kind=kind, certificate_id=pk(cert))
    ctx.touched.add(pk(product))
    return UpsertResult(certificate=cert, product=product, created=created, changed=changed)
