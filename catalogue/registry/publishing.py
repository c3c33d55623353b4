"""Publishing and correcting certified records: batches, certificates, revocations, photos.

Every function checks :mod:`~catalogue.accounts.permissions` first, writes the
change with an audit entry (before/after) and a search-outbox row in the
caller's transaction, and flushes; the caller commits once. A batch is
published through :func:`catalogue.registry.records.upsert_record` row by row
inside that single transaction, so any failure leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, inspect, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, func, select

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor, audit_actor, require
from catalogue.accounts.services import office_name
from catalogue.audit import services as audit
from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.clock import today, utcnow
from catalogue.db import pk
from catalogue.imports import checking as importing
from catalogue.imports.models import ImportBatch
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry import ownership, records
from catalogue.registry import photos as media
from catalogue.registry.models import Certificate, CertificateEvent, Photo, Product, SelectionRound
from catalogue.registry.records import (
    STAGED_MODELS,
    RecordInput,
    Staging,
    WriteContext,
    certificate_clash,
    upsert_record,
)
from catalogue.text import nfc
from catalogue.vocab import Level

#: Batch states as shown to officials (the same words as the batch list).
BATCH_STATES = {
    "pending": _l("not yet published"),
    "published": _l("published"),
    "discarded": _l("discarded"),
}


class PublishError(ValueError):
    """The change cannot be made as asked; the message is for the official."""


class BatchRejected(PublishError):
    """A batch with problems: nothing was published."""

    def __init__(self, report: importing.ImportReport) -> None:
        super().__init__(gettext("The batch has problems; nothing was published."))
        self.report = report


@dataclass
class PublishResult:
    batch: ImportBatch
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    product_ids: list[int] = field(default_factory=list)


def write_context(
    session: Session, actor: Actor, batch_id: int | None = None, config: Mapping[str, Any] | None = None
) -> WriteContext:
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


# ----------------------------------------------------------------------------- batches


#: How many times a staged publish works its rows out before it gives up letting other writers
#: in: the last attempt takes SQLite's write lock first, so nothing can overtake it.
STAGE_ATTEMPTS = 3

#: Audit entries of these kinds mean a registry row a publish reads has changed.
_REGISTRY_ENTITIES = ("producer", "product", "selection_round", "certificate", "import_batch")


def publish_batch(
    session: Session,
    *,
    actor: Actor,
    batch: ImportBatch,
    decision_number: str | None = None,
    decision_date: date | None = None,
    config: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    check_progress: Callable[[int, int], None] | None = None,
    staged: bool = False,
    locking: Callable[[], None] | None = None,
) -> PublishResult:
    """Publish every row of a pending batch, or raise and publish nothing.

    The dry run is repeated first (the database may have changed since the
    upload); the decision number and date given here fill rows that lack them.
    ``progress(done, total)`` is called after each row (the CLI draws a bar);
    ``check_progress`` follows the repeated dry run (the job page shows both).

    ``staged`` (SQLite; the session must have nothing unwritten) works every row
    out without writing, then takes the write lock only to check that no
    registry row changed meanwhile and write them all in one short commit; if
    one did, it works them out again. Sign-ins, saves and reports are not kept
    waiting for the whole batch. It commits; ``locking`` is called before the
    last attempt, which holds the lock throughout. Otherwise the caller commits.
    """
    if not staged or session.get_bind().dialect.name != "sqlite":
        return _publish(session, actor, batch, decision_number, decision_date, config, progress,
                        check_progress, None)  # fmt: skip
    assert not (session.new or session.dirty or session.deleted), "a staged publish needs a clean session"
    session.commit()  # end any read transaction: a stale snapshot could not take the lock
    for attempt in range(1, STAGE_ATTEMPTS + 1):
        if attempt == STAGE_ATTEMPTS:
            if locking is not None:
                locking()
            _take_write_lock(session)
        with session.no_autoflush:  # nothing is written before the check below
            mark, next_ids = _registry_mark(session)
            result = _publish(session, actor, batch, decision_number, decision_date, config, progress,
                              check_progress, Staging(next_ids))  # fmt: skip
            inserts = _new_rows(session)
            if attempt < STAGE_ATTEMPTS:
                _take_write_lock(session)
            unchanged = _registry_mark(session)[0] == mark
            if unchanged:
                # Rows refer to each other by the keys they were given: check references at commit.
                session.execute(text("PRAGMA defer_foreign_keys = ON"))
                connection = session.connection()
                for statement, values in inserts:
                    connection.exec_driver_sql(statement, values)
        if unchanged:
            session.commit()  # the rest: the batch, changed records, search-outbox rows
            return result
        current_app.logger.info("publish of batch %s: the registry changed meanwhile; again", batch.id)
        session.rollback()
    raise AssertionError("unreachable: the last attempt holds the write lock")


def _new_rows(session: Session) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The staged publish's new rows as ready-to-run inserts, taken out of the session.

    Worked out before the lock, down to each value in the form the database
    stores (the columns' own bind processors), so the lock is held only while
    SQLite writes: the ORM's bookkeeping and SQLAlchemy's per-row processing
    for thousands of rows cost several times the writing itself.
    """
    by_table: dict[Table, list[Any]] = {}
    for row in sorted(session.new, key=lambda r: inspect(r).insert_order):
        by_table.setdefault(row.__table__, []).append(row)
    if any(isinstance(row, OutboxEvent) for rows in by_table.values() for row in rows[:1]):
        audit.outbox_written(session)  # the search sync drains them after the commit
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    out = []
    for table in SQLModel.metadata.sorted_tables:
        rows = by_table.pop(table, [])
        if not rows:
            continue
        columns = [c for c in table.columns if not (c.key == "id" and all(r.id is None for r in rows))]
        processors = [c.type.bind_processor(dialect) for c in columns]
        values = [
            tuple(
                value if process is None else process(value)
                for value, process in zip((getattr(r, c.key) for c in columns), processors, strict=True)
            )
            for r in rows
        ]
        names = ", ".join(quote(c.name) for c in columns)
        marks = ", ".join("?" for _ in columns)  # SQLite's parameter style (staging is SQLite's)
        out.append((f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", values))
        for r in rows:
            session.expunge(r)
    assert not by_table, f"rows of tables outside the metadata: {list(by_table)}"
    return out


def _take_write_lock(session: Session) -> None:
    """SQLite's write lock now (waiting as any writer does), so what is read next stays true."""
    session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _registry_mark(session: Session) -> tuple[tuple[Any, ...], dict[type[Any], int]]:
    """What changes whenever a registry row is added or changed, and the next key of each staged table."""
    newest = [select(func.max(model.id)).scalar_subquery() for model in STAGED_MODELS]
    audited = (
        select(AuditEntry.id)
        .where(col(AuditEntry.entity_type).in_(_REGISTRY_ENTITIES))
        .order_by(col(AuditEntry.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    events = select(func.max(CertificateEvent.id)).scalar_subquery()
    outbox = select(func.max(OutboxEvent.id)).scalar_subquery()
    row = tuple(session.execute(sa_select(*newest, audited, events, outbox)).one())
    next_ids = {model: int(top or 0) + 1 for model, top in zip(STAGED_MODELS, row, strict=False)}
    return row, next_ids


def _publish(
    session: Session,
    actor: Actor,
    batch: ImportBatch,
    decision_number: str | None,
    decision_date: date | None,
    config: Mapping[str, Any] | None,
    progress: Callable[[int, int], None] | None,
    check_progress: Callable[[int, int], None] | None,
    staging: Staging | None,
) -> PublishResult:
    require(actor, "view_batch", province=batch.province_id)
    if batch.state != "pending":
        raise PublishError(
            gettext(
                "This batch is %(state)s; only a pending batch can be published.",
                state=BATCH_STATES.get(batch.state, batch.state),
            )
        )
    report = importing.check_batch(session, actor=actor, batch=batch, progress=check_progress)
    if not report.ok:
        raise BatchRejected(report)
    decision_number = nfc(decision_number) or None
    ctx = write_context(session, actor, batch.id, config)
    ctx.staging = staging
    records.follow_writes(session)
    result = PublishResult(batch=batch)
    for row in report.rows:
        rec = row.record
        assert rec is not None
        require(actor, "publish", province=rec.province, level=rec.level)
        if decision_number and not rec.decision_number:
            rec.decision_number = decision_number
        if decision_date and not rec.decision_date and rec.decision_number == decision_number:
            rec.decision_date = decision_date
        outcome = upsert_record(session, rec, ctx)
        if outcome.created:
            result.created += 1
        elif outcome.changed:
            result.updated += 1
        else:
            result.unchanged += 1
        if outcome.product.id is not None and outcome.product.id not in result.product_ids:
            result.product_ids.append(outcome.product.id)
        if progress is not None:
            progress(result.created + result.updated + result.unchanged, len(report.rows))
    before = {
        "state": batch.state,
        "decision_number": batch.decision_number,
        "decision_date": batch.decision_date,
    }
    batch.state = "published"
    batch.published_at = utcnow()
    batch.decision_number = decision_number or batch.decision_number
    batch.decision_date = decision_date or batch.decision_date
    session.add(batch)
    audit.record(
        session,
        **audit_actor(actor),
        action="publish",
        entity_type="import_batch",
        entity_id=batch.id,
        province_id=batch.province_id,
        summary=gettext(
            "%(file)s: %(new)d new, %(updated)d updated, %(same)d unchanged",
            file=batch.filename,
            new=result.created,
            updated=result.updated,
            same=result.unchanged,
        ),
        changes=audit.diff(
            before,
            {
                "state": batch.state,
                "decision_number": batch.decision_number,
                "decision_date": batch.decision_date,
            },
        ),
    )
    if staging is None:
        session.flush()
    return result


def discard_batch(session: Session, *, actor: Actor, batch: ImportBatch) -> None:
    require(actor, "view_batch", province=batch.province_id)
    if batch.state != "pending":
        raise PublishError(gettext("Only a pending batch can be discarded."))
    batch.state = "discarded"
    session.add(batch)
    audit.record(
        session,
        **audit_actor(actor),
        action="discard",
        entity_type="import_batch",
        entity_id=batch.id,
        province_id=batch.province_id,
        summary=batch.filename,
        changes={"state": ["pending", "discarded"]},
    )


def batch_certificates(session: Session, *, actor: Actor, batch: ImportBatch) -> list[Certificate]:
    """Certificates a published batch wrote or last republished."""
    require(actor, "view_batch", province=batch.province_id)
    return list(
        session.exec(
            select(Certificate).where(Certificate.batch_id == batch.id).order_by(col(Certificate.id))
        ).all()
    )


def provenance_for(session: Session, certificate: Certificate) -> dict[str, Any] | None:
    """Which batch published a certificate, by which office, when, from which decision and file.

    None when the record did not come from a workspace batch (seed data cites its source instead).
    """
    if certificate.batch_id is None:
        return None
    batch = session.get(ImportBatch, certificate.batch_id)
    if batch is None or batch.state != "published":
        return None
    return {
        "batch_id": batch.id,
        "office": batch.office,
        "published_at": batch.published_at,
        "decision_number": batch.decision_number,
        "decision_date": batch.decision_date,
        "filename": batch.filename,
        "file_sha256": batch.file_sha256,
    }


# ----------------------------------------------------------------------------- certificates


def _level_of(session: Session, certificate: Certificate) -> str:
    round_ = session.get(SelectionRound, certificate.round_id)
    assert round_ is not None
    return round_.level


def _require_certificate(
    session: Session, actor: Actor, action: str, certificate: Certificate
) -> SelectionRound:
    round_ = session.get(SelectionRound, certificate.round_id)
    assert round_ is not None
    require(
        actor,
        action,
        province=session.get(Province, certificate.province_id) if certificate.province_id else None,
        level=round_.level,
    )
    return round_


CORRECTABLE = ("number", "issued_on", "expires_on", "prize", "source")


def correct_certificate(
    session: Session,
    *,
    actor: Actor,
    certificate: Certificate,
    values: Mapping[str, Any],
    reason: str | None = None,
) -> dict[str, list[Any]]:
    """Correct a certificate's printed facts; recorded as a "corrected" event with before/after."""
    round_ = _require_certificate(session, actor, "correct_certificate", certificate)
    new: dict[str, Any] = {
        k: (nfc(v) or None if isinstance(v, str) else v) for k, v in values.items() if k in CORRECTABLE
    }
    if new.get("number") and new["number"] != certificate.number:
        clash = certificate_clash(
            session, Provinces.load(session), number=new["number"], level=Level(round_.level),
            year=round_.year, province_id=round_.province_id or certificate.province_id,
            exclude_id=certificate.id,
        )  # fmt: skip
        if clash is not None:
            raise PublishError(
                gettext("Another certificate of this level already has the number %(n)s.", n=new["number"])
            )
    issued = new.get("issued_on", certificate.issued_on)
    expiry = new.get("expires_on", certificate.expires_on)
    if ("expires_on" in new or "issued_on" in new) and issued and expiry and expiry <= issued:
        raise PublishError(gettext("The expiry date must come after the issue date."))
    before = {k: getattr(certificate, k) for k in new}
    changes = audit.diff(before, new)
    if not changes:
        return {}
    for key in changes:
        setattr(certificate, key, new[key])
    certificate.updated_at = utcnow()
    session.add(certificate)
    session.add(
        CertificateEvent(
            certificate_id=pk(certificate),
            kind="corrected",
            actor_id=_actor_id(actor),
            reason=nfc(reason) or None,
            changes=changes,
        )
    )
    audit.record(
        session,
        **audit_actor(actor),
        action="correct",
        entity_type="certificate",
        entity_id=certificate.id,
        changes=changes,
        summary=certificate.number,
        province_id=Provinces.load(session).current_id(certificate.province_id),
    )
    audit.enqueue_reindex(session, certificate.product_id)
    session.flush()
    return changes


def _actor_id(actor: Actor) -> int | None:
    return getattr(actor, "id", None)


def revoke_certificate(
    session: Session,
    *,
    actor: Actor,
    certificate: Certificate,
    reason: str,
    reference: str,
    on: date | None = None,
) -> CertificateEvent:
    """Revoke with a reason and the reference of the revoking decision; shown on every page at once."""
    _require_certificate(session, actor, "revoke", certificate)
    reason, reference = nfc(reason), nfc(reference)
    if not reason or not reference:
        raise PublishError(gettext("Give both the reason and the reference of the revocation decision."))
    if certificate.revoked_on is not None:
        raise PublishError(gettext("This certificate is already revoked."))
    on = on or today()
    before = {
        "revoked_on": None,
        "revoked_reason": certificate.revoked_reason,
        "revoked_reference": certificate.revoked_reference,
    }
    certificate.revoked_on, certificate.revoked_reason = on, reason
    certificate.revoked_reference = reference[:200]
    certificate.updated_at = utcnow()
    session.add(certificate)
    event = CertificateEvent(
        certificate_id=pk(certificate),
        kind="revoked",
        effective_on=on,
        actor_id=_actor_id(actor),
        reason=reason,
        reference=reference[:200],
    )
    session.add(event)
    audit.record(
        session,
        **audit_actor(actor),
        action="revoke",
        entity_type="certificate",
        entity_id=certificate.id,
        summary=f"{certificate.number or ''} — {reason}"[:500],
        changes=audit.diff(
            before, {"revoked_on": on, "revoked_reason": reason, "revoked_reference": reference}
        ),
        province_id=Provinces.load(session).current_id(certificate.province_id),
    )
    audit.enqueue_reindex(session, certificate.product_id)
    session.flush()
    return event


def reinstate_certificate(session: Session, *, actor: Actor, certificate: Certificate, reason: str) -> None:
    """Undo a revocation made in error; the history keeps both events."""
    _require_certificate(session, actor, "revoke", certificate)
    if certificate.revoked_on is None:
        raise PublishError(gettext("This certificate is not revoked."))
    if not nfc(reason):
        raise PublishError(gettext("Say why the revocation is withdrawn."))
    before = {
        "revoked_on": certificate.revoked_on,
        "revoked_reason": certificate.revoked_reason,
        "revoked_reference": certificate.revoked_reference,
    }
    certificate.revoked_on = certificate.revoked_reason = certificate.revoked_reference = None
    session.add(certificate)
    session.add(
        CertificateEvent(
            certificate_id=pk(certificate),
            kind="reinstated",
            effective_on=today(),
            actor_id=_actor_id(actor),
            reason=nfc(reason),
        )
    )
    audit.record(
        session,
        **audit_actor(actor),
        action="reinstate",
        entity_type="certificate",
        entity_id=certificate.id,
        summary=nfc(reason)[:500],
        changes=audit.diff(before, dict.fromkeys(before)),
        province_id=Provinces.load(session).current_id(certificate.province_id),
    )
    audit.enqueue_reindex(session, certificate.product_id)
    session.flush()


def add_certificate(
    session: Session,
    *,
    actor: Actor,
    product: Product,
    level: Level,
    year: int,
    number: str,
    region: Any = None,
    issued_on: date | None = None,
    expires_on: date | None = None,
    decision_number: str | None = None,
    decision_date: date | None = None,
    config: Mapping[str, Any] | None = None,
) -> Certificate:
    """A new certificate for an existing product, through the same write path as imports."""
    from catalogue.registry.models import Producer

    province = session.get(Province, product.province_id) if product.province_id else None
    require(actor, "publish", province=province, level=level)
    if province is None:
        raise PublishError(gettext("Give the product a province first."))
    if issued_on is not None and not level.exists_on(issued_on):
        raise PublishError(
            gettext(
                "The level “%(level)s” did not exist on %(day)s.",
                level=level.label,
                day=issued_on.strftime("%d/%m/%Y"),
            )
        )
    if level is Level.KHU_VUC and region is None:
        raise PublishError(gettext("A regional certificate needs its region."))
    producer = session.get(Producer, product.producer_id) if product.producer_id else None
    exists = certificate_clash(
        session, Provinces.load(session), number=number, level=level, year=year, province_id=province.id
    )
    if exists is not None:
        raise PublishError(
            gettext("Another certificate of this level already has the number %(n)s.", n=nfc(number))
        )
    rec = RecordInput(
        product=product.name,
        province=province,
        level=level,
        year=year,
        producer=producer.name if producer else None,
        locality=product.locality,
        region=region if level is Level.KHU_VUC else None,
        certificate_number=nfc(number),
        issued_on=issued_on,
        expires_on=expires_on,
        decision_number=nfc(decision_number) or None,
        decision_date=decision_date,
        group=None,
        product_id=product.id,
    )
    outcome = upsert_record(session, rec, write_context(session, actor, None, config))
    return outcome.certificate


# ----------------------------------------------------------------------------- photos


def require_product(session: Session, actor: Actor, product: Product) -> None:
    """Refuse unless ``actor`` may change ``product`` (its producer's province decides)."""
    require(actor, "use_workspace")
    permissions.require_touch(actor, ownership.product_owner(session, Provinces.load(session), product))


def add_photo(
    session: Session,
    *,
    actor: Actor,
    product: Product,
    data: bytes,
    alt: str | None = None,
    media_dir: Any = None,
) -> Photo:
    """Verify, strip and store a photo for a product (see :mod:`catalogue.registry.photos`)."""
    require_product(session, actor, product)
    stored = media.ingest(data, media_dir or current_app.config["MEDIA_DIR"])
    position = session.exec(
        select(func.count()).select_from(Photo).where(Photo.product_id == product.id)
    ).one()
    photo = Photo(
        product_id=pk(product),
        file_key=stored.file_key,
        width=stored.width,
        height=stored.height,
        alt=nfc(alt)[:300] or None,
        position=int(position),
    )
    session.add(photo)
    session.flush()
    audit.record(
        session,
        **audit_actor(actor),
        action="add_photo",
        entity_type="photo",
        entity_id=photo.id,
        summary=product.name,
        changes={"file_key": [None, photo.file_key], "product_id": [None, product.id]},
        province_id=Provinces.load(session).current_id(product.province_id),
    )
    audit.enqueue_reindex(session, pk(product))
    return photo


def remove_photo(session: Session, *, actor: Actor, photo: Photo, media_dir: Any = None) -> None:
    product = session.get(Product, photo.product_id)
    assert product is not None
    require_product(session, actor, product)
    key = photo.file_key
    audit.record(
        session,
        **audit_actor(actor),
        action="remove_photo",
        entity_type="photo",
        entity_id=photo.id,
        summary=product.name,
        changes={"file_key": [key, None]},
        province_id=Provinces.load(session).current_id(product.province_id),
    )
    session.delete(photo)
    audit.enqueue_reindex(session, pk(product))
    session.flush()
    still_used = session.exec(select(Photo.id).where(Photo.file_key == key)).first()
    if still_used is None:
        media.remove_files(media_dir or current_app.config["MEDIA_DIR"], key)


@dataclass
class ZipReport:
    attached: list[tuple[str, str]] = field(default_factory=list)  # (file, product name)
    unmatched_files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # names in the `Ảnh` column not in the zip
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def attach_batch_photos(
    session: Session, *, actor: Actor, batch: ImportBatch, data: bytes, media_dir: Any = None
) -> ZipReport:
    """Attach a zip of photos to a published batch's products, matched by the `Ảnh` column."""
    require(actor, "view_batch", province=batch.province_id)
    if batch.state != "published":
        raise PublishError(gettext("Publish the batch first, then add its photos."))
    try:
        files = media.zip_images(data)
    except media.PhotoRejected as exc:
        # The zip as a whole is unusable (damaged, too large): nothing is attached.
        raise PublishError(str(exc)) from None
    wanted: dict[str, list[dict[str, Any]]] = {}
    for row in batch.rows or []:
        name = row["values"].get("photo")
        if name:
            wanted.setdefault(media.photo_name_key(str(name)), []).append(row["values"])
    report = ZipReport()
    certificates = {(c.number, c.round_id): c for c in batch_certificates(session, actor=actor, batch=batch)}
    rounds = (
        {
            r.id: r.level
            for r in session.exec(
                select(SelectionRound).where(col(SelectionRound.id).in_({rid for _, rid in certificates}))
            ).all()
        }
        if certificates
        else {}
    )
    by_number = {(nfc(number or ""), rounds[rid]): cert for (number, rid), cert in certificates.items()}
    from catalogue.vocab import parse_level

    for key, (name, content) in sorted(files.items()):
        rows = wanted.get(key)
        if not rows:
            report.unmatched_files.append(name)
            continue
        for values in rows:
            level, _ = parse_level(str(values.get("level") or ""))
            cert = by_number.get(
                (nfc(str(values.get("certificate_number") or "")), level.value if level else "")
            )
            product = session.get(Product, cert.product_id) if cert else None
            if product is None:
                report.rejected.append((name, gettext("No published product for this row.")))
                continue
            if not content:
                report.rejected.append((name, gettext("Only JPEG, PNG and WebP photos are accepted.")))
                break
            try:
                add_photo(session, actor=actor, product=product, data=content, media_dir=media_dir)
            except media.PhotoRejected as exc:
                report.rejected.append((name, str(exc)))
                break
            report.attached.append((name, product.name))
    present = set(files)
    report.missing = sorted(
        {str(v.get("photo")) for key, rows in wanted.items() if key not in present for v in rows}
    )
    return report
