"""Blueprint "verify": what a shopper sees after scanning the QR on a package.

Stable public contract (DESIGN §4): ``/v/<code>`` never changes meaning.

Endpoints (officials' workspace links to the label and QR ones):

- ``verify.result``            ``GET /v/<code>``  (``?as_of=YYYY-MM-DD``)
- ``verify.qr_svg``            ``GET /v/<code>/qr.svg``
- ``verify.qr_png``            ``GET /v/<code>/qr.png?size=`` (64–2048 px)
- ``verify.report``            ``GET|POST /v/<code>/report`` — report a suspected fake
- ``verify.label_certificate`` ``GET /v/<code>/label`` (anyone holding the code) or
  ``GET /labels/certificates/<int:cert_id>`` (officials)
- ``verify.label_round``       ``GET /labels/rounds/<slug>`` (officials)
- ``verify.lookup``            ``GET /verify?number=`` or ``?code=``

The JSON answers ``GET /api/v1/verify/<code>`` and ``GET /api/v1/verify?number=`` live
with the rest of the API (:mod:`catalogue.api.views`) and share this module's code
check (:func:`_code`), date check (:func:`_parse_as_of`) and rate limits (:data:`verify_limit`).

Caching vs counting: the page is ``private, no-cache`` with a weak ETag that
leaves the count out. Every scan from a new device is a full GET and is counted
exactly once; a browser revalidating the page it already holds gets a 304 and is
not counted again. QR images and labels are never counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from time import monotonic
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, get_locale, get_translations, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileSize
from markupsafe import Markup
from sqlalchemy import Connection
from sqlmodel import select
from werkzeug.exceptions import TooManyRequests
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from catalogue.accounts import permissions
from catalogue.accounts.login import actor
from catalogue.clock import VIETNAM
from catalogue.clock import today as clock_today
from catalogue.db import get_engine, get_session
from catalogue.extensions import limiter, login_manager, retry_after_seconds
from catalogue.i18n import fmt_date
from catalogue.paging import Pager, page_number
from catalogue.places.services import Provinces
from catalogue.registry import photos as media
from catalogue.registry.catalog import verify_url
from catalogue.registry.codes import parse_code
from catalogue.registry.models import SelectionRound
from catalogue.registry.round_names import round_label
from catalogue.registry.status import Policy, current_policy
from catalogue.verification import limits, qr
from catalogue.verification import services as svc
from catalogue.verification.devices import device_hash
from catalogue.workspace.forms import Form

bp = Blueprint("verify", __name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Pages that show a verdict: must reach the app on every view (see module docstring).
PAGE_CACHE = "private, no-cache"
#: QR images never change for a code.
IMMUTABLE = "public, max-age=31536000, immutable"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _report_limit() -> str:
    return current_app.config["VERIFY_REPORT_RATE_LIMIT"]


def _when_enabled(decorator: Callable[[F], F]) -> Callable[[F], F]:
    """Apply a Flask-Limiter decorator, skipping its bookkeeping while limiting is
    switched off (``RATELIMIT_ENABLED=false``), so a benchmark measures the page."""

    def wrap(view: F) -> F:
        limited = decorator(view)

        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            return (limited if limiter.enabled else view)(*args, **kwargs)

        return cast(F, inner)

    return wrap


def _verify_limits(view: F) -> F:
    """Budgets shared by every look-up (page, API, lookup form), so spreading requests
    over endpoints does not multiply them; who each counts: :mod:`catalogue.verification.limits`."""
    limited: Callable[..., Any] = view
    for decorate in (
        limiter.shared_limit(limits.per_code_limit, scope="verify", key_func=limits.client_and_item),
        limiter.shared_limit(limits.per_client_limit, scope="verify-client"),
        limiter.shared_limit(limits.failed_limit, scope="verify-misses", deduct_when=limits.found_nothing),
    ):
        limited = decorate(limited)
    return cast(F, limited)


verify_limit = _when_enabled(_verify_limits)


def _code(raw: str | None) -> str | None:
    """Canonical code or None; pure computation, no database work.

    Correctly signed codes are remembered per app (a printed code is scanned
    again and again); rejected ones are not, so forgeries cannot fill the cache.
    """
    known: dict[str, str] = current_app.extensions.setdefault("verify_codes", {})
    canonical = known.get(raw) if raw else None
    if canonical is None:
        canonical = parse_code(raw, current_app.config["VERIFY_KEYS"])
        if canonical is not None and raw:
            if len(known) >= 8192:
                known.clear()
            known[raw] = canonical
    return canonical


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def _printed_url(code: str) -> str:
    """The verification URL that a QR code or a label carries (``code`` is a real code)."""
    url = verify_url(_base_url(), code)
    assert url is not None, "a real code is never empty"
    return url


def _domain() -> str:
    return urlsplit(_base_url()).hostname or _base_url()


def _photo(key: str | None) -> dict[str, str | None] | None:
    """The product photo at phone size: the 400 px variant when the photo went
    through :func:`catalogue.registry.photos.ingest` (800 px for dense screens)."""
    if not key:
        return None
    shown = url_for("public.media", key=key)
    if not key.endswith(f"-{media.DISPLAY}.webp"):
        return {"src": shown, "srcset": None}
    small = url_for("public.media", key=media.variant_key(key, "sm"))
    srcset = f"{small} {media.VARIANTS['sm']}w, {shown} {media.VARIANTS[media.DISPLAY]}w"
    return {"src": small, "srcset": srcset}


def _render(template: str, **context: Any) -> str:
    """Render without the app's context processors.

    The scan page is the hottest path: Flask-Login's processor would load the
    user, and others build links this page does not need. The few globals our
    templates use are passed explicitly.
    """
    context.update(request=request, config=current_app.config, current_locale=str(get_locale()))
    return current_app.jinja_env.get_template(template).render(context)


def _not_recognised(raw: str) -> Response:
    """HTTP 404, but a normal, helpful page (never an error page)."""
    html = _render(
        "verify/unknown.html", raw=raw[:40], domain=_domain(),
        report_url=url_for("verify.report", code=raw[:40]) if raw.strip() else None,
    )  # fmt: skip
    response = Response(html, 404)
    response.headers["Cache-Control"] = "no-store"
    return response


def _parse_as_of(raw: str | None) -> tuple[date | None, str | None]:
    """``(day, error)`` for ``?as_of=``; error is a translated sentence."""
    if raw is None or raw == "":
        return None, None
    try:
        if not _ISO_DAY.match(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        return None, gettext("Enter the date as year-month-day, for example 2025-03-14.")
    if day > clock_today():
        return None, gettext("That date is in the future: choose the day you bought the product.")
    return day, None


def _page_headers(response: Response, tag: str) -> Response:
    response.headers["Cache-Control"] = PAGE_CACHE
    response.set_etag(tag, weak=True)
    response.vary.update({"Accept-Language", "Cookie"})
    return response


# ----------------------------------------------------------------------------- the page
#
# The hot path (a plain scan) reads the certificate's state, appends the check to
# the check log (never the registry's write lock), then fills the count into the
# page's HTML, rendered once per (certificate version, language, day) and kept per
# app in each worker for PAGE_TTL seconds. The read returns
# the certificate's ``updated_at``, ``revoked_on`` and ``expires_on``, so a
# revocation, reinstatement or correction shows at once; an edit of the product
# or producer (other tables) shows within PAGE_TTL.

PAGE_TTL = 60.0
_PAGE_CACHE_MAX = 4096
_COUNT_SLOT, _WARN_SLOT = "\x00count\x00", "\x00warn\x00"


@dataclass(frozen=True)
class _Page:
    born: float
    check: svc.CertificateCheck
    etag: str
    head: str
    middle: str
    tail: str
    #: The language's catalogue and warning, so a hit needs no Babel look-ups.
    translations: Any
    warning: str


_DATES: dict[tuple[str, date], str] = {}


def _count_html(count: int, first: datetime | None, locale: str, translations: Any) -> str:
    """ "12 times since 3 Mar 2026", straight from the catalogue (no Jinja on the hot path)."""
    # Below 1,000 every locale writes the number the same way.
    num = str(count) if count < 1000 else format_decimal(count)
    text = translations.ngettext("%(num)s time", "%(num)s times", count) % {"num": num}
    if first is not None:
        day = first.astimezone(VIETNAM).date()
        shown = _DATES.get((locale, day))
        if shown is None:
            shown = _DATES.setdefault((locale, day), fmt_date(day))
        text += " " + translations.gettext("since %(date)s") % {"date": shown}
    return str(Markup.escape(text))  # plain str: concatenated with the cached page text


def _warn_html(translations: Any) -> str:
    message = translations.gettext(
        "This code has been checked unusually often. One package is normally checked only a few "
        "times: the code may have been copied onto other packages. Compare the photo, name and "
        "producer above with what you hold."
    )
    return str(Markup('<p class="warn" role="note">%s</p>') % message)


def _device() -> str:
    """This client's daily pseudonym for the check log (no address is stored)."""
    return device_hash(current_app.config["SECRET_KEY"], clock_today(), request.remote_addr,
                       request.user_agent.string)  # fmt: skip


