"""The single write path for certified-product records.

Seeding, the officials' spreadsheet import and the CLI import all turn a row
into a :class:`RecordInput` (see :mod:`catalogue.registry.rows`) and call
:func:`upsert_record`, which creates or updates producer, product, selection
round and certificate, and writes audit entries and search-outbox rows in the
caller's transaction. Re-running the same input changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor
from catalogue.audit import services as audit
from catalogue.clock import utcnow
from catalogue.db import get_row, pk
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry import ownership
from catalogue.registry.codes import new_code
from catalogue.registry.models import Certificate, CertificateEvent, Producer, Product, SelectionRound
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
    producer_kind_as_printed: str | None = None
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
    source_note: str | None = None
    #: Set by the workspace's "add a certificate" form: the product is known, not matched by name.
    product_id: int | None = None


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

    SQLite numbers a new row max(id) + 1; a staged publish takes those numbers
    itself (from ``next_ids``, read before the first row is worked out) so rows
    can refer to each other unwritten. The publish later writes them only after
    checking, under the lock, that no other writer has added or changed a
    registry row since (:func:`catalogue.registry.publishing.publish_batch`).
    """

    next_ids: dict[type[Any], int]

    def store(self, session: Session, row: Producer | Product | SelectionRound | Certificate) -> None:
        follow_writes(session)
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
    """``base``, or ``base-2``, ``base-3``…: the first slug no row of ``model`` has (staged rows count)."""
    staged: set[tuple[type[Any], str]] = session.info.get("staged_slugs", set())
    slug, n = base, 1
    while (model, slug) in staged or session.exec(
        select(model.id).where(model.slug == slug)
    ).first() is not None:
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
    if _follows_writes(session):
        found_in().append(row)


