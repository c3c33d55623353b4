"""Merging a duplicate producer or product into the record that survives, and undoing it.

Two spellings of one producer ("HTX Chè Suối Giàng", "Hợp tác xã chè Suối Giàng") end up
as two records; an official of their province merges them. Every row that points at the
duplicate is found from SQLAlchemy's metadata (every foreign key to ``producer.id`` or
``product.id``), so the registry needs no import of the features built on it (fairs'
exhibitors and exhibits) and a table added later moves too. The duplicate's full row and
the keys of exactly the rows that moved are kept in a :class:`MergeRecord`, so an undo puts
back what the merge changed and nothing added since. Blank fields of the survivor may be
filled from the duplicate (recorded, and put back by an undo); the survivor's own values
always stay. Products merge only within one producer (or when one has none).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Table, delete, update
from sqlmodel import Session, SQLModel, col, select

from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor, Owner, audit_actor, require, require_touch
from catalogue.audit import services as audit
from catalogue.clock import utcnow
from catalogue.db import pk
from catalogue.places.services import Provinces
from catalogue.registry import ownership
from catalogue.registry.models import Certificate, MergeRecord, Producer, Product, SlugRedirect
from catalogue.registry.records import PublishError

KINDS: dict[str, type[Producer] | type[Product]] = {"producer": Producer, "product": Product}

#: Fields the survivor may take from the duplicate when its own are blank.
FILLABLE = {
    "producer": ("kind", "kind_as_printed", "address", "commune", "phone", "email", "website", "source"),
    "product": ("components", "group", "description", "locality", "producer_id"),
}

#: How the preview names the tables whose rows move (any other table is shown by its name).
TABLE_LABELS = {
    "product": _l("Products"),
    "certificate": _l("Certificates"),
    "photo": _l("Photos"),
    "product_gtin": _l("GTIN codes"),
    "exhibitor": _l("Fair exhibitors"),
    "exhibit": _l("Products shown at fairs"),
    "slug_redirect": _l("Old addresses leading here"),
}

#: Rows named in a preview per table; the count says how many there are.
SHOWN = 30


class StalePreview(PublishError):
    """One of the records changed between the preview and the confirmation."""


@dataclass
class Moving:
    """The rows of one table that point at the duplicate and will move to the survivor."""

    table: str
    column: str
    keys: list[int]
    names: list[str]

    @property
    def label(self) -> str:
        return moved_label(self.table)


@dataclass
class Preview:
    """What a merge would do, computed without writing anything."""

    kind: str
    survivor: Producer | Product
    duplicate: Producer | Product
    #: The office both records belong to.
    owner: Owner
    moving: list[Moving]
    #: ``{field: duplicate's value}``: the survivor's blank fields the duplicate can fill.
    fills: dict[str, Any]
    #: Producers: certificates of the products that move (they come along with them).
    certificates: list[str] = field(default_factory=list)
    #: Says which state was previewed; a confirmation must carry it back.
    token: str = ""


def as_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def table_of(model: type[SQLModel]) -> Table:
    table = SQLModel.metadata.tables[str(model.__tablename__)]
    return table


def _row(row: SQLModel) -> dict[str, Any]:
    """A row column by column, as JSON values."""
    return {c.name: as_json(getattr(row, c.name)) for c in table_of(type(row)).columns}


def _references(kind: str) -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) holding a foreign key to ``kind``'s id, in every feature's tables."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == kind and fk.column.name == "id":
                found.append((table, fk.parent))
    return found


def _label(row: Any, key: str) -> str:
    """How the preview names a row that moves: its name, a certificate's number, or its key."""
    values = row._mapping
    if values.get("name"):
        return str(values["name"])
    if "number" in values:
        return str(values["number"] or _("no number"))
    return f"#{values[key]}"