def _count_parts(
    count: int | None, first: datetime | None, locale: str, translations: Any, warning: str
) -> tuple[str, str]:
    """The "Checked" cell and, for a suspicious count, the copied-code warning.

    ``count`` None: the check log could not be reached; the verdict stands alone.
    """
    if count is None:
        return str(Markup.escape(translations.gettext("not available right now"))), ""
    return (_count_html(count, first, locale, translations),
            warning if count > svc.SUSPICIOUS_CHECKS else "")  # fmt: skip


def _result_context(check: svc.CertificateCheck, today: date, policy: Policy) -> dict[str, Any]:
    standing = check.standing(today, policy)
    return {
        "c": check, "status": standing.status, "standing": standing, "today": today, "domain": _domain(),
        "photo": _photo(check.photo_key), "canonical": verify_url(_base_url(), check.code),
    }  # fmt: skip


def _cached_page(conn: Connection, counted: svc.Counted, code: str, locale: str, today: date) -> _Page | None:
    pages: dict[tuple[Any, ...], _Page] = current_app.extensions.setdefault("verify_pages", {})
    policy = current_policy(conn)  # on the request's connection when the cached policy runs out
    # The policy is part of the key: a new setting changes an assumed validity at once.
    key = (counted.id, counted.updated_at, counted.revoked_on, counted.expires_on, locale, today, policy.key)
    page = pages.get(key)
    now = monotonic()
    if page is not None and now - page.born < PAGE_TTL:
        return page
    check = svc.find_by_code(conn, code)
    if check is None:  # deleted between the two statements
        return None
    html = _render("verify/result.html", **_result_context(check, today, policy), as_of=None,
                   as_of_error=None, as_of_raw="", count_html=Markup(_COUNT_SLOT),
                   warn_html=Markup(_WARN_SLOT))  # fmt: skip
    head, _, rest = html.partition(_COUNT_SLOT)
    middle, _, tail = rest.partition(_WARN_SLOT)
    if len(pages) >= _PAGE_CACHE_MAX:
        pages.clear()
    translations = get_translations()
    page = pages[key] = _Page(
        now, check, svc.etag(check, locale, today, None, None, policy.key), head, middle, tail,
        translations, _warn_html(translations),
    )  # fmt: skip
    return page


