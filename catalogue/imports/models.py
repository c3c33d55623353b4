"""Import batches (a decision's spreadsheet) and consumers' reports of suspected fakes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class ImportBatch(SQLModel, table=True):
    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    #: The office that published it, as shown publicly.
    office: str | None = Field(default=None, max_length=300)
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    filename: str = Field(max_length=300)
    file_sha256: str = Field(max_length=64)
    #: "pending", "published" or "discarded".
    state: str = Field(default="pending", max_length=16)
    published_at: datetime | None = None
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    row_count: int = 0
    #: Parsed rows kept between the dry run and publishing.
    rows: list[Any] | None = Field(default=None, sa_column=Column(JSON))


class FakeReport(SQLModel, table=True):
    __tablename__ = "fake_report"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    certificate_id: int | None = Field(default=None, foreign_key="certificate.id", index=True)
    code: str | None = Field(default=None, max_length=60)
    #: Current province responsible, so the right officials see it.
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    what: str = Field(max_length=2000)
    where: str | None = Field(default=None, max_length=500)
    photo_key: str | None = Field(default=None, max_length=200)
    state: str = Field(default="new", max_length=16)
