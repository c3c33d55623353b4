"""Blueprint "verify": what a shopper sees after scanning the QR on a package.

Stable public contract (DESIGN §4): ``/v/<code>`` never changes meaning.

Endpoints (officials' workspace links to the QR ones; label sheets are
:mod:`catalogue.verification.labels`):

- ``verify.result``            ``GET /v/<code>``  (``?as_of=YYYY-MM-DD``)
- ``verify.qr_svg``            ``GET /v/<code>/qr.svg``
- ``verify.qr_png``            ``GET /v/<code>/qr.png?size=`` (64–2048 px)
- ``verify.report``            ``GET|POST /v/<code>/report`` — report a suspected fake
- ``verify.lookup``            ``GET /verify?number=`` or ``?code=``

The JSON answers ``GET /api/v1/verify/<code>`` and ``GET /api/v1/verify?number=`` live
with the rest of the API (:mod:`catalogue.api.views`) and share this blueprint's request
reading (:mod:`catalogue.verification.requests`) and rate limits
(:data:`catalogue.verification.limits.verify_limit`).

Caching vs counting: the page is ``private, no-cache`` with a weak ETag that
leaves the count out. Every scan from a new device is a full GET and is counted
exactly once; a browser revalidating the page it already holds gets a 304 and is
not counted again. QR images and labels are never counted. A plain scan is
answered from the worker's rendering of the verdict (:mod:`catalogue.verification.page_cache`).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, get_translations
from markupsafe import Markup
from werkzeug.exceptions import TooManyRequests

from catalogue.clock import today as clock_today
from catalogue.db import get_engine, get_session
from catalogue.extensions import limiter, retry_after_seconds
from catalogue.places.services import Provinces
from catalogue.registry import photos as media
from catalogue.registry.status import current_policy
from catalogue.verification import fake_reports, history, limits, qr, serials
from catalogue.verification import services as svc
from catalogue.verification.forms import FakeReportForm
from catalogue.verification.limits import verify_limit
from catalogue.verification.page_cache import cached_page, count_html
from catalogue.verification.rendering import domain, printed_url, render, result_context
from catalogue.verification.requests import canonical_code, counts_as_scan, device, page_headers, parse_as_of
from catalogue.verification.serial_codes import is_serial

bp = Blueprint("verify", __name__)

#: QR images never change for a code.
IMMUTABLE = "public, max-age=31536000, immutable"


def _not_recognised(raw: str) -> Response:
    """HTTP 404, but a normal, helpful page (never an error page)."""
    html = render(
        "verify/unknown.html", raw=raw[:40], domain=domain(),
        report_url=url_for("verify.report", code=raw[:40]) if raw.strip() else None,
    )  # fmt: skip
    response = Response(html, 404)
    response.headers["Cache-Control"] = "no-store"
    return response


# ----------------------------------------------------------------------------- the page


@bp.get("/v/<code>")
@verify_limit
def result(code: str) -> Response:
    canonical = canonical_code(code)
    if canonical is None:
        return _not_recognised(code)
    as_of, as_of_error = parse_as_of(request.args.get("as_of"))
    today = clock_today()
    locale = str(get_locale())
    if is_serial(canonical):
        return _serial_result(code, canonical, as_of, as_of_error, locale, today)
    if as_of is not None or as_of_error or not counts_as_scan() or request.if_none_match:
        return _result_uncounted_first(code, canonical, as_of, as_of_error, locale, today)
    with get_engine().connect() as conn:
        counted = svc.count_check(conn, canonical, device())
        if counted is None:
            return _not_recognised(code)
        conn.commit()
        page = cached_page(conn, counted, canonical, locale, today)
    if page is None:
        return _not_recognised(code)
    count = count_html(counted.device_days, counted.counted_since, locale, page.translations)
    return page_headers(Response(page.head + count + page.tail), page.etag)


def _result_uncounted_first(
    raw: str, code: str, as_of: date | None, as_of_error: str | None, locale: str, today: date
) -> Response:
    """Revalidations, ``?as_of`` questions, HEAD and preview fetchers: look first, count only
    a person's plain GET whose validator no longer matches (the browser does not hold this page)."""
    with get_engine().connect() as conn:
        check = svc.find_by_code(conn, code)
        if check is None:
            return _not_recognised(raw)
        policy = current_policy(conn)
        tag = svc.etag(check, locale, today, as_of, as_of_error, policy.key)
        if request.if_none_match.contains_weak(tag):
            return page_headers(Response(status=304), tag)
        as_of_answer = None
        if as_of is not None:
            as_of_answer = history.status_as_of(check, as_of, history.load_events(conn, check.id), policy)
        elif as_of_error is None and counts_as_scan():
            counted = svc.count_check(conn, code, device())
            conn.commit()
            if counted is not None:
                check = check.with_count(counted)
        elif as_of_error is None:
            check = svc.with_checks(check)
        context = result_context(check, today, policy, conn)
    count = None
    if as_of is None and as_of_error is None:
        count = count_html(check.device_days, check.counted_since, locale, get_translations())
    html = render(
        "verify/result.html", **context, as_of=as_of_answer, as_of_error=as_of_error,
        as_of_raw=request.args.get("as_of", "")[:20], count_html=Markup(count) if count is not None else None,
    )  # fmt: skip
    return page_headers(Response(html, 400 if as_of_error else 200), tag)


