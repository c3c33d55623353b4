"""Blueprint "feeds": ``/feeds/certified.atom`` and ``/feeds/revoked.atom`` (filters in the query)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request, url_for
from flask_babel import get_locale

from catalogue.db import get_session
from catalogue.opendata import feeds
from catalogue.places.services import Provinces
from catalogue.search.params import SearchError, SearchParams
from catalogue.web import public_cache

bp = Blueprint("feeds", __name__)

#: Readers poll; five minutes keeps a published certificate news within minutes.
_CACHE = public_cache(300, cors=True)


@bp.get("/feeds/<kind>.atom")
def feed(kind: str) -> Response:
    if kind not in feeds.KINDS:
        abort(404)
    session = get_session()
    provinces = Provinces.load(session)
    args = {name: request.args.getlist(name) for name in feeds.FILTERS if name in request.args}
    try:
        params = SearchParams.from_args(_Args(args), provinces)
    except SearchError as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    items = feeds.entries(session, kind, params, provinces)
    body = feeds.atom(
        kind, items, params, provinces, base_url=current_app.config["PUBLIC_BASE_URL"],
        self_path=url_for("feeds.feed", kind=kind),
        product_path=lambda slug: url_for("public.product", slug=slug), locale=str(get_locale() or "vi"),
    )  # fmt: skip
    return _CACHE(Response(body, mimetype="application/atom+xml"))


class _Args(dict[str, list[str]]):
    """The feed's filters in the shape :meth:`SearchParams.from_args` reads (``getlist``)."""

    def getlist(self, name: str) -> list[str]:
        return self.get(name, [])
