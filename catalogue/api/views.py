"""Blueprint "api": every ``/api/v1`` endpoint, and the human-readable API page ``/api``.

One blueprint, so the contract lives in one room: each route declares its
:class:`~catalogue.api.spec.Operation` beside its code, validates its parameters with
a query model (:mod:`catalogue.api.queries`) and answers with a response model
(:mod:`catalogue.api.answers`). The views call the same services as the HTML pages —
:func:`catalogue.search.query.run` for search and CSV, :mod:`catalogue.verification.services`
and the verify page's request reading (:mod:`catalogue.verification.requests`) and rate
limits (:mod:`catalogue.verification.limits`) for verification — so the API and
the pages cannot disagree. URLs, caching headers and limits are those the endpoints always had.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from sqlalchemy import Connection
from werkzeug.exceptions import BadRequest

from catalogue.api import errors, export
from catalogue.api import spec as api_spec
from catalogue.api.answers import (
    ChangeList,
    ChangeOut,
    Event,
    EventList,
    Facets,
    FacetValue,
    NumberMatch,
    NumberMatches,
    Product,
    ProductPage,
    StatusRules,
    UnknownCode,
    UnknownNumber,
    Verification,
)
from catalogue.api.errors import BuildingError, Error
from catalogue.api.queries import ChangesQuery, CodeQuery, FilterQuery, NumberQuery, ProductQuery
from catalogue.api.spec import BAD_REQUEST, BUSY, TOO_MANY, Operation, Reply, documented
from catalogue.clock import today as clock_today
from catalogue.db import get_engine, get_session
from catalogue.fairs import pages
from catalogue.opendata import changes as change_feed
from catalogue.places.services import Provinces
from catalogue.registry.catalog import load_summaries
from catalogue.registry.status import current_policy
from catalogue.search import building, walk
from catalogue.search.labels import facet_label
from catalogue.search.params import SearchError, SearchParams
from catalogue.search.query import SearchResult, run
from catalogue.search.reader import IndexBuilding
from catalogue.verification import serials
from catalogue.verification import services as svc
from catalogue.verification.history import AsOf, load_events, status_as_of
from catalogue.verification.limits import verify_limit
from catalogue.verification.requests import (
    PAGE_CACHE,
    canonical_code,
    counts_as_scan,
    device,
    page_headers,
    parse_as_of,
)
from catalogue.web import public_cache, public_url

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("api", __name__)

_INDENT = re.compile(r"\n\s+")
#: Search answers are short-lived: a published record must show up within seconds.
SEARCH_CACHE = public_cache(10, cors=True)
LIST_CACHE = public_cache(60, cors=True)
_CACHES: dict[str, Callable[[Response], Response]] = {}


def route(path: str, operation: Operation | None, cache: Callable[[Response], Response] | None = None
          ) -> Callable[[F], F]:  # fmt: skip
    """Route a GET endpoint, declare its operation for the spec and its caching hook."""

    def register(view: F) -> F:
        bp.add_url_rule(path, view_func=view, methods=["GET"])
        endpoint = f"{bp.name}.{view.__name__}"
        if operation is not None:
            documented(endpoint, operation)
        if cache is not None:
            _CACHES[endpoint] = cache
        return view

    return register


@bp.after_request
def _headers(response: Response) -> Response:
    """Each endpoint's caching as before; OPTIONS is a CORS preflight answer, never a page."""
    if request.method == "OPTIONS" and response.status_code == 200:
        allow = response.headers.get("Allow", "GET, HEAD, OPTIONS")
        return Response(status=204, headers={"Allow": allow, "Access-Control-Allow-Origin": "*",
                                             "Access-Control-Allow-Methods": allow,
                                             "Access-Control-Max-Age": "86400"})  # fmt: skip
    hook = _CACHES.get(request.endpoint or "")
    response = hook(response) if hook else response
    # Every answer is public and needs no credentials: a browser app may read its errors too
    # (`{"status": "unknown"}` is the answer it waits for).
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


@bp.errorhandler(IndexBuilding)
def _index_building(exc: IndexBuilding) -> Response:
    """No index on this node yet: 503 with the build's progress; verification still works."""
    message = _("The search index is being built: %(done)d of %(total)d products so far. Please try again "
                "in a few seconds.", done=exc.done, total=exc.total)  # fmt: skip
    return errors.index_building(exc, message, building.RETRY_AFTER)


# ----------------------------------------------------------------------------- products

