"""Sign-in attempts, kept in the database so every worker and node sees the same count."""

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