def _serial_result(
    raw: str, code: str, as_of: date | None, as_of_error: str | None, locale: str, today: date
) -> Response:
    """A code printed on one package: the certificate's verdict, the label's own first check and
    device-days, or "label withdrawn". Rendered per request (each label is its own page)."""
    with get_engine().connect() as conn:
        found = serials.look_up(conn, code, current_app.config["VERIFY_KEYS"])
        if found is None:
            return _not_recognised(raw)
        policy = current_policy(conn)
        withdrawn = found.withdrawn.withdrawn_on if found.withdrawn else None
        tag = svc.etag(found.check, locale, today, as_of, as_of_error, policy.key, code, withdrawn)
        if request.if_none_match.contains_weak(tag):
            return page_headers(Response(status=304), tag)
        as_of_answer = None
        if as_of is not None:
            events = history.load_events(conn, found.check.id)
            as_of_answer = history.status_as_of(found.check, as_of, events, policy)
        label = serials.count(
            conn, found, device(), as_of is None and as_of_error is None and counts_as_scan()
        )
        context = result_context(found.check, today, policy, label=label)
    html = render(
        "verify/result.html", **context, as_of=as_of_answer, as_of_error=as_of_error,
        as_of_raw=request.args.get("as_of", "")[:20], count_html=None,
    )  # fmt: skip
    return page_headers(Response(html, 400 if as_of_error else 200), tag)


# ----------------------------------------------------------------------------- QR images


def _qr(code: str, fmt: str, size: int = qr.PNG_DEFAULT) -> Response:
    canonical = canonical_code(code)
    if canonical is None:
        return _image_not_found()
    with get_engine().connect() as conn:
        if not svc.code_exists(conn, canonical):
            return _image_not_found()
    data = qr.cached(current_app.config["MEDIA_DIR"], printed_url(canonical), fmt, size)
    response = Response(data, mimetype="image/svg+xml" if fmt == "svg" else "image/png")
    response.headers["Cache-Control"] = IMMUTABLE
    response.add_etag()
    response.make_conditional(request)
    return response


def _image_not_found() -> Response:
    return Response("Not found\n", 404, mimetype="text/plain", headers={"Cache-Control": "no-store"})


@bp.get("/v/<code>/qr.svg")
@limiter.limit(limits.per_code_limit)  # images have their own bucket: a designer fetches several sizes
def qr_svg(code: str) -> Response:
    return _qr(code, "svg")


@bp.get("/v/<code>/qr.png")
@limiter.limit(limits.per_code_limit)
def qr_png(code: str) -> Response:
    raw = request.args.get("size", "")
    size = int(raw) if raw.isdigit() and len(raw) < 6 else qr.PNG_DEFAULT
    return _qr(code, "png", qr.clamp_size(size))


