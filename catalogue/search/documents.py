"""Products into index documents: the one path from registry rows to a Whoosh writer."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from catalogue.places.services import Provinces
from catalogue.registry.catalog import load_summaries
from catalogue.registry.status import Policy
from catalogue.search.schema import document_for

BATCH = 100  # load_summaries matches certificates per product: keep batches small
#: Documents hold dates, never a status (worked out per query with the policy then in effect),
#: so building them needs no policy from the database.
_NO_STATUS = Policy()


def apply_products(ix: whoosh_index.Index, session: Session, product_ids: list[int]) -> int:
    """Re-index (or delete) these products in one index commit; returns documents written."""
    if not product_ids:
        return 0
    provinces = Provinces.load(session)
    writer = ix.writer(timeout=30.0)
    written = 0
    try:
        for start in range(0, len(product_ids), BATCH):
            chunk = product_ids[start : start + BATCH]
            summaries = load_summaries(session, chunk, provinces, policy=_NO_STATUS)
            for summary in summaries:
                writer.update_document(**document_for(summary, provinces))
                written += 1
            for pid in set(chunk) - {s.product.id for s in summaries}:
                writer.delete_by_term("id", str(pid))
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return written


def index_products(
    writer: SegmentWriter,
    engine: Engine,
    ids: list[int],
    progress: Callable[[int, int], None] | None = None,
    offset: int = 0,
    total: int = 0,
) -> int:
    """Add the documents of these products to ``writer``; returns documents added."""
    count = 0
    total = total or len(ids)
    with Session(engine, expire_on_commit=False) as session:
        provinces = Provinces.load(session)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            for summary in load_summaries(session, chunk, provinces, policy=_NO_STATUS):
                writer.add_document(**document_for(summary, provinces))
                count += 1
            session.expunge_all()
            if progress:
                progress(offset + min(start + BATCH, len(ids)), total)
    return count
