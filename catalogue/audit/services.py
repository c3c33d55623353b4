"""The one call every mutating service makes to leave an audit entry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.vocab import ChangeKind


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose values changed, as ``{field: [before, after]}``."""
    return {
        key: [_jsonable(before.get(key)), _jsonable(after.get(key))]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    changes: dict[str, Any] | None = None,
    province_id: int | None = None,
    summary: str | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (committed with the change)."""
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else (actor_label or "system"),
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=changes or None,
        province_id=province_id,
        summary=(summary or "")[:500] or None,
    )
    session.add(entry)
    return entry


#: ``session.info`` key: the session has written search-outbox rows (read by the search sync, which
#: drains them once the session commits).
OUTBOX_WRITTEN = "outbox_written"


def enqueue_reindex(
    session: Session,
    product_id: int,
    op: str = "upsert",
    *,
    kind: ChangeKind = ChangeKind.CORRECTED,
    certificate_id: int | None = None,
) -> None:
    """Queue a product for the search index, and the change feed, in the caller's transaction."""
    if op == "delete":
        kind = ChangeKind.REMOVED
    session.add(OutboxEvent(product_id=product_id, op=op, kind=kind.value, certificate_id=certificate_id))


def outbox_written(session: Session | OrmSession) -> None:
    """Say that ``session`` wrote outbox rows (the ORM's flush says so itself; raw inserts call this)."""
    session.info[OUTBOX_WRITTEN] = True