_BUILDING = Reply(503, "This server's search index is being built (first start): `building` holds `done` "
                  "and `total` products; try again after `Retry-After` seconds.", BuildingError,
                  retry_after=True)  # fmt: skip


def _search(query_model: type[FilterQuery], provinces: Provinces) -> SearchParams:
    """The request's search: checked by the documented model, then read by the search itself."""
    query_model.parse(request.args)
    try:
        return SearchParams.from_args(request.args, provinces)
    except SearchError as exc:
        raise BadRequest(description=str(exc)) from None


def _facets(result: SearchResult, provinces: Provinces) -> Facets:
    return Facets.model_validate({
        name: [FacetValue(value=value, label=facet_label(name, value, provinces), count=count)
               for value, count in result.facets.get(name, [])]
        for name in Facets.model_fields
    })  # fmt: skip


def status_rules() -> StatusRules:
    """How the API treats a certificate whose decision states no expiry (DESIGN §2)."""
    return StatusRules(
        url=public_url("public.status_rules"),
        note=(
            "status is valid, expired or revoked; a certificate whose decision states no expiry is "
            'judged by the registry\'s assumed validity per level (expiry_basis "policy"): once that '
            "has passed it counts as expired (excluded from the default status=valid) although no "
            'decision says it expired. expiry_basis "decision" means the expiry is printed in the '
            "decision."
        ),
    )


PRODUCTS = Operation(
    "searchProducts", "Search certified products with facets", "products", query=ProductQuery,
    description="One page of the products matching the words and filters, with facet counts over all "
    "matches. Each item names the product, producer and province, with its certificates.",
    replies=(Reply(200, "One page of matching products and facet counts.", ProductPage), BAD_REQUEST,
             _BUILDING),
)  # fmt: skip


@route("/api/v1/products", PRODUCTS, SEARCH_CACHE)
def products() -> Response:
    session = get_session()
    provinces = Provinces.load(session)
    params = _search(ProductQuery, provinces)
    cursor = request.args.get("cursor")
    try:
        after = walk.parse(cursor, params) if cursor else None
    except walk.BadWalk:
        message = _("This cursor belongs to another search: use the `next_cursor` of an answer with the "
                    "same words, filters and order.")  # fmt: skip
        raise BadRequest(description=message) from None
    result = run(params, after=after)
    base = current_app.config["PUBLIC_BASE_URL"]
    next_cursor = walk.token(result.last, params) if result.last else None
    next_args = [(k, v) for k, v in params.to_args() if k != "page"]
    if params.per_page != ProductQuery.model_fields["per_page"].default:
        next_args.append(("per_page", str(params.per_page)))
    page = ProductPage(
        total=result.total, page=params.page, per_page=params.per_page, suggestion=result.suggestion,
        items=[Product.of(s, base) for s in load_summaries(session, result.ids, provinces)],
        facets=_facets(result, provinces), status_rules=status_rules(), next_cursor=next_cursor,
        next=public_url("api.products") + "?" + urlencode([*next_args, ("cursor", next_cursor)])
        if next_cursor else None,
    )  # fmt: skip
    return errors.json_response(page)


PRODUCTS_CSV = Operation(
    "exportProducts", "The same search as CSV", "products", query=export.ExportQuery,
    description=export.DESCRIPTION,
    replies=(Reply(200, "UTF-8 CSV with a byte-order mark, one row per product.", media_type="text/csv",
                   schema={"type": "string"}), BAD_REQUEST, _BUILDING),
)  # fmt: skip


@route("/api/v1/products.csv", PRODUCTS_CSV, SEARCH_CACHE)
def products_csv() -> Response:
    """The whole result list (up to :data:`export.CSV_LIMIT` rows)."""
    session = get_session()
    provinces = Provinces.load(session)
    params = _search(export.ExportQuery, provinces)
    result = run(params, limit=export.CSV_LIMIT)
    return export.csv_response(session, result.ids, provinces, current_app.config["PUBLIC_BASE_URL"])


# ----------------------------------------------------------------------------- verification

_CODE = {"code": "The code from the QR (`/v/<code>`); case, spaces and dashes do not matter."}

VERIFY_CODE = Operation(
    "verifyCode", "Verify the code printed as a QR on a package", "verification", query=CodeQuery,
    path_params=_CODE,
    description="The same verdict as the page `/v/<code>`; a check of a certificate's code is counted "
    "like a scan (not with `as_of`, nor a revalidation answered 304). A package's own code (a label "
    "run's serial) is answered with its `label` history but never counted: only a person's scan of the "
    "page makes a label's first check. Rate-limited per client, shared with the page.",
    replies=(
        Reply(200, "A known certificate with its current status.", Verification),
        BAD_REQUEST,
        Reply(404, "Unknown or tampered code.", UnknownCode),
        TOO_MANY,
        BUSY,
    ),
)  # fmt: skip


