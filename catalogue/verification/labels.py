"""Blueprint "labels": printable label sheets (QR, name, verdict) for one certificate or a round.

Endpoints (the officials' workspace links to them through ``shell.label_url``):

- ``labels.certificate`` ``GET /v/<code>/label`` (anyone holding the code) or
  ``GET /labels/certificates/<int:cert_id>`` (officials)
- ``labels.round``       ``GET /labels/rounds/<slug>?page=`` (officials)

A revoked certificate never gets a label; an expired one is marked
(:func:`catalogue.verification.services.printable`). Labels are never counted as checks.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from sqlmodel import select

from catalogue.accounts import permissions
from catalogue.accounts.login import actor
from catalogue.clock import today as clock_today
from catalogue.db import get_engine, get_session
from catalogue.extensions import login_manager
from catalogue.paging import Pager, page_number
from catalogue.places.services import Provinces
from catalogue.registry.catalog import verify_url
from catalogue.registry.models import SelectionRound
from catalogue.registry.round_names import round_label
from catalogue.verification import qr
from catalogue.verification import services as svc
from catalogue.verification.rendering import base_url, printed_url, render
from catalogue.verification.requests import canonical_code

bp = Blueprint("labels", __name__)

#: Labels on one page of a round's sheets: ten A4 sheets of 21. A page whose QR codes are
#: all new (none cached yet) still renders in a few seconds, so no request runs long.
LABELS_PER_PAGE = 210


def _label_scope() -> set[int] | None | Response:
    """Current province ids the signed-in official may print labels for (None =
    every province), or the sign-in redirect. The rules live in accounts.permissions."""
    user = actor()
    if user is None:
        return login_manager.unauthorized()
    permissions.require(user, "use_workspace")
    scope = permissions.province_scope(user)
    return None if scope is None else {scope}


def _labels_page(
    checks: list[svc.CertificateCheck], title: str, page: int | None = None, slug: str | None = None
) -> Response:
    """A label sheet: never a label for a revoked certificate; an expired one is marked.

    With ``page`` (a round's sheets) the labels come :data:`LABELS_PER_PAGE` at a time.
    """
    media_dir = current_app.config["MEDIA_DIR"]
    day = clock_today()
    printable, revoked = svc.printable(checks, day)
    pager = None
    if page is not None:
        pager = Pager.clamped(page, len(printable), LABELS_PER_PAGE)
        printable = printable[pager.offset : pager.offset + pager.per_page]
    labels = [
        {"c": c, "url": verify_url(base_url(), c.code), "standing": c.standing(day),
         "svg": qr.cached(media_dir, printed_url(c.code), "svg").decode()}
        for c in printable
    ]  # fmt: skip
    html = render("verify/labels.html", labels=labels, title=title, revoked=revoked, pager=pager, slug=slug)
    response = Response(html)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/v/<code>/label")
@bp.get("/labels/certificates/<int:cert_id>")
def certificate(code: str | None = None, cert_id: int | None = None) -> Response:
    """A printable label for one certificate.

    By code it is open to anyone (holding the code already reveals nothing);
    by id only to an official of the certificate's province, since ids are guessable.
    """
    with get_engine().connect() as conn:
        if code is not None:
            canonical = canonical_code(code)
            check = svc.find_by_code(conn, canonical) if canonical else None
        else:
            allowed = _label_scope()
            if isinstance(allowed, Response):
                return allowed
            assert cert_id is not None  # the route gives a code or an id
            check = svc.find_by_id(conn, cert_id)
            if check is not None and allowed is not None and check.current_province_id not in allowed:
                raise permissions.Forbidden()
    if check is None:
        abort(404)
    return _labels_page([check], check.product_name)


@bp.get("/labels/rounds/<slug>", endpoint="round")
def round_sheet(slug: str) -> Response:
    """Labels for every certificate of a selection round (a provincial official
    gets those of their province)."""
    allowed = _label_scope()
    if isinstance(allowed, Response):
        return allowed
    with get_engine().connect() as conn:
        checks = svc.round_certificates(conn, slug, allowed)
    if not checks:
        abort(404)
    session = get_session()
    round_ = session.exec(select(SelectionRound).where(SelectionRound.slug == slug)).first()
    title = round_label(round_, Provinces.load(session)) if round_ else slug
    return _labels_page(checks, title, page=page_number(request.args.get("page")), slug=slug)