# ----------------------------------------------------------------------------- lookup


@bp.get("/verify")
@verify_limit
def lookup() -> ResponseReturnValue:
    """Type the certificate number (or the code) printed next to the QR.

    A number lookup shows the verdict but never the verification code, so
    numbers (which are guessable) cannot be used to harvest printable codes;
    it is not counted as a scan of the code.
    """
    raw_code = request.args.get("code", "").strip()
    number = " ".join(request.args.get("number", "").split())[:100]
    if raw_code:
        canonical = canonical_code(raw_code)
        if canonical is not None:
            return redirect(url_for("verify.result", code=canonical))
        return render(
            "verify/lookup.html", number=number, code=raw_code[:40], results=None, code_error=True,
            domain=domain(),
        ), 404  # fmt: skip
    results = None
    if number:
        with get_engine().connect() as conn:
            results = svc.find_by_number(conn, number)
    today = clock_today()
    policy = current_policy()
    html = render(
        "verify/lookup.html", number=number, code="", results=results, code_error=False, today=today,
        domain=domain(),
        standings={c.id: c.standing(today, policy) for c in results or []},
    )  # fmt: skip
    return html, (404 if results == [] else 200)


# ----------------------------------------------------------------------------- fake reports


@bp.route("/v/<code>/report", methods=["GET", "POST"])
@limiter.shared_limit(limits.per_code_limit, scope="verify", key_func=limits.client_and_item, methods=["GET"])
@limiter.limit(limits.report_limit, methods=["POST"])
def report(code: str) -> ResponseReturnValue:
    """Report a suspected fake; stored for the officials of the certificate's province."""
    canonical = canonical_code(code)
    check, run_id = None, None
    if canonical is not None:
        with get_engine().connect() as conn:
            check, run_id = fake_reports.reported_code(conn, canonical)
    session = get_session()
    form = FakeReportForm()
    # Where it was bought is always asked; who follows up only for a code the registry does not know
    # (left empty, the report goes to the province where it was bought).
    current = [(int(p.id), p.short_name) for p in Provinces.load(session).current() if p.id is not None]
    form.offer_provinces(current, responsible=check is None)
    photo_error = None
    if form.validate_on_submit():
        photo_key = None
        upload = form.photo.data
        if upload:
            try:
                # Checked, EXIF-stripped and resized like product photos, but kept under
                # CATALOGUE_DATA_DIR/reports, outside the public media directory: a
                # report's photo may show a person or an address.
                reports_dir = current_app.config["CATALOGUE_DATA_DIR"] / "reports"
                photo_key = media.ingest(upload.read(media.MAX_PHOTO_BYTES + 1), reports_dir).file_key
            except media.PhotoRejected as exc:
                photo_error = str(exc)
        if photo_error is None:
            fake_reports.report_fake(
                session, what=form.what.data or "", where=form.where.data,
                code=canonical or code, check=check, label_run_id=run_id,
                province_id=form.province_id(form.province if check is None else None),
                bought_province_id=form.province_id(form.bought_province),
                photo_key=photo_key,
            )  # fmt: skip
            session.commit()
            return redirect(url_for("verify.report_thanks", code=canonical or code[:40]))
    status = 400 if request.method == "POST" else 200
    html = render("verify/report.html", form=form, c=check, code=(canonical or code)[:40],
                  photo_error=photo_error)  # fmt: skip
    return html, status


@bp.get("/v/<code>/report/thanks")
def report_thanks(code: str) -> str:
    canonical = canonical_code(code)
    return render("verify/report_thanks.html", code=canonical, domain=domain())


# ----------------------------------------------------------------------------- rate limit


@bp.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests) -> Response:
    response = Response(render("verify/rate_limited.html", domain=domain()))
    response.status_code = 429
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Retry-After", str(retry_after_seconds(exc)))
    return response
