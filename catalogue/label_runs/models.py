"""A label run and its withdrawn serial ranges.

A run stores how many codes it has, never the codes: each code is computed
from the run id, the serial and a keyed MAC (:mod:`catalogue.label_runs.codes`),
so storage grows with the labels that are scanned (the check log), not with
those printed.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class LabelRun(SQLModel, table=True):
    __tablename__ = "label_run"

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    #: Serials 1..count.
    count: int
    #: The verification key that signs this run's codes (a rotated key keeps old runs verifying).
    key_id: str = Field(max_length=1)
    #: The official's own words: the producer's order, the printer, the product size.
    note: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_by_label: str = Field(default="system", max_length=200)


class LabelWithdrawal(SQLModel, table=True):
    """Serials ``first..last`` of a run read "label withdrawn" (a lost or stolen roll).

    The certificate is untouched: a withdrawal is about labels, never about the product.
    """

    __tablename__ = "label_withdrawal"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="label_run.id", index=True)
    first_serial: int
    last_serial: int
    reason: str = Field(max_length=500)
    withdrawn_on: datetime = Field(default_factory=utcnow)
    withdrawn_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    withdrawn_by_label: str = Field(default="system", max_length=200)
