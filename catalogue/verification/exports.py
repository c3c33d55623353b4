"""Downloads built from a batch: the QR zip (inline for small batches, as a job for large ones)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable
from datetime import date
from typing import IO

from flask_babel import gettext
from sqlalchemy import Engine

from catalogue.db import pk
from catalogue.registry.catalog import verify_url
from catalogue.registry.models import Certificate
from catalogue.verification import qr
from catalogue.verification import services as verification

#: Batches with more certificates than this get their QR zip from a job (≈ 20 ms a code).
INLINE_QR_CODES = 300


def write_qr_zip(
    out: IO[bytes],
    certificates: Iterable[Certificate],
    *,
    engine: Engine,
    base: str,
    day: date,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Every printable certificate's QR code as a PNG named by its number; returns how many."""
    certificates = list(certificates)
    with engine.connect() as conn:
        checks = [c for c in (verification.find_by_id(conn, pk(cert)) for cert in certificates) if c]
    printable, revoked = verification.printable(checks, day)
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for done, check in enumerate(printable, start=1):
            url = verify_url(base, check.code)
            if url:
                label = check.number or check.code or ""
                name = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
                # An expired certificate is marked in the file name, where the printer sees it.
                mark = "HET-HIEU-LUC-" if check.status(day).value == "expired" else ""
                archive.writestr(f"{mark}{name}-{check.code}.png", qr.render_png(url))
                count += 1
            if progress is not None:
                progress(done, len(printable))
        if revoked:
            archive.writestr(
                "KHONG-IN-thu-hoi.txt",
                "\n".join([gettext("Revoked certificates: no QR code is included for them.")]
                          + [f"{c.number or '—'} · {c.product_name}" for c in revoked]) + "\n",
            )  # fmt: skip
    return count


def qr_zip_bytes(certificates: Iterable[Certificate], *, engine: Engine, base: str, day: date) -> bytes:
    out = io.BytesIO()
    write_qr_zip(out, certificates, engine=engine, base=base, day=day)
    return out.getvalue()
