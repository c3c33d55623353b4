"""Rendering the verification pages: the template helper that skips the app's context
processors (the scan page is the hottest path), the printed URL, and the verdict's context.

Used by the verify views, the page cache and the label sheets.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request, url_for
from flask_babel import get_locale
from sqlalchemy import Connection

from catalogue.i18n import local_time
from catalogue.registry import photos as media
from catalogue.registry.catalog import verify_url
from catalogue.registry.status import Policy
from catalogue.verification import serials as lookup
from catalogue.verification import services as svc


def base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def printed_url(code: str) -> str:
    """The verification URL that a QR code or a label carries (``code`` is a real code)."""
    url = verify_url(base_url(), code)
    assert url is not None, "a real code is never empty"
    return url


def domain() -> str:
    return urlsplit(base_url()).hostname or base_url()


def photo(key: str | None) -> dict[str, str | None] | None:
    """The product photo at phone size: the 400 px variant when the photo went
    through :func:`catalogue.registry.photos.ingest` (800 px for dense screens)."""
    if not key:
        return None
    shown = url_for("public.media", key=key)
    if not key.endswith(f"-{media.DISPLAY}.webp"):
        return {"src": shown, "srcset": None}
    small = url_for("public.media", key=media.variant_key(key, "sm"))
    srcset = f"{small} {media.VARIANTS['sm']}w, {shown} {media.VARIANTS[media.DISPLAY]}w"
    return {"src": small, "srcset": srcset}


def render(template: str, **context: Any) -> str:
    """Render without the app's context processors.

    The scan page is the hottest path: Flask-Login's processor would load the
    user, and others build links this page does not need. The few globals our
    templates use are passed explicitly.
    """
    context.update(request=request, config=current_app.config, current_locale=str(get_locale()))
    return current_app.jinja_env.get_template(template).render(context)


def result_context(
    check: svc.CertificateCheck, today: date, policy: Policy, conn: Connection | None = None,
    label: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """What ``verify/result.html`` shows of a certificate on ``today`` (the count aside).

    ``label``: a serial code's state (:class:`catalogue.verification.serials.LabelState`);
    without one the page is the certificate code's, which says since when the producer
    also prints numbered labels (read on ``conn``).
    """
    standing = check.standing(today, policy)
    code = label.code if label is not None else check.code
    labels_since = None
    if label is None and conn is not None:
        started = lookup.labels_since(conn, check.id)
        labels_since = local_time(started).date() if started is not None else None
    return {
        "c": check, "status": standing.status, "standing": standing, "today": today, "domain": domain(),
        "photo": photo(check.photo_key), "canonical": verify_url(base_url(), code), "code": code,
        "label": label, "labels_since": labels_since,
    }  # fmt: skip
