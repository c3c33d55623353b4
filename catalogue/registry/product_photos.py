"""A product's photos as records: attach one (checked and stored by :mod:`.photos`) or remove it.

Permission first (the product's owning office, :func:`.ownership.require_product`),
then the photo row with an audit entry and a search-outbox row; the files are
removed once no photo uses them.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlmodel import Session, func, select

from catalogue.accounts.permissions import Actor, audit_actor
from catalogue.audit import services as audit
from catalogue.db import pk
from catalogue.places.services import Provinces
from catalogue.registry import photos as media
from catalogue.registry.models import Photo, Product
from catalogue.registry.ownership import require_product
from catalogue.text import nfc


def add_photo(
    session: Session,
    *,
    actor: Actor,
    product: Product,
    data: bytes,
    alt: str | None = None,
    media_dir: Any = None,
) -> Photo:
    """Verify, strip and store a photo for a product (see :mod:`catalogue.registry.photos`)."""
    require_product(session, actor, product)
    stored = media.ingest(data, media_dir or current_app.config["MEDIA_DIR"])
    position = session.exec(
        select(func.count()).select_from(Photo).where(Photo.product_id == product.id)
    ).one()
    photo = Photo(
        product_id=pk(product),
        file_key=stored.file_key,
        width=stored.width,
        height=stored.height,
        alt=nfc(alt)[:300] or None,
        position=int(position),
    )
    session.add(photo)
    session.flush()
    audit.record(
        session,
        **audit_actor(actor),
        action="add_photo",
        entity_type="photo",
        entity_id=photo.id,
        summary=product.name,
        changes={"file_key": [None, photo.file_key], "product_id": [None, product.id]},
        province_id=Provinces.load(session).current_id(product.province_id),
    )
    audit.enqueue_reindex(session, pk(product))
    return photo


def remove_photo(session: Session, *, actor: Actor, photo: Photo, media_dir: Any = None) -> None:
    """Remove a photo from its product; its files go once no other photo uses them."""
    product = session.get(Product, photo.product_id)
    assert product is not None
    require_product(session, actor, product)
    key = photo.file_key
    audit.record(
        session,
        **audit_actor(actor),
        action="remove_photo",
        entity_type="photo",
        entity_id=photo.id,
        summary=product.name,
        changes={"file_key": [key, None]},
        province_id=Provinces.load(session).current_id(product.province_id),
    )
    session.delete(photo)
    audit.enqueue_reindex(session, pk(product))
    session.flush()
    still_used = session.exec(select(Photo.id).where(Photo.file_key == key)).first()
    if still_used is None:
        media.remove_files(media_dir or current_app.config["MEDIA_DIR"], key)
