"""Blueprint "public": the registry's pages for everyone.

Each view asks :mod:`catalogue.registry.pages` for one read model and renders
it, with what other features add to the page (:mod:`catalogue.registry.parts`);
unknown slugs are 404s, but a merged record's old slug answers 301 with the
survivor's page (:mod:`catalogue.registry.merging`). Successful pages are
cacheable for a minute and carry an ETag (DESIGN §3), varying on the language inputs.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from catalogue.clock import today
from catalogue.db import get_session
from catalogue.paging import page_number
from catalogue.places.services import Provinces
from catalogue.registry import gtins, merging, pages, parts, photos, validity
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


def _sources(value: str | None) -> list[tuple[str, str | None]]:
    return pages.source_parts(value)


def init_app(app: Flask) -> None:
    """The registry's template helpers, for every page (the workspace's too): called by create_app."""
    app.add_template_global(photo_url, "photo_url")
    app.add_template_filter(_sources, "sources")
    app.add_template_filter(gtins.printed, "gtin")  # as printed under the barcode


def photo_url(photo: Photo) -> str:
    return url_for("public.media", key=photo.file_key)


@bp.get("/")
def home() -> str:
    session, provinces, day = get_session(), _provinces(), today()
    data = pages.home(session, provinces, day)
    return render_template("public/index.html", home=data, **parts.for_home(session, provinces, day))


#: How long (seconds) a merged record's old address may be remembered as moved: one hour.
REDIRECT_MAX_AGE = 3600


def _merged(kind: str, slug: str) -> WerkzeugResponse:
    """A merged record's old address: a permanent redirect to the survivor's page, else 404."""
    target = merging.redirect_slug(get_session(), kind, slug)
    if target is None:
        abort(404)
    # Only the language travels along: any other argument would reach url_for (``_scheme``,
    # ``_external``: an absolute address built from the Host header, or a clash with ``slug``).
    lang = request.args.get("lang") or None
    answer = redirect(url_for(f"public.{kind}", slug=target, lang=lang), 301)
    # Bounded, so that browsers and caches ask again within the hour once a merge is undone.
    answer.headers["Cache-Control"] = f"public, max-age={REDIRECT_MAX_AGE}"
    return answer


@bp.get("/products/<slug>")
def product(slug: str) -> str | WerkzeugResponse:
    session, provinces = get_session(), _provinces()
    data = pages.product_page(session, slug, provinces, today())
    if data is None:
        return _merged("product", slug)
    return render_template(
        "public/product.html", page=data, s=data.summary,
        policy_years=current_app.config["CERTIFICATE_VALIDITY_YEARS"],
        **parts.for_product(session, provinces, data.summary),
    )  # fmt: skip


@bp.get("/producers/<slug>")
def producer(slug: str) -> str | WerkzeugResponse:
    data = pages.producer_page(get_session(), slug, _provinces(), today(), _page_arg())
    if data is None:
        return _merged("producer", slug)
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
    session, provinces = get_session(), _provinces()
    data = pages.round_page(session, slug, provinces, _page_arg())
    if data is None:
        abort(404)
    extra = parts.for_round(session, provinces, data.entry.round)
    return render_template("public/round.html", page=data, **extra)


@bp.get("/media/<path:key>")
def media(key: str) -> Response:
    """Stored photos (resized and stripped on upload); keys are content hashes, so cache long."""
    return photos.serve(key)


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
