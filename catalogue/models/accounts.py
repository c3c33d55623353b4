"""Officials' accounts. Sign-in lives in the workspace; this is the table."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True, unique=True)
    name: str | None = Field(default=None, max_length=200)
    password_hash: str = Field(max_length=300)
    #: "ministry" or "province".
    role: str = Field(max_length=16)
    #: The (current) province a provincial official may act for.
    province_id: int | None = Field(default=None, foreign_key="province.id")
    is_active: bool = True
    #: Bumped on password change so other sessions end.
    session_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
