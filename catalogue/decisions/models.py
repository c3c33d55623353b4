"""A revocation decision: one number, date and reason under which many certificates were revoked or
reinstated.

Each certificate's own event names it (``CertificateEvent.decision_id``), so the
decision's page lists its certificates and every certificate's history links back.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class RevocationDecision(SQLModel, table=True):
    __tablename__ = "revocation_decision"

    id: int | None = Field(default=None, primary_key=True)
    #: "revoke" or "reinstate".
    action: str = Field(max_length=16)
    number: str = Field(max_length=200, index=True)
    decided_on: date
    reason: str
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    #: The office that applied it, as shown publicly (a proper name, not translated).
    office: str = Field(max_length=300)
    #: The provincial office's province; None for the ministry. Decides who sees the decision.
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    count: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