@route("/api/v1/verify/<code>", VERIFY_CODE)
@verify_limit
def verify_code(code: str) -> Response:
    canonical = canonical_code(code)
    if canonical is None:
        return _unknown(UnknownCode(status="unknown"))
    query = CodeQuery.parse(request.args)
    as_of, as_of_error = parse_as_of(query.as_of)
    if as_of_error:
        raise BadRequest(description=as_of_error)
    today = clock_today()
    base = current_app.config["PUBLIC_BASE_URL"]
    with get_engine().connect() as conn:
        found, check = serials.look_up_any(conn, canonical, current_app.config["VERIFY_KEYS"])
        if check is None:
            return _unknown(UnknownCode(status="unknown"))
        withdrawn = found.withdrawn.withdrawn_on if found is not None and found.withdrawn else None
        tag = svc.etag(check, "api", today, as_of, current_policy().key, canonical, withdrawn)
        if request.if_none_match.contains_weak(tag):
            return page_headers(Response(status=304), tag)
        if found is not None:
            # Read, never counted: a shop's stock app checking every package must not become
            # each label's first check, which would make every buyer see "checked before".
            label = serials.count(conn, found, device(), counted=False)
            history = status_as_of(check, as_of, load_events(conn, check.id)) if as_of is not None else None
            body = Verification.of_check(check, today, base, as_of=history, label=label)
        else:
            answer = _count_or_history(conn, check, as_of)
            if isinstance(answer, AsOf):  # not counted, but the count is shown
                body = Verification.of_check(svc.with_checks(check), today, base, as_of=answer)
            else:
                body = Verification.of_check(answer, today, base)
    response = errors.json_response(body, headers={"Cache-Control": PAGE_CACHE})
    response.set_etag(tag, weak=True)
    return response


def _unknown(body: UnknownCode) -> Response:
    return errors.json_response(body, 404, {"Cache-Control": "no-store"})


def _count_or_history(conn: Connection, check: svc.CertificateCheck, as_of: date | None
                      ) -> svc.CertificateCheck | AsOf:  # fmt: skip
    if as_of is not None:
        return status_as_of(check, as_of, load_events(conn, check.id))
    if not counts_as_scan():
        return svc.with_checks(check)
    counted = svc.count_check(conn, check.code, device())
    conn.commit()
    return check.with_count(counted) if counted is not None else check


VERIFY_NUMBER = Operation(
    "verifyNumber", "Look up certificates by the number printed next to the QR", "verification",
    query=NumberQuery,
    description="The verdict for every certificate with this number. A number lookup never returns the "
    "verification code or its URL (numbers are guessable, codes are not) and is not counted as a "
    "check. Rate-limited per client, shared with the page.",
    replies=(
        Reply(200, "Every certificate with this number, with its current status.", NumberMatches),
        BAD_REQUEST,
        Reply(404, "No certificate has this number.", UnknownNumber),
        TOO_MANY,
        BUSY,
    ),
)  # fmt: skip


@route("/api/v1/verify", VERIFY_NUMBER)
@verify_limit
def verify_number() -> Response:
    query = NumberQuery.parse(request.args)
    with get_engine().connect() as conn:
        results = svc.find_by_number(conn, " ".join(query.number.split()))
    if not results:
        return errors.json_response(UnknownNumber(status="unknown", items=[]), 404)
    today = clock_today()
    body = NumberMatches(items=[NumberMatch.of(c, today) for c in results])
    return errors.json_response(body, headers={"Cache-Control": "public, max-age=60"})


# ----------------------------------------------------------------------------- the change feed

CHANGES = Operation(
    "listChanges", "What changed in the registry since a cursor", "changes", query=ChangesQuery,
    description="Creations, corrections, revocations, reinstatements and removals of product records in "
    "commit order, each with the product as it is now. To keep a copy in step: load the bulk download "
    "(`/data/`), then ask with `since` = its `changes_cursor`, apply each item (replace the product, or "
    "delete it when `product` is null) and ask again with `next`. A cursor is opaque; a change committed "
    "late by a long transaction is still delivered once. The answer is never cached.",
    replies=(
        Reply(200, "The changes after the cursor, and the next cursor.", ChangeList),
        BAD_REQUEST,
        Reply(410, "The changes after this cursor are no longer kept: reload the bulk download.", Error),
    ),
)  # fmt: skip


