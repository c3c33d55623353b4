"""Where a certificate came from: the batch that published it, by which office, from which decision and file.

Shown on the product page, the verify page and the workspace, so it lives with the registry's records.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from catalogue.registry.models import Certificate, ImportBatch


def provenance_for(session: Session, certificate: Certificate) -> dict[str, Any] | None:
    """Which batch published a certificate, by which office, when, from which decision and file.

    None when the record did not come from a workspace batch (seed data cites its source instead).
    """
    if certificate.batch_id is None:
        return None
    batch = session.get(ImportBatch, certificate.batch_id)
    if batch is None or batch.state != "published":
        return None
    return {
        "batch_id": batch.id,
        "office": batch.office,
        "published_at": batch.published_at,
        "decision_number": batch.decision_number,
        "decision_date": batch.decision_date,
        "filename": batch.filename,
        "file_sha256": batch.file_sha256,
    }
