"""Blueprint "search": the search page (one search function for the page and the API).

``/search`` validates with :meth:`SearchParams.from_args` and calls
:func:`catalogue.search.query.run`, as ``/api/v1/products`` and its CSV do
(:mod:`catalogue.api.views`); both name facet values with
:func:`catalogue.search.labels.facet_label`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from catalogue.db import get_session
from catalogue.places.services import Provinces
from catalogue.registry.catalog import load_summaries
from catalogue.search import building
from catalogue.search.events import matching_events
from catalogue.search.labels import facet_label
from catalogue.search.params import SearchError, SearchParams
from catalogue.search.query import SearchResult, run
from catalogue.search.reader import IndexBuilding
from catalogue.vocab import CertificateStatus
from catalogue.web import public_cache

bp = Blueprint("search", __name__)
# Short-lived: a published record must show up in search within seconds.
bp.after_request(public_cache(10, cors=True))

FACET_TITLES = {
    "group": _l("Product group"),
    "province": _l("Province"),
    "region": _l("Region"),
    "level": _l("Level"),
    "year": _l("Year"),
    "status": _l("Status"),
}


@bp.errorhandler(IndexBuilding)
def index_building(exc: IndexBuilding) -> Response:
    """No index on this node yet: 503 with the build's progress; every other page still works."""
    headers = {"Retry-After": str(building.RETRY_AFTER), "Cache-Control": "no-store"}
    response = Response(render_template("search/building.html", done=exc.done, total=exc.total,
                                        percent=exc.progress.percent))  # fmt: skip
    response.status_code = 503
    response.headers.update(headers)
    return response


@dataclass
class FacetItem:
    value: str
    label: str
    count: int
    active: bool
    url: str


def _url(params: SearchParams) -> str:
    args = params.to_args()
    return url_for("search.search") + ("?" + urlencode(args) if args else "")


def _facet_items(name: str, result: SearchResult, provinces: Provinces) -> list[FacetItem]:
    params = result.params
    attr = {"group": "groups", "province": "provinces", "region": "regions", "level": "levels",
            "year": "years", "status": "statuses"}[name]  # fmt: skip
    active = {str(v) for v in getattr(params, attr)}
    items = [
        FacetItem(
            value,
            facet_label(name, value, provinces),
            count,
            value in active,
            _url(params.toggled(name, value)),
        )
        for value, count in result.facets[name]
    ]
    if name == "year":
        items.sort(key=lambda i: i.value, reverse=True)
    elif name == "province":
        items.sort(key=lambda i: (-i.count, i.label))
    return items


#: Provinces offered for browsing when a search finds nothing (the busiest; all are one link away).
BROWSE_PROVINCES = 8


@dataclass
class Browse:
    """Where to go when a search finds nothing: every product group and the busiest provinces."""

    groups: list[FacetItem]
    provinces: list[FacetItem]


def _browse(provinces: Provinces) -> Browse:
    """Browsing links with counts of valid products, from an empty search's facets."""
    everything = run(SearchParams())

    def items(name: str) -> list[FacetItem]:
        return [FacetItem(value, facet_label(name, value, provinces), count, False,
                          _url(everything.params.toggled(name, value)))
                for value, count in everything.facets[name]]  # fmt: skip

    by_count = sorted(items("province"), key=lambda i: (-i.count, i.label))
    return Browse(items("group"), by_count[:BROWSE_PROVINCES])


def _active_filters(params: SearchParams, provinces: Provinces) -> list[FacetItem]:
    """Each chosen filter with a link that removes it."""
    out = []
    for name, attr in (("group", "groups"), ("province", "provinces"), ("region", "regions"),
                       ("level", "levels"), ("year", "years")):  # fmt: skip
        for value in getattr(params, attr):
            out.append(FacetItem(str(value), facet_label(name, str(value), provinces), 0, True,
                                 _url(params.toggled(name, str(value)))))  # fmt: skip
    if params.statuses != ("valid",):
        label = (", ".join(CertificateStatus(s).label for s in params.statuses) if params.statuses
                 else _("All statuses"))  # fmt: skip
        out.append(FacetItem("status", label, 0, True, _url(replace(params, statuses=("valid",), page=1))))
    return out


@bp.get("/search")
def search() -> Any:
    session = get_session()
    provinces = Provinces.load(session)
    try:
        params = SearchParams.from_args(request.args, provinces, max_per_page=50)
    except SearchError as exc:
        q = request.args.get("q", "")[:200]
        return render_template("search/search.html", error=str(exc), result=None, q=q), 400
    result = run(params)
    summaries = load_summaries(session, result.ids, provinces)
    facets = [(name, FACET_TITLES[name], _facet_items(name, result, provinces)) for name in result.facets]
    # Nothing valid matches, yet expired or revoked certificates do: say so, not "check the spelling".
    hidden_matches = (
        bool(params.statuses)
        and not result.total
        and any(count for value, count in result.facets.get("status", []) if value not in params.statuses)
    )
    suggestion_url = None
    if result.suggestion and not hidden_matches:
        suggestion_url = _url(replace(params, q=result.suggestion, page=1))
    # Fairs and showrooms the words find, on the first page; browsing links when nothing matches.
    events = matching_events(session, params, provinces) if params.page == 1 else []
    browse = _browse(provinces) if not result.total and not result.past_end else None
    csv_args = [(k, v) for k, v in params.to_args() if k != "page"]
    csv_url = url_for("api.products_csv") + ("?" + urlencode(csv_args) if csv_args else "")
    pager = {
        "prev": _url(replace(params, page=params.page - 1)) if 1 < params.page <= result.pages else None,
        "next": _url(replace(params, page=params.page + 1)) if params.page < result.pages else None,
        "first": _url(replace(params, page=1)),
    }
    orders = (("relevance", _("Best match")), ("newest", _("Newest")), ("name", _("Name")))
    sorts = [(key, label, _url(replace(params, sort=key, page=1))) for key, label in orders]
    return render_template(
        "search/search.html",
        error=None,
        result=result,
        params=params,
        q=params.q,
        summaries=summaries,
        facets=facets,
        active=_active_filters(params, provinces),
        suggestion_url=suggestion_url,
        csv_url=csv_url,
        pager=pager,
        sorts=sorts,
        all_status_url=_url(replace(params, statuses=(), page=1)),
        hidden_matches=hidden_matches,
        events=events,
        browse=browse,
    )
