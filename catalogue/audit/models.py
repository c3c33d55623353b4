"""Audit trail and the search outbox, both written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    #: None for system actions (seeding from the CLI).
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    actor_label: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=40)
    entity_type: str = Field(max_length=40)
    entity_id: int | None = None
    #: Current province the record belongs to (for filtering by province).
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    summary: str | None = Field(default=None, max_length=500)
    #: {"field": [before, after], ...}
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class OutboxEvent(SQLModel, table=True):
    """A product whose search document must be refreshed; drained after commit.

    The same rows, in the same order, are the public change feed (``/api/v1/changes``,
    :mod:`catalogue.opendata.changes`): ``kind`` and ``certificate_id`` say what changed.
    """

    __tablename__ = "search_outbox"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(index=True)
    op: str = Field(default="upsert", max_length=10)
    #: A :class:`catalogue.vocab.ChangeKind` value (rows written before it existed: null, read as corrected).
    kind: str | None = Field(default=None, max_length=16)
    certificate_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = Field(default=None, index=True)
