"""The registry's assumed validity per level, as ministry officials set it.

A decision that states no expiry leaves the registry to assume one: each row
says "from ``effective_from``, certificates of ``level`` are taken to be valid
for ``years``". Rows are never edited or deleted, so the history stays (and a
status on a past day uses the setting in effect then); a level without rows
uses ``CERTIFICATE_VALIDITY_YEARS``. See :mod:`catalogue.services.status`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class ValidityPolicy(SQLModel, table=True):
    __tablename__ = "validity_policy"

    id: int | None = Field(default=None, primary_key=True)
    #: A :class:`catalogue.vocab.Level` value.
    level: str = Field(max_length=16, index=True)
    years: int
    #: The day this setting takes effect (statuses on earlier days use the previous one).
    effective_from: date
    set_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    set_at: datetime = Field(default_factory=utcnow)
    note: str | None = Field(default=None, max_length=500)
