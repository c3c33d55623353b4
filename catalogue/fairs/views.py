"""Blueprint "fairs": the public list of fairs and showrooms, each one's page, buyer catalogue and
calendar file, and the calendar of every fair.

Each view asks :mod:`catalogue.fairs.pages` for one read model and renders it;
unknown slugs are 404s. Like the registry's pages, answers are cacheable for a
minute and carry an ETag (DESIGN §3). Links that leave the site (calendar entries,
QR codes on paper) are built on ``PUBLIC_BASE_URL``, never on the request's host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from sqlmodel import select

from catalogue.clock import today, utcnow
from catalogue.db import get_session
from catalogue.fairs import calendar, pages
from catalogue.places.services import Provinces
from catalogue.registry.models import Product
from catalogue.verification import qr
from catalogue.web import public_cache, public_url

bp = Blueprint("fairs", __name__)
bp.after_request(public_cache(60))

#: QR images never change for a URL; a day's caching spares a printed catalogue's many requests.
QR_CACHE = "public, max-age=86400"


def _provinces() -> Provinces:
    return Provinces.load(get_session())


def _host() -> str:
    """The calendar UIDs' domain: the public address's, so an entry keeps its UID behind any proxy."""
    return urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"


def _ics(body: str, filename: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/events")
def events() -> str:
    lists = pages.event_lists(get_session(), _provinces(), today())
    feed = public_url("fairs.events_ics")
    webcal = "webcal://" + feed.split("://", 1)[1]
    return render_template("public/events.html", lists=lists, calendar_url=feed, webcal_url=webcal)


@bp.get("/events.ics")
def events_ics() -> Response:
    """Every dated fair, past and upcoming, in one subscribable calendar (named in the visitor's language)."""
    host, now = _host(), utcnow()
    entries = []
    for view in pages.calendar_views(get_session(), _provinces()):
        url = public_url("fairs.event", slug=view.event.slug)
        entries.append(
            calendar.vevent(view, url=url, host=host, now=now, description=calendar.notes(view, url))
        )
    body = calendar.calendar_file(entries, name=_("Fairs of certified rural industrial products"))
    return _ics(body, "events.ics")


@bp.get("/events/<slug>")
def event(slug: str) -> str:
    data = pages.event_page(get_session(), slug, _provinces())
    if data is None:
        abort(404)
    return render_template("public/event.html", page=data)


@bp.get("/events/<slug>/catalogue")
def event_catalogue(slug: str) -> str:
    """The printable buyer catalogue: exhibitors, booths, certified products and a QR to each product."""
    data = pages.event_page(get_session(), slug, _provinces())
    if data is None:
        abort(404)
    return render_template("public/event_catalogue.html", page=data, today=today(), public_url=public_url)


@bp.get("/events/qr/<slug>.svg")
def product_qr(slug: str) -> Response:
    """The QR code of a product page's public URL (SVG, sized for print), kept under ``MEDIA_DIR/qr``."""
    if get_session().exec(select(Product.id).where(Product.slug == slug)).first() is None:
        abort(404)
    data = qr.cached(current_app.config["MEDIA_DIR"], public_url("public.product", slug=slug), "svg")
    response = Response(data, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = QR_CACHE
    response.add_etag()
    response.make_conditional(request)
    return response


@bp.get("/events/<slug>.ics")
def event_ics(slug: str) -> Response | tuple[str, int]:
    """A fair's calendar file; without a known first day there is nothing honest to put in it."""
    data = pages.event_page(get_session(), slug, _provinces())
    if data is None:
        abort(404)
    view = data.view
    if not view.has_calendar:
        return render_template("public/no_calendar.html", view=view), 404
    url = public_url("fairs.event", slug=slug)
    body = calendar.event_ics(
        view, url=url, host=_host(), now=utcnow(), description=calendar.notes(view, url)
    )
    return _ics(body, f"{slug[:60]}.ics")