@route("/api/v1/changes", CHANGES)
def changes() -> Response:
    query = ChangesQuery.parse(request.args)
    session = get_session()
    retention = int(current_app.config["OUTBOX_DAYS"])
    base = current_app.config["PUBLIC_BASE_URL"]
    headers = {"Cache-Control": "no-store"}
    data_url = base + "/data/"
    if query.since == "now":
        page = change_feed.ChangePage([], change_feed.position_now(session), False)
    else:
        try:
            since = change_feed.Position.parse(query.since) if query.since else None
        except change_feed.BadCursor:
            raise BadRequest(description=_("This cursor is not one this registry gave: use the `next` of "
                                           "an answer, or `now`.")) from None  # fmt: skip
        try:
            page = change_feed.read(session, since, query.limit, timedelta(days=retention))
        except change_feed.CursorExpired:
            message = _(
                "The changes after this cursor are no longer kept (%(days)d days): download the registry "
                "again from %(url)s and continue from its cursor.",
                days=retention,
                url=data_url,
            )
            return errors.error_response(410, message, headers)
    provinces = Provinces.load(session)
    ids = sorted({c.product_id for c in page.changes})
    products = {s.product.id: Product.of(s, base) for s in load_summaries(session, ids, provinces)}
    items = [
        ChangeOut(seq=c.seq, at=c.at, kind=c.kind, product_id=c.product_id, certificate_id=c.certificate_id,
                  merged_into=c.merged_into, product=products.get(c.product_id))
        for c in page.changes
    ]  # fmt: skip
    body = ChangeList(items=items, next=page.next.token(), more=page.more, retention_days=retention,
                      bulk_download=data_url)  # fmt: skip
    return errors.json_response(body, headers=headers)


# ----------------------------------------------------------------------------- events and the spec

EVENTS = Operation(
    "listEvents", "Trade fairs and showrooms", "events",
    replies=(Reply(200, "Every fair and showroom.", EventList),),
)  # fmt: skip


@route("/api/v1/events", EVENTS, LIST_CACHE)
def events() -> Response:
    """Every fair and showroom: current/upcoming first, then past, undated, showrooms."""
    lists = pages.event_lists(get_session(), Provinces.load(get_session()), clock_today())
    items = [Event.of(view) for view in lists.upcoming + lists.past + lists.undated + lists.showrooms]
    return errors.json_response(EventList(total=len(items), items=items))


OPENAPI = Operation(
    "openapi", "This description (OpenAPI 3.1), generated from the code's models", "meta",
    replies=(Reply(200, "OpenAPI 3.1 document.", schema={"type": "object"}),),
)  # fmt: skip


def spec_document() -> dict[str, Any]:
    """The OpenAPI document of this app, generated once per app."""
    cache: dict[str, Any] = current_app.extensions.setdefault("api_spec", {})
    if "document" not in cache:
        cache["document"] = api_spec.document(current_app, current_app.config["PUBLIC_BASE_URL"])
    return cache["document"]


@route("/api/v1/openapi.json", OPENAPI, LIST_CACHE)
def openapi() -> Response:
    return current_app.response_class(current_app.json.dumps(spec_document()), mimetype="application/json")


@route("/api", None, public_cache(60))
def docs() -> str:
    """The API described for people, from the same document (no script, no outside assets)."""
    return _page("api/docs.html")


@route("/api/shapes", None, public_cache(60))
def shapes() -> str:
    """The answers' data shapes: the other half of the API's page (together they passed 60 KB)."""
    return _page("api/shapes.html")


def _page(template: str) -> str:
    """Its tables are deep and indented; the indentation alone would weigh more than the page may,
    and the page holds no ``<pre>``, so lines lose their leading spaces."""
    return _INDENT.sub(
        "\n",
        render_template(
            template,
            spec=spec_document(),
            error_schema=Error.__name__,
            type_html=api_spec.type_html,
            prose=api_spec.prose_html,
        ),
    )


documented("health.healthz", Operation(
    "health", "Health check", "meta",
    replies=(
        Reply(200, "`ok` when the database and the search index answer; `ok; search index building "
              "(done/total)` while a first index is built.", media_type="text/plain",
              schema={"type": "string"}),
        Reply(503, "A dependency is unavailable.", media_type="text/plain", schema={"type": "string"}),
    ),
))  # fmt: skip