def _check(session: Session, actor: Actor, kind: str, survivor: Any, duplicate: Any) -> Owner:
    """Refuse unless ``actor`` owns both records and they may merge; returns their owner."""
    require(actor, "use_workspace")
    provinces = Provinces.load(session)
    owner = ownership.record_owner(session, provinces, survivor)
    other = ownership.record_owner(session, provinces, duplicate)
    require_touch(actor, owner)
    require_touch(actor, other)
    if survivor.id == duplicate.id:
        raise PublishError(_("A record cannot be merged into itself: choose its duplicate."))
    if owner.province_id != other.province_id:
        raise PublishError(
            _(
                "These records belong to different provinces (%(a)s, %(b)s): only records of one "
                "province can be merged.",
                a=owner.label,
                b=other.label,
            )
        )
    if kind == "product" and survivor.producer_id and duplicate.producer_id:
        if survivor.producer_id != duplicate.producer_id:
            raise PublishError(
                _(
                    "These products have different producers: merge the producers first, or attach "
                    "the product to the same producer."
                )
            )
    return owner


def preview(session: Session, *, actor: Actor, kind: str, survivor: Any, duplicate: Any) -> Preview:
    """What merging ``duplicate`` into ``survivor`` would move and fill; writes nothing."""
    owner = _check(session, actor, kind, survivor, duplicate)
    moving = []
    for table, column in _references(kind):
        (key,) = table.primary_key.columns
        rows = session.connection().execute(
            select(table).where(column == duplicate.id).order_by(key)  # type: ignore[call-overload]
        )
        found = list(rows.all())
        if found:
            moving.append(
                Moving(
                    table.name,
                    column.name,
                    [r._mapping[key.name] for r in found],
                    [_label(r, key.name) for r in found[:SHOWN]],
                )
            )
    fills = {
        name: getattr(duplicate, name)
        for name in FILLABLE[kind]
        if getattr(survivor, name) in (None, "") and getattr(duplicate, name) not in (None, "")
    }
    result = Preview(kind, survivor, duplicate, owner, moving, fills)
    if kind == "producer":
        product_ids = [k for m in moving if m.table == "product" for k in m.keys]
        if product_ids:
            certs = session.exec(
                select(Certificate)
                .where(col(Certificate.product_id).in_(product_ids))
                .order_by(col(Certificate.id))
            ).all()
            result.certificates = [c.number or _("no number") for c in certs]
    state = [kind, _row(survivor), _row(duplicate), [[m.table, m.column, m.keys] for m in moving]]
    result.token = hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return result


def shown_product_ids(session: Session, kind: str, record_id: int) -> list[int]:
    """The products whose search documents show this record."""
    if kind == "product":
        return [record_id]
    return [pk(p) for p in session.exec(select(Product).where(Product.producer_id == record_id)).all()]