@bp.get("/v/<code>")
@verify_limit
def result(code: str) -> Response:
    canonical = _code(code)
    if canonical is None:
        return _not_recognised(code)
    as_of, as_of_error = _parse_as_of(request.args.get("as_of"))
    today = clock_today()
    locale = str(get_locale())
    if as_of is not None or as_of_error or request.method != "GET" or request.if_none_match:
        return _result_uncounted_first(code, canonical, as_of, as_of_error, locale, today)
    with get_engine().connect() as conn:
        counted = svc.count_check(conn, canonical, _device())
        if counted is None:
            return _not_recognised(code)
        conn.commit()
        page = _cached_page(conn, counted, canonical, locale, today)
    if page is None:
        return _not_recognised(code)
    count, warning = _count_parts(counted.check_count, counted.first_checked_at, locale,
                                  page.translations, page.warning)  # fmt: skip
    return _page_headers(Response(page.head + count + page.middle + warning + page.tail), page.etag)


def _result_uncounted_first(
    raw: str, code: str, as_of: date | None, as_of_error: str | None, locale: str, today: date
) -> Response:
    """Revalidations, ``?as_of`` questions and HEAD: look first, count only a plain
    GET whose validator no longer matches (the browser does not hold this page)."""
    with get_engine().connect() as conn:
        check = svc.find_by_code(conn, code)
        if check is None:
            return _not_recognised(raw)
        policy = current_policy(conn)
        tag = svc.etag(check, locale, today, as_of, as_of_error, policy.key)
        if request.if_none_match.contains_weak(tag):
            return _page_headers(Response(status=304), tag)
        as_of_answer = None
        if as_of is not None:
            as_of_answer = svc.status_as_of(check, as_of, svc.history(conn, check.id), policy)
        elif as_of_error is None and request.method == "GET":
            counted = svc.count_check(conn, code, _device())
            conn.commit()
            if counted is not None:
                check = check.with_count(counted)
    count, warning = None, ""
    if as_of is None and as_of_error is None:
        translations = get_translations()
        count, warning = _count_parts(check.check_count, check.first_checked_at, locale, translations,
                                      _warn_html(translations))  # fmt: skip
    html = _render(
        "verify/result.html", **_result_context(check, today, policy), as_of=as_of_answer,
        as_of_error=as_of_error,
        as_of_raw=request.args.get("as_of", "")[:20], count_html=Markup(count) if count is not None else None,
        warn_html=Markup(warning),
    )  # fmt: skip
    return _page_headers(Response(html, 400 if as_of_error else 200), tag)


