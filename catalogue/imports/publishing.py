"""Publishing a checked import batch (all rows or none) and its photos; discarding one; provenance.

:func:`publish_batch` repeats the dry run (:mod:`catalogue.imports.checking`),
then writes every row through the registry's single write path
(:func:`catalogue.registry.records.upsert_record`) inside one transaction, so
any failure leaves nothing behind. On SQLite it can stage the rows first and
hold the write lock only for one short commit. Every function checks
:mod:`~catalogue.accounts.permissions` first; a refusal is the registry's
:class:`~catalogue.registry.records.PublishError`. :func:`provenance_for` tells
which batch published a certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, insert, inspect, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, func, select

from catalogue.accounts.permissions import Actor, audit_actor, require
from catalogue.audit import services as audit
from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.clock import utcnow
from catalogue.imports import checking as importing
from catalogue.registry import matching
from catalogue.registry import photos as media
from catalogue.registry.models import Certificate, CertificateEvent, ImportBatch, Product, SelectionRound
from catalogue.registry.product_photos import add_photo
from catalogue.registry.records import STAGED_MODELS, PublishError, Staging, upsert_record, write_context
from catalogue.text import nfc
from catalogue.vocab import parse_level

#: Batch states as shown to officials (the same words as the batch list).
BATCH_STATES = {
    "pending": _l("not yet published"),
    "published": _l("published"),
    "discarded": _l("discarded"),
}


class BatchRejected(PublishError):
    """A batch with problems: nothing was published."""

    def __init__(self, report: importing.ImportReport) -> None:
        super().__init__(gettext("The batch has problems; nothing was published."))
        self.report = report


@dataclass
class PublishResult:
    """What a publish did, row by row: new, updated and unchanged records, and the products touched."""

    batch: ImportBatch
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    product_ids: list[int] = field(default_factory=list)


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
    if any(isinstance(row, OutboxEvent) for row in session.new):
        audit.outbox_written(session)  # the search sync drains them after the commit
    dialect = session.get_bind().dialect
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
        keys = [c.key for c in columns]
        statement = insert(table).compile(dialect=dialect, column_keys=keys)
        assert statement.positiontup == keys, "values are given in the statement's own order"
        out.append((str(statement), values))
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
    used = _sqlite_sequences(session)
    next_ids = {
        model: max(int(top or 0), used.get(str(model.__tablename__), 0)) + 1
        for model, top in zip(STAGED_MODELS, row, strict=False)
    }
    return row, next_ids


def _sqlite_sequences(session: Session) -> dict[str, int]:
    """The highest id each AUTOINCREMENT table ever gave (SQLite), so a merged record's id is never reused."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return {}
    exists = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).first()
    if exists is None:
        return {}
    return {
        str(name): int(seq)
        for name, seq in connection.exec_driver_sql("SELECT name, seq FROM sqlite_sequence")
    }


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
    matching.follow_writes(session)
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


def batch_certificates(session: Session, *, actor: Actor, batch: ImportBatch) -> list[Certificate]:
    """Certificates a published batch wrote or last republished."""
    require(actor, "view_batch", province=batch.province_id)
    return list(
        session.exec(
            select(Certificate).where(Certificate.batch_id == batch.id).order_by(col(Certificate.id))
        ).all()
    )


@dataclass
class ZipReport:
    """What :func:`attach_batch_photos` did with each file of the zip."""

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
