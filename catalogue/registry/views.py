"""Blueprint "public": the registry's pages for everyone.

Each view asks :mod:`catalogue.registry.pages` for one read model and renders
it; unknown slugs are 404s. Successful pages are cacheable for a minute and
carry an ETag (DESIGN §3), varying on the language inputs.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import text

from catalogue.clock import today, utcnow
from catalogue.db import get_session
from catalogue.i18n import COOKIE
from catalogue.paging import page_number
from catalogue.places.services import Provinces
from catalogue.registry import pages, validity
from catalogue.registry.models import Photo
from catalogue.registry.status import current_policy
from catalogue.vocab import Level
from catalogue.web import public_cache

bp = Blueprint("public", __name__)


def _page_arg() -> int:
    return page_number(request.args.get("page"))


def _provinces() -> Provinces:
    return Provinces.load(get_session())


bp.after_request(public_cache(60))


@bp.app_context_processor
def _layout_helpers() -> dict[str, object]:
    def lang_url(code: str) -> str:
        """The switch link for ``code``, returning to this page without a stale ``?lang=``."""
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
        here = request.path + ("?" + urlencode(args) if args else "")
        return url_for("switch_language", code=code, next=here)

    return {"lang_url": lang_url, "photo_url": photo_url, "LANG_COOKIE": COOKIE}


@bp.app_template_filter("sources")
def _sources(value: str | None) -> list[tuple[str, str | None]]:
    return pages.source_parts(value)


def photo_url(photo: Photo) -> str:
    return url_for("public.media", key=photo.file_key)


@bp.get("/")
def home() -> str:
    data = pages.home(get_session(), _provinces(), today())
    return render_template("public/index.html", home=data)


@bp.get("/products/<slug>")
def product(slug: str) -> str:
    data = pages.product_page(get_session(), slug, _provinces(), today())
    if data is None:
        abort(404)
    return render_template(
        "public/product.html", page=data, s=data.summary,
        policy_years=current_app.config["CERTIFICATE_VALIDITY_YEARS"],
    )  # fmt: skip


@bp.get("/producers/<slug>")
def producer(slug: str) -> str:
    data = pages.producer_page(get_session(), slug, _provinces(), today())
    if data is None:
        abort(404)
    return render_template("public/producer.html", page=data)


@bp.get("/provinces")
def provinces() -> str:
    return render_template("public/provinces.html", entries=pages.province_list(get_session(), _provinces()))


@bp.get("/provinces/<slug>")
def province(slug: str) -> str:
    data = pages.province_page(get_session(), slug, _provinces(), today(), _page_arg())
    if data is None:
        abort(404)
    return render_template("public/province.html", page=data)


@bp.get("/rounds")
def rounds() -> str:
    return render_template("public/rounds.html", entries=pages.round_list(get_session(), _provinces()))


@bp.get("/rounds/<slug>")
def round_(slug: str) -> str:
    data = pages.round_page(get_session(), slug, _provinces(), _page_arg())
    if data is None:
        abort(404)
    return render_template("public/round.html", page=data)


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
    url = url_for("public.event", slug=slug, _external=True)
    notes = [view.event.organiser or "", url]
    if view.event.end_date is None:
        notes.insert(0, _("End date unknown."))
    body = pages.event_ics(
        view, url=url, host=request.host.split(":")[0], now=utcnow(),
        description="\n".join(n for n in notes if n),
    )  # fmt: skip
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug[:60]}.ics"'
    return response


@bp.get("/media/<path:key>")
def media(key: str) -> Response:
    """Stored photos (resized and stripped on upload); keys are content hashes, so cache long."""
    return send_from_directory(current_app.config["MEDIA_DIR"], key, max_age=365 * 24 * 3600)


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """``ok`` when the database answers and the index is readable.

    While a first index is built in the background the node still serves every page
    but search (which answers 503 with progress), so it stays healthy: 200 with
    ``ok; search index building (done/total)``.
    """
    try:
        get_session().connection().execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return "database unavailable", 503, {"Content-Type": "text/plain"}
    from catalogue.search import query as search_query
    from catalogue.search.index import IndexBuilding

    try:
        search_query.snapshot().searcher.doc_count()
    except IndexBuilding as building:
        detail = f"ok; search index building ({building.done}/{building.total})"
        return detail, 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return "search index unavailable", 503, {"Content-Type": "text/plain"}
    return "ok", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}


@bp.get("/status")
def status_rules() -> str:
    """How status is decided: a public, plain explanation with each level's setting."""
    session = get_session()
    day = today()
    policy = current_policy(session)
    default_years = int(current_app.config["CERTIFICATE_VALIDITY_YEARS"])
    return render_template(
        "public/status_rules.html", history=validity.history(session, default_years),
        terms={lv: policy.term(lv, day) for lv in Level.by_rank()}, today=day,
    )  # fmt: skip
