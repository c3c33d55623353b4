"""The resolver's blueprint: ``/01/<gtin>[/10/<lot>][/21/<serial>]`` and ``/.well-known/gs1resolver``.

A scan of a producer's GS1 Digital Link QR lands here and is sent on (307) to the
product's page, where the registry's verdict is; a client asking for the linkset
(``?linkType=linkset`` or ``Accept: application/linkset+json``) gets every link at
once. Errors are the API's JSON shape (:mod:`catalogue.api.errors`): a resolver is
read by programs as much as by phones. Every answer is open to other sites (CORS).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _

from catalogue.api.errors import error_response
from catalogue.clock import today
from catalogue.db import get_session
from catalogue.gs1 import resolver
from catalogue.web import public_cache, public_url

bp = Blueprint("gs1", __name__)

#: How long a redirect or a linkset may be reused (a certificate revoked today shows within minutes).
MAX_AGE = 300
_cache = public_cache(MAX_AGE)


@bp.after_request
def _open_to_all(response: Response) -> Response:
    """CORS on every resolver answer (the standard asks for it), and the answer depends on ``Accept``."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Link, Location"
    response.vary.add("Accept")
    return _cache(response)


def _base() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"])


def _wants_linkset(asked: str | None) -> bool:
    """Asked by ``linkType``, or by naming the linkset's type in ``Accept`` (not by ``*/*``, nor ``;q=0``)."""
    if asked in resolver.LINKSET_REQUESTS:
        return True
    named = (q for value, q in request.accept_mimetypes if value.lower() == resolver.LINKSET_TYPE)
    return asked is None and max(named, default=0) > 0


def _json(body: dict[str, Any], mimetype: str) -> Response:
    return current_app.response_class(json.dumps(body, ensure_ascii=False), mimetype=mimetype)


def _redirect(target: str, linkset_url: str) -> Response:
    """307 to ``target`` with the request's query string passed on (``lang``…), as the standard asks."""
    passed = [(k, v) for k, v in request.args.items(multi=True) if k != "linkType"]
    if passed:
        target += ("&" if "?" in target else "?") + urlencode(passed)
    response = current_app.response_class(status=307)
    response.headers["Location"] = target
    response.headers["Link"] = f'<{linkset_url}>; rel="linkset"; type="{resolver.LINKSET_TYPE}"'
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response


def _as_sent(rest: str) -> str:
    """The path after ``/01/`` still percent-encoded when the server kept it (a serial's encoded ``/``)."""
    raw = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "").split("?", 1)[0]
    at = raw.find("/01/")
    return raw[at + 4 :] if at >= 0 else quote(rest, safe="/")


@bp.get("/01/<path:rest>")
def item(rest: str) -> Response:
    """Resolve a GTIN (with an optional lot or serial): the product page, one link type, or the linkset."""
    base = _base()
    try:
        address = resolver.read_address(base, _as_sent(rest))
    except resolver.BadAddress as exc:
        return error_response(400, str(exc))
    summary = resolver.summary_for(get_session(), address.gtin, today())
    if summary is None:
        return error_response(
            404, _("No product in the registry carries the GTIN %(gtin)s.", gtin=address.gtin)
        )
    page = public_url("public.product", slug=summary.product.slug)
    anchor = base.rstrip("/") + address.path()
    asked = resolver.link_type(request.args.get("linkType"))
    if _wants_linkset(asked):
        return _json(resolver.linkset(address, summary, base_url=base, page_url=page), resolver.LINKSET_TYPE)
    target = page  # gs1:pip, gs1:defaultLink and any link type we lack: the default link
    if asked == resolver.CERTIFICATION_INFO:
        certificates = resolver.certification_links(summary, base)
        target = certificates[0]["href"] if certificates else page
    return _redirect(target, anchor + "?linkType=linkset")


@bp.get("/.well-known/gs1resolver")
def description() -> Response:
    """What this resolver answers (GS1-Conformant Resolver Standard: the resolver description file)."""
    return _json(resolver.description(_base()), "application/json")
