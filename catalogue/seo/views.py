"""Blueprint "seo": ``/sitemap.xml`` (an index of parts past 50,000 addresses), ``/robots.txt``
and the generated link-preview card of a product without a photo."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, send_file
from flask_babel import gettext as _

from catalogue.clock import today
from catalogue.db import get_session
from catalogue.opendata import manifest
from catalogue.places.services import Provinces
from catalogue.registry import pages
from catalogue.seo import cards, jsonld, links, sitemap
from catalogue.seo.links import absolute
from catalogue.vocab import CertificateStatus
from catalogue.web import public_cache

bp = Blueprint("seo", __name__)
#: Crawlers read these a few times a day; ten minutes keeps a new product's page close behind.
bp.after_request(public_cache(600))

XML = "application/xml"
#: The workspace, the verification pages (a code's page is for whoever holds the package) and
#: the language switch (a redirect back to a page already listed).
#: Crawlers stay out of what pages mark noindex (the workspace, verification, the language switch).
DISALLOWED = links.PRIVATE_PREFIXES


def _written(name: str) -> Response | None:
    """The sitemap file the live open-data generation wrote (None before the first one)."""
    folder = manifest.live_folder()
    path = folder / sitemap.FOLDER / name if folder is not None else None
    if path is None or not path.is_file():
        return None
    return send_file(path, mimetype=XML, max_age=600, conditional=True)


@bp.get("/sitemap.xml")
def sitemap_xml() -> Response:
    written = _written("sitemap.xml")
    if written is not None:
        return written
    items, limit = sitemap.entries(current_app, get_session()), sitemap.limit_of(current_app)
    if len(items) <= limit:
        return Response("".join(sitemap.urlset(items)), mimetype=XML)
    return Response("".join(sitemap.index(items, limit)), mimetype=XML)


@bp.get("/sitemap-<int:number>.xml")
def sitemap_part(number: int) -> Response:
    if manifest.live_folder() is not None:
        return _written(f"sitemap-{number}.xml") or abort(404)
    items, limit = sitemap.entries(current_app, get_session()), sitemap.limit_of(current_app)
    if not 1 <= number <= sitemap.parts(len(items), limit) or len(items) <= limit:
        abort(404)  # a single sitemap has no parts
    return Response("".join(sitemap.urlset(items[(number - 1) * limit : number * limit])), mimetype=XML)


@bp.get("/robots.txt")
def robots() -> Response:
    """Everything public may be crawled except the workspace and the verification pages."""
    lines = ["User-agent: *", *(f"Disallow: {p}" for p in DISALLOWED), "Allow: /", "",
             f"Sitemap: {absolute('/sitemap.xml')}", ""]  # fmt: skip
    return Response("\n".join(lines), mimetype="text/plain")


@bp.get("/og/products/<slug>.png")
def product_card(slug: str) -> Response:
    """The preview card, in the language asked for (``?lang=``)."""
    session = get_session()
    data = pages.product_page(session, slug, Provinces.load(session), today())
    if data is None:
        abort(404)
    s = data.summary
    best = s.best
    level = f"{jsonld.level_label(best)} · {best.year}" if best else ""
    if best is not None and best.standing is not None and best.standing.status is not CertificateStatus.VALID:
        # A shared card must not pass a revoked or expired product off as certified.
        level += f" · {best.standing.status.label}"
    card = cards.Card(title=s.product.name, level=level, producer=s.producer.name if s.producer else "",
                      site=_("Outstanding rural industrial products of Viet Nam"),
                      address=urlsplit(absolute("/")).netloc)  # fmt: skip
    path = cards.cached(card, current_app.config["MEDIA_DIR"])
    response = send_file(path, mimetype="image/png", max_age=3600, conditional=True)
    response.vary.add("Accept-Language")
    return response