def _apply(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set changed attributes and return their diff; None in ``values`` keeps the old value."""
    before = {k: getattr(obj, k) for k in values}
    after = {k: (v if v is not None else before[k]) for k, v in values.items()}
    changes = audit.diff(before, after)
    for key in changes:
        setattr(obj, key, after[key])
    return changes


def _same_name(model: type[Producer | Product], name: str) -> Any:
    """Rows whose slug shares the name's base slug (then compared folded in Python).

    SQLite's lower() folds only ASCII, so names are compared in Python.
    """
    return select(model).where(model.slug.startswith(slugify(name, 80)))


def _remembered(session: Session, key: tuple[Any, ...], load: Callable[[], list[Any]]) -> list[Any]:
    """``load()``'s rows, remembered for the session until its next flush, commit or rollback.

    A dry run of thousands of rows asks the same questions again and again (same
    round, same name twice per row); the memo is dropped whenever the session
    writes, so a write is always seen.
    """
    memo: dict[tuple[Any, ...], list[Any]] = session.info.setdefault("match_memo", {})
    if key not in memo:
        memo[key] = load()
    return memo[key]


def _forget(session: OrmSession, *_: Any) -> None:
    for key in ("match_memo", "staged_rows", "staged_slugs", "memo_follows_writes"):
        session.info.pop(key, None)


def _forget_unless_followed(session: OrmSession, *_: Any) -> None:
    if not _follows_writes(session):
        _forget(session)


def _follows_writes(session: OrmSession) -> bool:
    return bool(session.info.get("memo_follows_writes"))


def follow_writes(session: Session) -> None:
    """Keep the memo across this session's flushes until it commits or rolls back.

    For a publish, whose only writes are :func:`upsert_record`'s and which adds
    each new row to the answers that must now include it: thousands of rows no
    longer ask the database the same questions again after every row.
    """
    session.info["memo_follows_writes"] = True


event.listen(OrmSession, "after_flush", _forget_unless_followed)
for _moment in ("after_commit", "after_soft_rollback"):
    event.listen(OrmSession, _moment, _forget)


def _named(session: Session, model: type[Producer | Product], name: str) -> list[Any]:
    """Rows of ``model`` with this name (folded)."""
    key = fold(name)

    def load() -> list[Any]:
        return [row for row in session.exec(_same_name(model, name)).all() if fold(row.name) == key]

    return _remembered(session, ("named", model, key), load)


@dataclass
class Match:
    """The existing records a row names, found only within the row's own scope.

    Producers and products match only within the row's current province;
    certificates on number + level + issuing office + year (DESIGN §4). A
    same-name record elsewhere is a different record: it is listed in
    ``elsewhere`` (said in the dry run), never matched.
    """

    producer: Producer | None = None
    product: Product | None = None
    round: SelectionRound | None = None
    certificate: Certificate | None = None
    #: Offices owning a record this row would change although the actor may not.
    conflicts: list[str] = field(default_factory=list)
    #: Same-name producers/products in other provinces, as "name (province)".
    elsewhere: list[tuple[str, str, str]] = field(default_factory=list)


def _find_producer(
    session: Session, provinces: Provinces, name: str, current_id: int | None
) -> Producer | None:
    for candidate in _named(session, Producer, name):
        if current_id is not None and provinces.current_id(candidate.province_id) == current_id:
            return candidate
    return None


def _find_product(
    session: Session,
    provinces: Provinces,
    name: str,
    producer: Producer | None,
    producer_named: bool,
    current_id: int | None,
) -> Product | None:
    """The row's product: same name under the same producer, or (no producer named) in the province."""
    for product in _named(session, Product, name):
        if producer is not None and product.producer_id == producer.id:
            return product
        if (
            not producer_named
            and product.producer_id is None
            and provinces.current_id(product.province_id) == current_id
        ):
            return product
    return None


def _round_query(rec: RecordInput) -> Any:
    query = select(SelectionRound).where(
        SelectionRound.level == rec.level.value, SelectionRound.year == rec.year
    )
    if rec.level is Level.KHU_VUC:
        query = query.where(SelectionRound.region == (rec.region.value if rec.region else None))
    if rec.level in LOCAL_LEVELS:
        query = query.where(SelectionRound.province_id == rec.province.id)
    if rec.level in {Level.HUYEN, Level.XA}:
        query = query.where(SelectionRound.locality == rec.locality)
    return query.order_by(col(SelectionRound.id))


def _round_candidates(session: Session, rec: RecordInput) -> list[SelectionRound]:
    """The rounds :func:`_round_query` finds, remembered under exactly the fields it filters on."""
    key = (
        "round", rec.level, rec.year,
        rec.region if rec.level is Level.KHU_VUC else None,
        rec.province.id if rec.level in LOCAL_LEVELS else None,
        rec.locality if rec.level in {Level.HUYEN, Level.XA} else None,
    )  # fmt: skip
    return _remembered(session, key, lambda: list(session.exec(_round_query(rec)).all()))


def _find_round(session: Session, rec: RecordInput) -> SelectionRound | None:
    """The round a row belongs to; one published under the row's decision first.

    A round is never changed by a row: provenance (decision, source, office)
    belongs to each certificate's own publication.
    """
    candidates = _round_candidates(session, rec)
    for r in candidates:
        if rec.decision_number and r.decision_number == rec.decision_number:
            return r
    return candidates[0] if candidates else None


def _find_certificate(
    session: Session,
    provinces: Provinces,
    rec: RecordInput,
    product: Product | None,
    round_: SelectionRound | None,
) -> Certificate | None:
    if rec.certificate_number:
        return certificate_clash(
            session, provinces, number=rec.certificate_number, level=rec.level, year=rec.year,
            province_id=rec.province.id,
        )  # fmt: skip
    # No number (public sources rarely print one): same product in the same round.
    if product is None or round_ is None:
        return None
    held = _held(session, pk(product), pk(round_))
    return held[0] if held else None


def _held(session: Session, product_id: int, round_id: int) -> list[Certificate]:
    """The product's certificates of the round."""
    query = (
        select(Certificate)
        .where(Certificate.product_id == product_id, Certificate.round_id == round_id)
        .order_by(col(Certificate.id))
    )
    return _remembered(session, ("held", product_id, round_id), lambda: list(session.exec(query).all()))


def _numbered_query(numbers: list[str], level: Level | None = None, year: int | None = None) -> Any:
    query = (
        select(Certificate, SelectionRound.province_id, SelectionRound.level, SelectionRound.year)
        .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .where(col(Certificate.number).in_(numbers))
        .order_by(col(Certificate.id))
    )
    if level is not None:
        query = query.where(SelectionRound.level == level.value, SelectionRound.year == year)
    return query


def _numbered(session: Session, number: str, level: Level, year: int) -> list[tuple[Certificate, int | None]]:
    """Certificates with this printed number, level and year, with their round's province."""

    def load() -> list[Any]:
        rows = session.exec(_numbered_query([number], level, year)).all()
        return [(cert, province_id) for cert, province_id, _, _ in rows]

    return _remembered(session, ("number", number, level.value, year), load)


def remember_numbers(session: Session, keys: set[tuple[str, Level, int]]) -> None:
    """Load every certificate a file's rows name in a few queries (the dry run's prefetch)."""
    memo: dict[tuple[Any, ...], list[Any]] = session.info.setdefault("match_memo", {})
    found: dict[tuple[Any, ...], list[Any]] = {("number", n, lv.value, y): [] for n, lv, y in keys}
    numbers = sorted({n for n, _, _ in keys})
    for start in range(0, len(numbers), 500):
        for cert, province_id, level, year in session.exec(_numbered_query(numbers[start : start + 500])):
            found.get(("number", cert.number, level, year), []).append((cert, province_id))
    memo.update(found)


def certificate_clash(
    session: Session,
    provinces: Provinces,
    *,
    number: str,
    level: Level,
    year: int,
    province_id: int | None,
    exclude_id: int | None = None,
) -> Certificate | None:
    """The certificate that already holds this key (number + level + issuing office + year)."""
    office = ownership.level_owner(provinces, level, province_id)
    for cert, round_province in _numbered(session, nfc(number), level, year):
        same_office = ownership.level_owner(provinces, level, round_province or cert.province_id) == office
        if same_office and cert.id != exclude_id:
            return cert
    return None


def match_record(session: Session, rec: RecordInput, provinces: Provinces, actor: Actor) -> Match:
    """Find what a row names, and which of those records ``actor`` may not change.

    Shared by the dry run (which reports conflicts as row errors and
    ``elsewhere`` as warnings) and :func:`upsert_record` (which refuses them).
    """
    current_id = provinces.current_id(rec.province.id)
    match = Match()
    match.round = _find_round(session, rec)
    if rec.product_id is not None:
        match.product = get_row(session, Product, rec.product_id)
        if match.product is not None and match.product.producer_id is not None:
            match.producer = get_row(session, Producer, match.product.producer_id)
    else:
        if rec.producer:
            match.producer = _find_producer(session, provinces, rec.producer, current_id)
        match.product = _find_product(
            session, provinces, rec.product, match.producer, bool(rec.producer), current_id
        )
    match.certificate = _find_certificate(session, provinces, rec, match.product, match.round)
    if match.certificate is not None:
        holder = get_row(session, Product, match.certificate.product_id)
        if holder is not None and (match.product is None or holder.id != match.product.id):
            # The number is this office's certificate of another product: the row corrects it,
            # so that product is what it changes.
            match.product = holder
    # What the row would change: the certificate always; a provincial row also the
    # product and producer (a ministry row never changes them, see upsert_record).
    local = rec.level in LOCAL_LEVELS
    owners: list[permissions.Owner] = []
    if match.certificate is not None:
        owners.append(ownership.certificate_owner(session, provinces, match.certificate))
    if local and match.product is not None:
        owners.append(ownership.product_owner(session, provinces, match.product))
    if local and match.producer is not None:
        owners.append(ownership.producer_owner(provinces, match.producer))
    for owner in owners:
        if not permissions.may_touch(actor, owner) and owner.label not in match.conflicts:
            match.conflicts.append(owner.label)
    if not local and match.product is not None:
        # A ministry certificate held by another province's product: not this row's product.
        owner = ownership.product_owner(session, provinces, match.product)
        if owner.province_id != current_id:
            match.conflicts.append(owner.label)
    for model, name, found in (
        (Producer, rec.producer, match.producer),
        (Product, rec.product, match.product),
    ):
        if not name:
            continue
        for other in _named(session, model, name):
            other_current = provinces.current_id(other.province_id)
            if (found is None or other.id != found.id) and other_current != current_id:
                province = provinces.get(other_current)
                kind = "producer" if model is Producer else "product"
                match.elsewhere.append((kind, other.name, province.short_name if province else "?"))
    return match


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
    _store(session, ctx, round_, lambda: _round_candidates(session, rec))
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
        _store(session, ctx, producer, lambda: _named(session, Producer, nfc(rec.producer)))
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

    Matching is :func:`match_record`'s; a row that would change another office's
    record raises :class:`permissions.Forbidden` naming that office (the dry run
    reports the same as a row error first). Flushes but never commits: the caller
    commits the whole batch at once.
    """
    actor: Actor = ctx.actor if ctx.actor is not None else permissions.SYSTEM
    match = match_record(session, rec, ctx.provinces, actor)
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
        _store(session, ctx, product, lambda: _named(session, Product, rec.product))
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
        _store(session, ctx, cert, lambda: _held(session, pk(product), pk(round_)))
        if number and _follows_writes(session):
            _numbered(session, number, rec.level, rec.year).append((cert, round_.province_id))
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
    changed = created or bool(product_changes) or bool(cert_changes)
    if changed:
        audit.enqueue_reindex(session, pk(product))
    ctx.touched.add(pk(product))
    return UpsertResult(certificate=cert, product=product, created=created, changed=changed)