def merge(
    session: Session, *, actor: Actor, kind: str, survivor: Any, duplicate: Any, token: str, fill_blanks: bool
) -> MergeRecord:
    """Merge ``duplicate`` into ``survivor`` as previewed (``token``); one transaction, one audit entry."""
    seen = preview(session, actor=actor, kind=kind, survivor=survivor, duplicate=duplicate)
    if token != seen.token:
        raise StalePreview(_("One of the records changed since the preview: check the preview again."))
    owner = seen.owner
    snapshot = _row(duplicate)
    duplicate_id, survivor_id = pk(duplicate), pk(survivor)
    filled: dict[str, Any] = {}
    if fill_blanks and seen.fills:
        stamp = utcnow()
        for name, value in seen.fills.items():
            filled[name] = [as_json(getattr(survivor, name)), as_json(value)]
            setattr(survivor, name, value)
        filled["updated_at"] = [as_json(survivor.updated_at), as_json(stamp)]
        survivor.updated_at = stamp
        session.add(survivor)
    session.flush()
    connection = session.connection()
    moved: dict[str, list[int]] = {}
    for m in seen.moving:
        table = SQLModel.metadata.tables[m.table]
        (key,) = table.primary_key.columns
        column = table.c[m.column]
        done = connection.execute(
            update(table).where(key.in_(m.keys), column == duplicate_id).values({m.column: survivor_id})
        )
        if done.rowcount != len(m.keys):  # another official merged or moved these rows meanwhile
            raise StalePreview(_("One of the records changed since the preview: check the preview again."))
        moved[f"{m.table}.{m.column}"] = m.keys
    # Redirects that led to the duplicate now lead to the survivor (one hop, whatever the chain).
    earlier = list(
        session.exec(
            select(SlugRedirect.id).where(SlugRedirect.kind == kind, SlugRedirect.target_id == duplicate_id)
        ).all()
    )
    if earlier:
        connection.execute(
            update(table_of(SlugRedirect))
            .where(col(SlugRedirect.id).in_(earlier))
            .values(target_id=survivor_id)
        )
        moved["slug_redirect.target_id"] = [int(i) for i in earlier if i is not None]
    session.expunge(duplicate)
    gone = connection.execute(delete(table_of(KINDS[kind])).where(table_of(KINDS[kind]).c.id == duplicate_id))
    if gone.rowcount != 1:  # merged into another record by someone else meanwhile
        raise StalePreview(_("One of the records changed since the preview: check the preview again."))
    record = MergeRecord(
        kind=kind, survivor_id=survivor_id, duplicate_id=duplicate_id, duplicate_name=snapshot["name"],
        duplicate_slug=snapshot["slug"], province_id=owner.province_id,
        merged_by=actor.id if isinstance(actor, User) else None, snapshot=snapshot, moved=moved,
        filled=filled,
    )  # fmt: skip
    session.add(record)
    session.flush()
    session.add(
        SlugRedirect(
            kind=kind,
            old_slug=snapshot["slug"],
            from_id=duplicate_id,
            target_id=survivor_id,
            merge_id=pk(record),
        )
    )
    session.expire_all()
    if kind == "product":
        audit.enqueue_reindex(session, duplicate_id, op="delete")
    for product_id in shown_product_ids(session, kind, survivor_id):  # the moved products among them
        audit.enqueue_reindex(session, product_id)
    audit.record(
        session, **audit_actor(actor), action="merge", entity_type=kind, entity_id=survivor_id,
        changes={"duplicate": [f"{snapshot['name']} (#{duplicate_id}, {snapshot['slug']})", None],
                 "moved": [None, moved_counts(moved)],
                 **{k: v for k, v in filled.items() if k != "updated_at"}},
        summary=f"{snapshot['name']} → {session.get(KINDS[kind], survivor_id).name}",  # type: ignore[union-attr]
        province_id=owner.province_id,
    )  # fmt: skip
    session.flush()
    return record


def moved_counts(moved: dict[str, list[int]]) -> dict[str, int]:
    """How many rows of each table moved, for the audit entry (the audit trail labels the tables)."""
    counts: dict[str, int] = {}
    for key, keys in moved.items():
        table = key.split(".")[0]
        counts[table] = counts.get(table, 0) + len(keys)
    return counts


def moved_label(table: str) -> str:
    """A table whose rows moved, as the official reads it."""
    return str(TABLE_LABELS.get(table, table.replace("_", " ")))


def redirect_slug(session: Session, kind: str, slug: str) -> str | None:
    """The slug of the record a merged ``slug`` now leads to, or None."""
    target = session.exec(
        select(SlugRedirect.target_id)
        .where(SlugRedirect.kind == kind, SlugRedirect.old_slug == slug)
        .order_by(col(SlugRedirect.id).desc())
    ).first()
    if target is None:
        return None
    row: Any = session.get(KINDS[kind], target)
    return str(row.slug) if row is not None else None


def visible_merges(session: Session, province_id: int | None, limit: int = 200) -> list[MergeRecord]:
    """Merges newest first: of one current province, or every one (``province_id`` None, the ministry)."""
    query = select(MergeRecord).order_by(col(MergeRecord.id).desc()).limit(limit)
    if province_id is not None:
        query = query.where(MergeRecord.province_id == province_id)
    return list(session.exec(query).all())
