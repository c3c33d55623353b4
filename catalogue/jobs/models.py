"""The ``job`` table: one row per background job, the source of truth for its state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class Job(SQLModel, table=True):
    __tablename__ = "job"

    id: int | None = Field(default=None, primary_key=True)
    #: "dry_run", "publish", "photo_zip" or "rebuild".
    kind: str = Field(max_length=20)
    #: "queued", "running", "done" or "failed"; "interrupted" is derived from a stale heartbeat.
    state: str = Field(default="queued", max_length=16, index=True)
    done: int = 0
    total: int = 0
    #: Its last message as worded in ``locale`` (the command line shows this one)…
    message: str | None = Field(default=None, max_length=2000)
    #: … and as message id and values, so each official reads it in their own language
    #: (:mod:`catalogue.jobs.messages`); None when a service worded it (shown as stored).
    text: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    #: What the job needs to run again (file name, decision number…); never the file itself.
    params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    #: The office's province: who may see and retry the job (the batch's rule).
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    #: The interface language of the official who started it (the job runs in it).
    locale: str = Field(default="vi", max_length=8)
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
