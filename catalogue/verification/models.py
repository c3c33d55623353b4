"""Verification's tables: the check log (a row per counted scan, appended and never updated), its
running tallies and device-days, consumers' reports of suspected fakes, and label runs with their
withdrawn ranges. A run stores how many codes it has, never the codes: each is computed from the
run id, the serial and a keyed MAC (:mod:`catalogue.verification.serial_codes`), so storage grows
with the labels that are scanned, not with those printed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class VerificationCheck(SQLModel, table=True):
    """One counted check of a verification code.

    INSERT-only, so counting shares no lock with the registry's writers; the
    count of a code is its number of rows (plus the certificate's
    ``check_count`` from before the log existed). ``device`` is a daily salted
    hash (see :mod:`catalogue.verification.devices`), never an address.
    Migration 0005 creates it in the main database; a separate store (the
    SQLite default) gets it from this definition (:mod:`.counting`).
    """

    __tablename__ = "verification_check"
    __table_args__ = (Index("ix_verification_check_code_checked_at", "code", "checked_at"),)

    # BIGINT on a server database; SQLite's rowid alias must be INTEGER.
    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    )
    code: str = Field(max_length=40)
    checked_at: datetime
    device: str | None = Field(default=None, max_length=32)


class VerificationTally(SQLModel, table=True):
    """Per code, the check log's running count, kept in the same transaction as each appended row.

    So a scan reads one row instead of counting a popular code's rows (a copied
    code may be checked hundreds of thousands of times). Lives in the check
    store, beside the log: only scans of the same code ever wait on its row,
    never a publish.
    """

    __tablename__ = "verification_tally"

    code: str = Field(primary_key=True, max_length=40)
    checks: int
    first_checked_at: datetime
    last_checked_at: datetime
    #: Distinct devices per day (see :class:`VerificationDeviceDay`): what the pages show.
    device_days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class FakeReport(SQLModel, table=True):
    __tablename__ = "fake_report"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    certificate_id: int | None = Field(default=None, foreign_key="certificate.id", index=True)
    code: str | None = Field(default=None, max_length=60)
    #: Current province responsible, so the right officials see it.
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    what: str = Field(max_length=2000)
    #: Where the product was bought (shop, market, website) and in which province.
    where: str | None = Field(default=None, max_length=500)
    bought_province_id: int | None = Field(default=None, foreign_key="province.id")
    #: The label run of a serial code's report (reports are grouped by certificate and run).
    label_run_id: int | None = Field(default=None, index=True)
    photo_key: str | None = Field(default=None, max_length=200)
    state: str = Field(default="new", max_length=16)


class VerificationDeviceDay(SQLModel, table=True):
    """A device that checked a code on a day: the unit the shown count is made of.

    ``device`` is already the day's pseudonym (:mod:`catalogue.verification.devices`),
    so the pair (code, device) is one device-day; the same phone reloading adds no row,
    and the tally's ``device_days`` grows only when a row is added. Lives in the
    check store beside the log; pruned with it (the tally keeps the total).
    """

    __tablename__ = "verification_device_day"

    code: str = Field(primary_key=True, max_length=40)
    device: str = Field(primary_key=True, max_length=32)
    day: date = Field(index=True)


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
