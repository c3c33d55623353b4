"""Blueprint "fairs": the public list of fairs and showrooms, each one's page and a fair's calendar file.

Each view asks :mod:`catalogue.fairs.pages` for one read model and renders it;
unknown slugs are 404s. Like the registry's pages, answers are cacheable for a
minute and carry an ETag (DESIGN §3).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _

from catalogue.clock import today, utcnow
from catalogue.db import get_session
from catalogue.fairs import calendar, pages
from catalogue.places.services import Provinces
from catalogue.web import public_cache

bp = Blueprint("fairs", __name__)
bp.after_request(public_cache(60))


def _provinces() -> Provinces:
    return Provinces.load(get_session())


@bp.get("/events")
def events() -> str:
    lists = pages.event_lists(get_session(), _provinces(), today())
    return render_template("public/events.html", lists=lists)


@bp.get("/events/<slug>")
def event(slug: str) -> str:
    data = pages.event_page(get_session(), slug, _provinces())
    if data is None:
        abort(404)
    return render_template("public/event.html", page=data)


@bp.get("/events/<slug>.ics")
def event_ics(slug: str) -> Response | tuple[str, int]:
    """A fair's calendar file; without a known first day there is nothing honest to put in it."""
    data = pages.event_page(get_session(), slug, _provinces())
    if data is None:
        abort(404)
    view = data.view
    if not view.has_calendar:
        return render_template("public/no_calendar.html", view=view), 404
    url = url_for("fairs.event", slug=slug, _external=True)
    notes = [view.event.organiser or "", url]
    if view.event.end_date is None:
        notes.insert(0, _("End date unknown."))
    body = calendar.event_ics(
        view, url=url, host=request.host.split(":")[0], now=utcnow(),
        description="\n".join(n for n in notes if n),
    )  # fmt: skip
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug[:60]}.ics"'
    return response
