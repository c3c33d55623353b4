"""Undoing a merge: the duplicate comes back as it was, with exactly the rows that moved.

Kept apart from :mod:`catalogue.registry.merging` (preview and merge) because an undo has
refusals of its own: a later merge of the survivor, of the record's producer, an id or
address taken since, or another official's undo of the same merge a moment earlier (the
undo claims the :class:`MergeRecord` with a conditional update before it writes anything).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Date, DateTime, Table, delete, insert, update
from sqlmodel import Session, SQLModel, col, select

from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor, audit_actor, require, require_touch
from catalogue.audit import services as audit
from catalogue.clock import utcnow
from catalogue.db import pk
from catalogue.places.services import Provinces
from catalogue.registry.merging import KINDS, as_json, moved_counts, shown_product_ids, table_of
from catalogue.registry.models import MergeRecord, Producer, Product, SlugRedirect
from catalogue.registry.ownership import record_owner
from catalogue.registry.records import PublishError


def _missing_parent(session: Session, table: Table, values: dict[str, Any]) -> str | None:
    """Why the restored row cannot go back: a foreign key naming a row that is gone (merged away)."""
    for fk in table.foreign_keys:
        value = values.get(fk.parent.name)
        if value is None:
            continue
        target = fk.column.table
        if session.connection().execute(select(target.c.id).where(fk.column == value)).first() is not None:
            continue
        later = session.exec(
            select(MergeRecord)
            .where(MergeRecord.kind == target.name, MergeRecord.duplicate_id == value)
            .where(col(MergeRecord.undone_at).is_(None))
            .order_by(col(MergeRecord.id).desc())
        ).first()
        if later is not None and target.name in KINDS:
            into: Any = session.get(KINDS[target.name], later.survivor_id)
            return _(
                "This record cannot come back yet: its producer was merged into “%(name)s”; "
                "undo that merge first.",
                name=into.name if into is not None else f"#{later.survivor_id}",
            )
        return _("A record it refers to (%(table)s #%(id)s) no longer exists.", table=target.name, id=value)
    return None


def _typed(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's JSON values back as the columns' Python values (dates, times)."""
    out = {}
    for column in table.columns:
        value = values.get(column.name)
        kind = getattr(column.type, "impl", column.type)
        if isinstance(value, str) and isinstance(kind, DateTime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(kind, Date):
            value = date.fromisoformat(value)
        out[column.name] = value
    return out


def undo(session: Session, *, actor: Actor, merge_record: MergeRecord) -> Producer | Product:
    """Put the duplicate back as it was with exactly the rows that moved; refuse when no longer possible."""
    require(actor, "use_workspace")
    kind = merge_record.kind
    model: Any = KINDS[kind]  # Producer or Product: the rows are handled alike
    provinces = Provinces.load(session)
    survivor = session.get(model, merge_record.survivor_id)
    if survivor is not None:
        require_touch(actor, record_owner(session, provinces, survivor))
    restored = model(**_typed(table_of(model), merge_record.snapshot))
    require_touch(actor, record_owner(session, provinces, restored))
    if merge_record.undone_at is not None:
        raise PublishError(_("This merge has already been undone."))
    # Claim the merge before anything else: of two undos at once, the second finds it taken
    # (the claim is rolled back with the transaction when a check below refuses).
    claimed = session.connection().execute(
        update(table_of(MergeRecord))
        .where(table_of(MergeRecord).c.id == merge_record.id, table_of(MergeRecord).c.undone_at.is_(None))
        .values(undone_at=utcnow(), undone_by=actor.id if isinstance(actor, User) else None)
    )
    if claimed.rowcount != 1:
        raise PublishError(_("This merge has already been undone."))
    if survivor is None:
        raise PublishError(
            _("The record it was merged into no longer exists (merged again?): undo that later merge first.")
        )
    if session.get(model, merge_record.duplicate_id) is not None:
        raise PublishError(
            _(
                "The merged record's number %(n)s is used by another record now: it cannot be restored.",
                n=merge_record.duplicate_id,
            )
        )
    if session.exec(select(model.id).where(model.slug == merge_record.duplicate_slug)).first() is not None:
        raise PublishError(
            _(
                "The address %(slug)s is used by another record now: the merge cannot be undone.",
                slug=merge_record.duplicate_slug,
            )
        )
    values = _typed(table_of(model), merge_record.snapshot)
    missing = _missing_parent(session, table_of(model), values)
    if missing is not None:
        raise PublishError(missing)
    survivor_id, duplicate_id = pk(survivor), merge_record.duplicate_id
    # Survivor fields the merge filled go back, unless an official has changed them since.
    filled = dict(merge_record.filled)
    stamp = filled.pop("updated_at", None)
    untouched = True
    for name, (before, after) in filled.items():
        if as_json(getattr(survivor, name)) == after:
            setattr(survivor, name, before)
        else:
            untouched = False
    if stamp is not None and untouched and as_json(survivor.updated_at) == stamp[1]:
        survivor.updated_at = datetime.fromisoformat(stamp[0])
    session.add(survivor)
    session.flush()
    connection = session.connection()
    connection.execute(insert(table_of(model)).values(values))
    back: dict[str, list[int]] = {}
    for target, keys in merge_record.moved.items():
        table_name, column_name = target.split(".")
        table = SQLModel.metadata.tables[table_name]
        (key,) = table.primary_key.columns
        column = table.c[column_name]
        still = [r[0] for r in connection.execute(
            select(key).where(key.in_(keys), column == survivor_id)
        ).all()]  # fmt: skip
        if still:
            connection.execute(update(table).where(key.in_(still)).values({column_name: duplicate_id}))
        back[target] = still
    connection.execute(
        delete(table_of(SlugRedirect)).where(table_of(SlugRedirect).c.merge_id == merge_record.id)
    )
    session.flush()
    session.expire_all()
    touched = set(shown_product_ids(session, kind, duplicate_id)) | set(
        shown_product_ids(session, kind, survivor_id)
    )
    for product_id in sorted(touched):
        audit.enqueue_reindex(session, product_id)
    name = f"{merge_record.duplicate_name} (#{duplicate_id}, {merge_record.duplicate_slug})"
    audit.record(
        session, **audit_actor(actor), action="unmerge", entity_type=kind, entity_id=duplicate_id,
        changes={"duplicate": [None, name], "moved": [moved_counts(back), None]},
        summary=merge_record.duplicate_name, province_id=merge_record.province_id,
    )  # fmt: skip
    session.flush()
    found = session.get(model, duplicate_id)
    assert found is not None
    return found
