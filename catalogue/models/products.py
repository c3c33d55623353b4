"""Products and product sets (bộ sản phẩm) with their photos."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from catalogue.clock import utcnow


class Product(SQLModel, table=True):
    __tablename__ = "product"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, index=True, unique=True)
    name: str = Field(max_length=400)
    #: True for a product set; its components are listed one per line.
    is_set: bool = False
    components: str | None = None
    #: A :class:`catalogue.vocab.ProductGroup` value; None = not yet classified.
    group: str | None = Field(default=None, max_length=64, index=True)
    #: True when the group was assigned by the registry's editors, not the source.
    group_assigned: bool = False
    description: str | None = None
    producer_id: int | None = Field(default=None, foreign_key="producer.id", index=True)
    #: Locality (commune/district) as printed; districts are not foreign keys.
    locality: str | None = Field(default=None, max_length=300)
    #: Province as printed on the latest certificate (may be a pre-2025 unit).
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Photo(SQLModel, table=True):
    __tablename__ = "photo"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    #: Stored file key under MEDIA_DIR (variants derive from it).
    file_key: str = Field(max_length=200)
    width: int | None = None
    height: int | None = None
    alt: str | None = Field(default=None, max_length=300)
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow)
