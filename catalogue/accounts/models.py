"""Officials' accounts and what hangs off them: sign-in attempts (kept in the database so
every worker and node sees the same count), signed-in sessions and one-time reset links.
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
    #: A provincial official who also looks after their province's other officials' accounts.
    is_lead: bool = False
    is_active: bool = True
    #: Bumped on password change so other sessions end.
    session_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class UserSession(SQLModel, table=True):
    """One signed-in browser of an official, so they can see it and end it.

    The cookie carries a random key; only its hash is stored, so a copy of the
    database signs nobody in. A row is never deleted, only ended.
    """

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    #: The browser's User-Agent as sent, cut to the column (shown in plain words).
    user_agent: str | None = Field(default=None, max_length=300)
    ended_at: datetime | None = None


class PasswordReset(SQLModel, table=True):
    """A one-time link to set a new password, issued by a ministry or lead official for another.

    Only the SHA-256 of the link's token is kept: the link is shown once, to whoever
    issued it, and is useless to anyone who reads the database or the audit log.
    """

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    #: None when issued from the command line.
    issued_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