# ----------------------------------------------------------------------------- QR images


def _qr(code: str, fmt: str, size: int = qr.PNG_DEFAULT) -> Response:
    canonical = _code(code)
    if canonical is None:
        return _image_not_found()
    with get_engine().connect() as conn:
        if not svc.code_exists(conn, canonical):
            return _image_not_found()
    data = qr.cached(current_app.config["MEDIA_DIR"], _printed_url(canonical), fmt, size)
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
        canonical = _code(raw_code)
        if canonical is not None:
            return redirect(url_for("verify.result", code=canonical))
        return _render(
            "verify/lookup.html", number=number, code=raw_code[:40], results=None, code_error=True,
            domain=_domain(),
        ), 404  # fmt: skip
    results = None
    if number:
        with get_engine().connect() as conn:
            results = svc.find_by_number(conn, number)
    today = clock_today()
    policy = current_policy()
    html = _render(
        "verify/lookup.html", number=number, code="", results=results, code_error=False, today=today,
        domain=_domain(),
        standings={c.id: c.standing(today, policy) for c in results or []},
    )  # fmt: skip
    return html, (404 if results == [] else 200)


# ----------------------------------------------------------------------------- fake reports


class FakeReportForm(Form):
    what = TextAreaField(
        _l("What looks wrong?"),
        validators=[DataRequired(_l("Please say what looks wrong.")), Length(max=2000)],
    )
    where = StringField(_l("Where did you see or buy it? (shop, market, website)"),
                        validators=[Optional(), Length(max=500)])  # fmt: skip
    province = SelectField(_l("Province (for the officials who will follow up)"), validators=[Optional()])
    photo = FileField(
        _l("Photo of the label (optional, JPEG, PNG or WebP, up to 12 MB)"),
        validators=[FileSize(media.MAX_PHOTO_BYTES, message=_l("The photo is larger than 12 MB."))],
    )


@bp.route("/v/<code>/report", methods=["GET", "POST"])
@limiter.shared_limit(limits.per_code_limit, scope="verify", key_func=limits.client_and_item, methods=["GET"])
@limiter.limit(_report_limit, methods=["POST"])
def report(code: str) -> ResponseReturnValue:
    """Report a suspected fake; stored for the officials of the certificate's province."""
    canonical = _code(code)
    check = None
    if canonical is not None:
        with get_engine().connect() as conn:
            check = svc.find_by_code(conn, canonical)
    session = get_session()
    form = FakeReportForm()
    if check is None:
        form.province.choices = [("", "—")] + [
            (str(p.id), p.short_name) for p in Provinces.load(session).current()
        ]
    else:
        del form.province
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
            province_raw = form.province.data if check is None else None
            svc.report_fake(
                session, what=form.what.data or "", where=form.where.data,
                code=canonical or code, check=check,
                province_id=int(province_raw) if province_raw and province_raw.isdigit() else None,
                photo_key=photo_key,
            )  # fmt: skip
            session.commit()
            return redirect(url_for("verify.report_thanks", code=canonical or code[:40]))
    status = 400 if request.method == "POST" else 200
    html = _render("verify/report.html", form=form, c=check, code=(canonical or code)[:40],
                   photo_error=photo_error)  # fmt: skip
    return html, status


