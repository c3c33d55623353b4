"""Sign-in attempts, kept in the database so every worker and node sees the same count.

Officials' accounts. Sign-in lives in the workspace; this is the table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class SignInAttempt(SQLModel, table=True):
    """One POST to the sign-in form.

    Keys are hashes (of the folded e-mail, of the client address): people type
    passwords into the e-mail field, and a throttle needs equality, not the text.
    A table rather than a counter on ``app_user`` so unknown e-mails are limited too.
    """

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        Index("ix_sign_in_attempt_email_key_at", "email_key", "at"),
        Index("ix_sign_in_attempt_client_key_at", "client_key", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email_key: str = Field(max_length=32)
    client_key: str = Field(max_length=32)
    at: datetime = Field(default_factory=utcnow, index=True)


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
