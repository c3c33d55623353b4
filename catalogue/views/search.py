"""Blueprint "search": the search page and the product API (one search function).

``/search``, ``/api/v1/products`` and ``/api/v1/products.csv`` all validate
with :meth:`SearchParams.from_args` and call :func:`catalogue.search.query.run`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from catalogue.db import get_session
from catalogue.search import building
from catalogue.search.index import IndexBuilding
from catalogue.search.query import SearchError, SearchParams, SearchResult, run
from catalogue.services.catalog import ProductSummary, load_summaries, product_json, verify_url
from catalogue.services.places import Provinces
from catalogue.vocab import CertificateStatus, Level, ProductGroup, Region
from catalogue.web import public_cache

bp = Blueprint("search", __name__)
# Short-lived: a published record must show up in search within seconds.
bp.after_request(public_cache(10, cors=True))

#: Rows in one CSV export (the whole result list up to this many).
CSV_LIMIT = 10_000
#: Cells a spreadsheet would treat as a formula get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

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
    message = _("The search index is being built: %(done)d of %(total)d products so far. Please try again "
                "in a few seconds.", done=exc.done, total=exc.total)  # fmt: skip
    if request.path.startswith("/api/"):
        body = {"error": _("Search is being prepared"), "message": message,
                "building": {"done": exc.done, "total": exc.total}}  # fmt: skip
        response = jsonify(body)
    else:
        percent = int(100 * exc.done / exc.total) if exc.total else 0
        response = Response(render_template("search/building.html", done=exc.done, total=exc.total,
                                            percent=percent))  # fmt: skip
    response.status_code = 503
    response.headers.update(headers)
    return response


def facet_label(name: str, value: str, provinces: Provinces) -> str:
    """Human label of a facet value in the current language."""
    if name == "group":
        return ProductGroup(value).label
    if name == "region":
        return Region(value).label
    if name == "level":
        return Level(value).label
    if name == "status":
        return CertificateStatus(value).label
    if name == "province":
        match = provinces.match_current(value)
        return match.short_name if match else value
    return value


def _search(provinces: Provinces, **limits: int) -> SearchParams:
    try:
        return SearchParams.from_args(request.args, provinces, **limits)
    except SearchError as exc:
        abort(400, description=str(exc))


def _facets_json(result: SearchResult, provinces: Provinces) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [{"value": value, "label": facet_label(name, value, provinces), "count": count}
               for value, count in items]
        for name, items in result.facets.items()
    }  # fmt: skip


@bp.get("/api/v1/products")
def api_products() -> Any:
    session = get_session()
    provinces = Provinces.load(session)
    params = _search(provinces)
    result = run(params)
    base = current_app.config["PUBLIC_BASE_URL"]
    items = [product_json(s, base) for s in load_summaries(session, result.ids, provinces)]
    return {
        "total": result.total,
        "page": params.page,
        "per_page": params.per_page,
        "items": items,
        "facets": _facets_json(result, provinces),
        "suggestion": result.suggestion,
        "status_rules": status_rules_json(),
    }


def status_rules_json() -> dict[str, Any]:
    """How the API treats a certificate whose decision states no expiry (DESIGN §2)."""
    return {
        "url": url_for("public.status_rules", _external=True),
        "note": (
            "status is valid, expired or revoked; a certificate whose decision states no expiry is "
            'judged by the registry\'s assumed validity per level (expiry_basis "policy"): once that '
            "has passed it counts as expired (excluded from the default status=valid) although no "
            'decision says it expired. expiry_basis "decision" means the expiry is printed in the '
            "decision."
        ),
    }


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_COLUMNS = ("product", "producer", "province_as_printed", "province_now", "group", "level", "region",
               "year", "certificate_number", "status", "expires_on", "expiry_basis", "url",
               "verify_url")  # fmt: skip


def _csv_row(s: ProductSummary, base: str) -> list[str]:
    best = s.best
    return [_cell(v) for v in (
        s.product.name, s.producer.name if s.producer else "",
        s.province.short_name if s.province else "",
        s.current_province.short_name if s.current_province else "",
        s.group.label if s.group else "",
        best.level.label if best else "", best.region.label if best and best.region else "",
        best.year if best else "", best.cert.number if best else "",
        best.status.label if best else "",
        # The effective expiry; expiry_basis: "decision" (printed) or "policy" (assumed by the registry).
        best.standing.expires_on.isoformat() if best and best.standing else "",
        best.standing.basis.value if best and best.standing else "",
        url_for("public.product", slug=s.product.slug, _external=True),
        verify_url(base, best.cert.verify_code) if best else "",
    )]  # fmt: skip


@bp.get("/api/v1/products.csv")
def api_products_csv() -> Response:
    """The whole result list (up to CSV_LIMIT rows) as UTF-8 CSV with a BOM for spreadsheets."""
    session = get_session()
    provinces = Provinces.load(session)
    params = _search(provinces)
    result = run(params, limit=CSV_LIMIT)
    base = current_app.config["PUBLIC_BASE_URL"]
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for start in range(0, len(result.ids), 500):
        for summary in load_summaries(session, result.ids[start : start + 500], provinces):
            writer.writerow(_csv_row(summary, base))
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=products.csv",
    })  # fmt: skip


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
    csv_args = [(k, v) for k, v in params.to_args() if k != "page"]
    csv_url = url_for("search.api_products_csv") + ("?" + urlencode(csv_args) if csv_args else "")
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
    )