@bp.get("/v/<code>/report/thanks")
def report_thanks(code: str) -> str:
    canonical = _code(code)
    return _render("verify/report_thanks.html", code=canonical, domain=_domain())


# ----------------------------------------------------------------------------- labels


def _label_scope() -> set[int] | None | Response:
    """Current province ids the signed-in official may print labels for (None =
    every province), or the sign-in redirect. The rules live in services.permissions."""
    user = actor()
    if user is None:
        return login_manager.unauthorized()
    permissions.require(user, "use_workspace")
    scope = permissions.province_scope(user)
    return None if scope is None else {scope}


#: Labels on one page of a round's sheets: ten A4 sheets of 21. A page whose QR codes are
#: all new (none cached yet) still renders in a few seconds, so no request runs long.
LABELS_PER_PAGE = 210


def _labels_page(
    checks: list[svc.CertificateCheck], title: str, page: int | None = None, slug: str | None = None
) -> Response:
    """A label sheet: never a label for a revoked certificate; an expired one is marked.

    With ``page`` (a round's sheets) the labels come :data:`LABELS_PER_PAGE` at a time.
    """
    media_dir = current_app.config["MEDIA_DIR"]
    day = clock_today()
    printable, revoked = svc.printable(checks, day)
    pager = None
    if page is not None:
        pager = Pager.clamped(page, len(printable), LABELS_PER_PAGE)
        printable = printable[pager.offset : pager.offset + pager.per_page]
    labels = [
        {"c": c, "url": verify_url(_base_url(), c.code), "standing": c.standing(day),
         "svg": qr.cached(media_dir, _printed_url(c.code), "svg").decode()}
        for c in printable
    ]  # fmt: skip
    html = _render("verify/labels.html", labels=labels, title=title, revoked=revoked, pager=pager, slug=slug)
    response = Response(html)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/v/<code>/label")
@bp.get("/labels/certificates/<int:cert_id>")
def label_certificate(code: str | None = None, cert_id: int | None = None) -> Response:
    """A printable label for one certificate.

    By code it is open to anyone (holding the code already reveals nothing);
    by id only to an official of the certificate's province, since ids are guessable.
    """
    with get_engine().connect() as conn:
        if code is not None:
            canonical = _code(code)
            check = svc.find_by_code(conn, canonical) if canonical else None
        else:
            allowed = _label_scope()
            if isinstance(allowed, Response):
                return allowed
            assert cert_id is not None  # the route gives a code or an id
            check = svc.find_by_id(conn, cert_id)
            if check is not None and allowed is not None and check.current_province_id not in allowed:
                raise permissions.Forbidden()
    if check is None:
        abort(404)
    return _labels_page([check], check.product_name)


@bp.get("/labels/rounds/<slug>")
def label_round(slug: str) -> Response:
    """Labels for every certificate of a selection round (a provincial official
    gets those of their province)."""
    allowed = _label_scope()
    if isinstance(allowed, Response):
        return allowed
    with get_engine().connect() as conn:
        checks = svc.round_certificates(conn, slug, allowed)
    if not checks:
        abort(404)
    session = get_session()
    round_ = session.exec(select(SelectionRound).where(SelectionRound.slug == slug)).first()
    title = round_label(round_, Provinces.load(session)) if round_ else slug
    return _labels_page(checks, title, page=page_number(request.args.get("page")), slug=slug)


# ----------------------------------------------------------------------------- rate limit


@bp.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests) -> Response:
    response = Response(_render("verify/rate_limited.html", domain=_domain()))
    response.status_code = 429
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Retry-After", str(retry_after_seconds(exc)))
    return response
