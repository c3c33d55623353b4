"""Trade fairs and showrooms, their exhibitors and the products shown."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class Event(SQLModel, table=True):
    """A trade fair (dated) or a showroom (standing, with opening hours)."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, index=True, unique=True)
    #: A :class:`catalogue.vocab.EventKind` value.
    kind: str = Field(max_length=16, index=True)
    name: str = Field(max_length=400)
    start_date: date | None = None
    end_date: date | None = None
    opening_hours: str | None = Field(default=None, max_length=300)
    venue: str | None = Field(default=None, max_length=400)
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    organiser: str | None = Field(default=None, max_length=400)
    #: Booth count as published (may be ">500").
    booths: str | None = Field(default=None, max_length=20)
    description: str | None = None
    source: str | None = None


class Exhibitor(SQLModel, table=True):
    __tablename__ = "exhibitor"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    booth: str | None = Field(default=None, max_length=50)


class Exhibit(SQLModel, table=True):
    """A product shown by an exhibitor."""

    __tablename__ = "exhibit"

    id: int | None = Field(default=None, primary_key=True)
    exhibitor_id: int = Field(foreign_key="exhibitor.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
