"""Producers (cơ sở CNNT). Sources often give only a brand, so all but the name is optional."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class Producer(SQLModel, table=True):
    __tablename__ = "producer"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, index=True, unique=True)
    name: str = Field(max_length=300)
    #: A :class:`catalogue.vocab.ProducerKind` value, or None when the source does not say.
    kind: str | None = Field(default=None, max_length=32)
    #: The kind as the decision printed it ("Công ty TNHH", "xí nghiệp"), kept when
    #: it says more than ``kind``'s label; None when not printed.
    kind_as_printed: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=500)
    commune: str | None = Field(default=None, max_length=200)
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=200)
    website: str | None = Field(default=None, max_length=300)
    #: Contact details are shown publicly only when the record says so.
    contacts_public: bool = False
    source: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
