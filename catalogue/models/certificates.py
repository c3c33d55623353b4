"""Selection rounds, certificates and their event history.

A certificate's status is never stored: see :mod:`catalogue.services.status`.
Revocation is recorded as an event and mirrored in ``revoked_on`` so status
can be filtered in SQL; both are written by the same service call.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class SelectionRound(SQLModel, table=True):
    __tablename__ = "selection_round"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, index=True, unique=True)
    #: A :class:`catalogue.vocab.Level` value.
    level: str = Field(max_length=16, index=True)
    #: Regional rounds only: stored as the certifying body recorded it, never derived.
    region: str | None = Field(default=None, max_length=32, index=True)
    year: int = Field(index=True)
    #: Province (as it was then) for provincial, district and commune rounds.
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    #: District or commune, as printed, for local rounds.
    locality: str | None = Field(default=None, max_length=200)
    edition: str | None = Field(default=None, max_length=50)
    organiser: str | None = Field(default=None, max_length=300)
    issuing_authority: str | None = Field(default=None, max_length=300)
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    #: Fair or ceremony where the certificates were presented, when a source says so.
    ceremony_event_id: int | None = Field(default=None, foreign_key="event.id")
    source: str | None = None


class Certificate(SQLModel, table=True):
    __tablename__ = "certificate"
    __table_args__ = (UniqueConstraint("verify_code"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    round_id: int = Field(foreign_key="selection_round.id", index=True)
    #: Certificate number as printed (free text); unknown in many public sources.
    number: str | None = Field(default=None, max_length=100, index=True)
    #: Province as printed when certified (pre-2025 unit for older records).
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    #: May be unknown when only the year of selection is known.
    issued_on: date | None = None
    #: Expiry printed in the decision; None when it states none (the registry's
    #: assumed validity is worked out when read: services.status, never stored).
    expires_on: date | None = None
    prize: str | None = Field(default=None, max_length=100)
    revoked_on: date | None = None
    revoked_reason: str | None = None
    revoked_reference: str | None = Field(default=None, max_length=200)
    #: Provenance: the decision or public source this record comes from.
    source: str | None = None
    #: Provenance of this certificate's own publication (never a shared round's, which a
    #: later batch could rewrite): the decision that recognised it and the office that published it.
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    office: str | None = Field(default=None, max_length=300)
    #: The source's remark on this publication ("names as printed on an English page"),
    #: shown as a source remark, never mixed into names.
    source_note: str | None = None
    batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    #: Verification code printed as QR (random bits + keyed check); see services.verification.
    verify_code: str | None = Field(default=None, max_length=40)
    #: Checks counted before the check log (migration 0005), kept as they were; new checks are
    #: counted in catalogue.verification.counting and added to this for display.
    check_count: int = 0
    first_checked_at: datetime | None = None
    last_checked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CertificateEvent(SQLModel, table=True):
    """History of a certificate: issued, corrected, revoked, reinstated."""

    __tablename__ = "certificate_event"

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    kind: str = Field(max_length=16)
    #: The day the event takes effect (issue date, revocation date…), if known.
    effective_on: date | None = None
    recorded_at: datetime = Field(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    reason: str | None = None
    reference: str | None = Field(default=None, max_length=200)
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
