"""Accessibility in real headless Chromium: axe-core on every public page type and every
workspace form, on a Vietnamese phone (360 × 740) and on an English desktop (1280 × 800).

axe-core comes bundled with ``axe-playwright-python`` (no npm in CI). Each view is one test
(so that pytest-xdist can run the two at once) with one live server and one browser context
walking the whole list. A page passes when axe finds no violation of impact "serious" or
"critical"; lesser findings are printed.

The list is built from the seeded database (slugs, ids and codes are looked up, never
hard-coded), plus a few records made here so that every state is on screen: a valid, an
expired, a past-assumed-validity and a revoked certificate, pending and published imports, a
product photo and a consumer's report. A form that can be refused is checked as it comes
back refused: every field as on the blank form, plus the messages. For speed, a blank "new"
form is not checked again when the same form is checked filled in for an existing record.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import text
from sqlmodel import Session, select

from catalogue.accounts.models import User
from catalogue.accounts.permissions import SYSTEM
from catalogue.clock import utcnow
from catalogue.db import get_engine
from catalogue.fairs import services as fairs
from catalogue.fairs.models import Event
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.jobs import service as jobs
from catalogue.label_runs import runs as label_runs
from catalogue.opendata import tasks as opendata_tasks
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate, Producer, Product
from catalogue.registry.product_photos import add_photo
from catalogue.verification import fake_reports
from catalogue.verification import serial_codes as label_codes
from catalogue.verification import services as svc
from catalogue.vocab import ProductGroup
from tests.conftest import PausedBuild
from tests.fixtures.workspace import PASSWORD, make_user, row, xlsx_bytes

pytestmark = pytest.mark.browser

#: What fails the test; "moderate" and "minor" findings are printed, not failed.
BLOCKING = frozenset({"serious", "critical"})

VIEWS: dict[str, dict[str, Any]] = {
    "vi-phone": {
        "locale": "vi-VN",
        "viewport": {"width": 360, "height": 740},
        "is_mobile": True,
        "has_touch": True,
        "extra_http_headers": {"Accept-Language": "vi"},
    },
    "en-desktop": {
        "locale": "en-US",
        "viewport": {"width": 1280, "height": 800},
        "extra_http_headers": {"Accept-Language": "en"},
    },
}
#: Start axe-core (its default rules: WCAG 2.x A and AA, and best practices) without waiting,
#: so that the next page loads in the other tab meanwhile; :data:`AXE_COLLECT` waits for it.
AXE_START = "() => { window.__axe = axe.run(document, {resultTypes: ['violations'], preload: false}); }"
AXE_COLLECT = """() => window.__axe.then(r => r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => n.target.join(" "))})))"""
STATIC_CSS = Path(__file__).resolve().parents[1] / "static" / "css"
#: The language each view asks for (Accept-Language) and every page must declare in <html lang>.
LANG = {"vi-phone": "vi", "en-desktop": "en"}

SIGN_IN = "form.admin-form button[type=submit]"
PROVINCE_EMAIL = "a11y-laocai@so.gov.vn"
MINISTRY_EMAIL = "a11y-bo@moit.gov.vn"


# ----------------------------------------------------------------------------- the pages


@dataclass
class Step:
    """One page to check: ``url`` answering ``status``, or the answer to a form that ``action``
    fills in and ``submit`` sends (ending on ``expect`` with ``status``); ``shows`` is there."""

    name: str
    url: str | None = None
    status: int = 200
    action: Callable[[Any, str], None] | None = None
    submit: str = ""  # the button the action's form is sent with
    expect: str = ""  # the path the page must be on afterwards
    shows: str = ""  # a selector proving the page is in the state meant (not merely a page)


@dataclass
class Site:
    public: list[Step] = field(default_factory=list)
    province: list[Step] = field(default_factory=list)
    ministry: list[Step] = field(default_factory=list)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (180, 120, 60)).save(out, "JPEG")
    return out.getvalue()


def _prepare(app: Flask, make_certificate: Callable[..., str]) -> Site:
    """Make the few records the seed lacks, then list every page from the database."""
    valid = make_certificate(product="Chè Shan tuyết A11Y hợp lệ", producer="HTX A11Y Hợp lệ",
                             certificate_number="A11Y-01/GCN", year=2025, issued_on=date(2025, 8, 15),
                             expires_on=date(2028, 8, 14))  # fmt: skip
    expired = make_certificate(product="Chè Shan tuyết A11Y hết hạn", producer="HTX A11Y Hết hạn",
                               certificate_number="A11Y-02/GCN", year=2022, issued_on=date(2022, 3, 1),
                               expires_on=date(2025, 3, 1))  # fmt: skip
    lapsed = make_certificate(product="Chè Shan tuyết A11Y cũ", producer="HTX A11Y Cũ",
                              certificate_number="A11Y-03/GCN", year=2019)  # fmt: skip
    revoked = make_certificate(product="Chè Shan tuyết A11Y thu hồi", producer="HTX A11Y Thu hồi",
                               certificate_number="A11Y-04/GCN", year=2025, issued_on=date(2025, 8, 15),
                               expires_on=date(2028, 8, 14))  # fmt: skip
    # Valid, and no exhibitor yet: what the name search offers to add to a fair.
    make_certificate(product="Mật ong A11Y", producer="HTX A11Y Hội chợ", certificate_number="A11Y-05/GCN",
                     year=2025, issued_on=date(2025, 8, 15), expires_on=date(2028, 8, 14))  # fmt: skip
    make_user(app, PROVINCE_EMAIL, "province", "Lào Cai")
    make_user(app, MINISTRY_EMAIL, "ministry")

    with app.test_request_context("/"), Session(get_engine(), expire_on_commit=False) as s:
        user = s.exec(select(User).where(User.email == PROVINCE_EMAIL)).one()
        certs = {c.verify_code: c for c in s.exec(select(Certificate).where(
            Certificate.verify_code.in_([valid, expired, lapsed, revoked])  # type: ignore[attr-defined]
        ))}  # fmt: skip
        revoke_certificate(s, actor=SYSTEM, certificate=certs[revoked], reason="Không còn đạt",
                                      reference="99/QĐ-SCT", on=date(2026, 1, 5))  # fmt: skip
        product = s.get(Product, certs[valid].product_id)
        assert product is not None
        add_photo(s, actor=user, product=product, data=_jpeg(), alt="Gói chè Shan tuyết")
        fake_reports.report_fake(s, what="Tem QR dán đè lên tem cũ", where="Chợ Bắc Hà", code=valid,
                                 check=svc.find_by_code(s.connection(), valid))  # fmt: skip
        published, _ = importing.stage_batch(s, actor=user, filename="a11y-da-dang.xlsx",
                                             data=xlsx_bytes([row(41), row(42)]))  # fmt: skip
        assert published is not None
        publishing.publish_batch(s, actor=user, batch=published, decision_number="41/QĐ-UBND")
        ready, report = importing.stage_batch(s, actor=user, filename="a11y-san-sang.xlsx",
                                              data=xlsx_bytes([row(51), row(52)]))  # fmt: skip
        assert ready is not None and report.ok
        bad, report = importing.stage_batch(s, actor=user, filename="a11y-co-loi.xlsx", data=xlsx_bytes(
            [row(61), row(62, province="Quang Tri", issued="31/02/2025", level="")]
        ))  # fmt: skip
        assert bad is not None and not report.ok
        # A publish job that failed: its page shows progress, the message and the Retry form.
        failed_job = jobs.create(
            s, kind="publish", actor=user, province_id=user.province_id, batch_id=ready.id
        )
        failed_job.state, failed_job.done, failed_job.total = "failed", 1, 2
        failed_job.message, failed_job.finished_at = "Không có gì được công bố.", utcnow()
        # A label run whose serials 5–6 are withdrawn (a lost roll).
        run = label_runs.issue_run(s, actor=user, certificate=certs[valid], count=10, note="Đơn hàng HTX")
        label_runs.withdraw(s, actor=user, run=run, first=5, last=6, reason="Mất cuộn tem")
        # An exhibitor at the first fair, so its page and buyer catalogue show products and QR codes.
        ministry_user = s.exec(select(User).where(User.email == MINISTRY_EMAIL)).one()
        first_event = s.exec(select(Event).order_by(Event.id)).first()  # type: ignore[arg-type]
        exhibitor = s.get(Producer, product.producer_id)
        assert first_event is not None and exhibitor is not None
        fairs.add_exhibitor(s, actor=ministry_user, event=first_event, producer=exhibitor, booth="A11",
                            products=[product])  # fmt: skip
        s.commit()
        run_id = run.id
        serials = list(label_codes.serial_codes(app.config["VERIFY_KEYS"], run.key_id, run.id, 1, 10))
        batch_ids = {"published": published.id, "ready": ready.id, "bad": bad.id}
        job_id = failed_job.id
        valid_cert, revoked_cert = certs[valid], certs[revoked]

    with app.app_context(), get_engine().connect() as conn:

        def one(sql: str, **params: Any) -> Any:
            value = conn.execute(text(sql), params).scalar()
            assert value is not None, sql
            return value

        product_slug = one("SELECT slug FROM product WHERE id = :id", id=valid_cert.product_id)
        producer_id = one("SELECT producer_id FROM product WHERE id = :id", id=valid_cert.product_id)
        producer_slug = one("SELECT slug FROM producer WHERE id = :id", id=producer_id)
        seed_product = one("SELECT p.slug FROM product p JOIN certificate c ON c.product_id = p.id "
                           "ORDER BY c.id LIMIT 1")  # fmt: skip
        current_province = one("SELECT slug FROM province WHERE valid_to IS NULL AND id IN "
                               "(SELECT province_id FROM product) ORDER BY id LIMIT 1")  # fmt: skip
        old_province = one("SELECT slug FROM province WHERE valid_to IS NOT NULL ORDER BY id LIMIT 1")
        round_id = valid_cert.round_id
        round_slug = one("SELECT slug FROM selection_round WHERE id = :id", id=round_id)
        event_slug = one("SELECT slug FROM event ORDER BY id LIMIT 1")
        event_id = one("SELECT id FROM event ORDER BY id LIMIT 1")
        undated = one("SELECT slug FROM event WHERE kind <> 'fair' OR start_date IS NULL ORDER BY id LIMIT 1")
        number = one("SELECT number FROM certificate WHERE verify_code = :c", c=valid)

    opendata_tasks.regenerate(app)  # /data/ lists real files
    public = [
        Step("home", "/"),
        Step("search, empty", "/search"),
        Step(
            "search, words and filters", f"/search?q=ch%C3%A8&group={ProductGroup.CHE_BIEN.value}&status=all"
        ),
        Step("search, did you mean", "/search?q=b%C3%A1nh+ch%C6%B0g&status=all"),
        Step("search, nothing found", "/search?q=zzzqqqxxx"),
        Step("search, fairs and showrooms", "/search?q=g%E1%BB%91m"),
        Step("search, query too long", "/search?q=" + "a" * 201, 400),
        Step("product (new record, photo)", f"/products/{product_slug}", shows=".photos img"),
        Step("product (seed)", f"/products/{seed_product}"),
        Step("producer", f"/producers/{producer_slug}"),
        Step("provinces", "/provinces"),
        Step("statistics", "/statistics", shows="svg.chart"),
        Step(
            "statistics, filtered", f"/statistics?province={current_province}&status=valid", shows="svg.chart"
        ),  # fmt: skip
        Step("statistics, unknown province", "/statistics?province=Atlantis", 400),
        Step("province, current unit", f"/provinces/{current_province}"),
        Step("province, pre-2025 unit", f"/provinces/{old_province}"),
        Step("rounds", "/rounds"),
        Step("round", f"/rounds/{round_slug}"),
        Step("events", "/events"),
        Step("event", f"/events/{event_slug}"),
        Step("event without a calendar file", f"/events/{undated}.ics", 404),
        Step(
            "buyer catalogue (printable)",
            f"/events/{event_slug}/catalogue",
            shows=".catalogue-product img.qr",
        ),
        Step("verify form", "/verify"),
        Step("verify by number", f"/verify?number={number}"),
        Step("verify, unknown number", "/verify?number=999%2FXYZ", 404),
        Step("scan, valid", f"/v/{valid}", shows=".verdict.v-ok"),
        Step("scan, expired", f"/v/{expired}", shows=".verdict.v-expired"),
        Step("scan, past assumed validity", f"/v/{lapsed}", shows=".verdict.v-lapsed"),
        Step("scan, revoked", f"/v/{revoked}", shows=".verdict.v-revoked"),
        Step("scan, as of a day", f"/v/{valid}?as_of=2025-01-01"),
        Step("scan, as of a day that is no date", f"/v/{valid}?as_of=2025-02-30", 400),
        Step("scan, unrecognised code", "/v/NOTAREALCODE0000", 404, shows=".verdict.v-unknown"),
        Step("label", f"/v/{valid}/label"),
        Step("scan, a package's own label", f"/v/{serials[0]}", shows=".label-signal"),
        Step("scan, a withdrawn label", f"/v/{serials[4]}", shows=".verdict.v-revoked"),
        Step(
            "report a fake (errors)",
            status=400,
            action=_open_report(valid),
            submit="form.report button[type=submit]",
            expect=f"/v/{valid}/report",
            shows="textarea[aria-invalid=true]",
        ),
        Step("report a fake (thanks)", f"/v/{valid}/report/thanks"),
        Step("status rules", "/status"),
        Step("open data downloads", "/data/", shows="table.downloads"),
        Step("open data dictionary", "/data/dictionary"),
        Step("API, endpoints", "/api"),
        Step("API, data shapes", "/api/shapes"),
        Step("not found", "/no-such-page", 404),
        Step("other error (wrong method)", "/admin/logout", 405),
        Step(
            "sign in, wrong password",
            action=_sign_in(PROVINCE_EMAIL, "not the password"),
            submit=SIGN_IN,
            expect="/admin/login",
            shows=".flash-error",
        ),
    ]
    province = [
        Step("workspace home (province)", action=_sign_in(PROVINCE_EMAIL), submit=SIGN_IN, expect="/admin/"),
        Step("change password", "/admin/password"),
        Step("own sessions", "/admin/sessions"),
        Step(
            "import, unreadable file",
            status=400,
            action=_choose_unreadable_file,
            submit="form.admin-form[enctype] button[type=submit]",
            expect="/admin/imports",
            shows=".problems",
        ),
        Step("import dry run, ready", f"/admin/imports/{batch_ids['ready']}", shows=".summary.ok"),
        Step("job, failed (retry form)", f"/admin/jobs/{job_id}", shows="form[action$='/retry'] button"),
        Step("import dry run, problems", f"/admin/imports/{batch_ids['bad']}", shows="tr.bad"),
        Step(
            "import, published (photos zip form)",
            f"/admin/imports/{batch_ids['published']}",
            shows="form[action$='/photos'] input[type=file]",
        ),
        Step("records", "/admin/records"),
        Step("producer form", f"/admin/producers/{producer_id}"),
        Step("merge a duplicate producer (choose)", f"/admin/producers/{producer_id}/merge"),
        Step("merges", "/admin/merges"),
        Step(
            "product form (photo upload)",
            f"/admin/products/{valid_cert.product_id}",
            shows="form[action$='/photos'] input[type=file]",
        ),
        Step("certificate add form", f"/admin/products/{valid_cert.product_id}/certificates/new"),
        Step(
            "certificate correction + revocation form",
            f"/admin/certificates/{valid_cert.id}",
            shows="form[action$='/revoke']",
        ),
        Step(
            "certificate reinstatement form",
            f"/admin/certificates/{revoked_cert.id}",
            shows="form[action$='/reinstate']",
        ),
        Step("rounds (workspace)", "/admin/rounds"),
        Step("round form", f"/admin/rounds/{round_id}"),
        Step("reports of fakes", "/admin/reports", shows="table.reports tbody tr"),
        Step("audit trail (filtered, with sign-ins)", "/admin/audit?action=all&start=2026-01-01"),
        Step("label sheet, round", f"/labels/rounds/{round_slug}"),
        Step("label runs of a certificate", f"/admin/certificates/{valid_cert.id}/labels"),
        Step("a label run (ranges, withdrawal)", f"/admin/label-runs/{run_id}"),
        Step("not allowed (ministry page)", "/admin/users", 403),
    ]
    ministry = [
        Step(
            "workspace home (ministry)",
            action=_sign_in(MINISTRY_EMAIL, fresh=True),
            submit=SIGN_IN,
            expect="/admin/",
        ),
        Step("accounts", "/admin/users"),
        Step(
            "validity settings, errors",
            status=400,
            action=_enter_bad_validity,
            submit="form.admin-form button[type=submit]",
            expect="/admin/validity",
            shows="input[name=years][aria-invalid=true]",
        ),
        Step("events (workspace)", "/admin/events"),
        Step("event form (exhibitors)", f"/admin/events/{event_id}"),
        Step(
            "exhibitor by name, producers found",
            f"/admin/events/{event_id}/exhibitors?q=a11y",
            shows="form.exhibitor-choice input[type=checkbox]",
        ),
        Step(
            "exhibitor by name, nothing found",
            f"/admin/events/{event_id}/exhibitors?q=zzqx",
            shows=".problems",
        ),
        Step(
            "signed out (a notice)",
            action=_open_workspace,
            submit="nav.admin-nav form button[type=submit]",
            expect="/admin/login",
            shows=".flash-info",
        ),
    ]
    return Site(public, province, ministry)


# ----------------------------------------------------------------------------- actions
#
# Each fills in a form on a page it opens itself; the step then submits it with ``submit``.


def _sign_in(email: str, password: str = PASSWORD, fresh: bool = False) -> Callable[[Any, str], None]:
    def action(page: Any, base: str) -> None:
        if fresh:
            page.context.clear_cookies()
        page.goto(base + "/admin/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)

    return action


def _open_report(code: str) -> Callable[[Any, str], None]:
    def action(page: Any, base: str) -> None:
        page.goto(f"{base}/v/{code}/report")  # sent empty: "say what looks wrong"

    return action


def _choose_unreadable_file(page: Any, base: str) -> None:
    page.goto(base + "/admin/imports")
    page.set_input_files("input[name=file]", files=[
        {"name": "khong-doc-duoc.xlsx", "mimeType": "application/octet-stream", "buffer": b"not a workbook"}
    ])  # fmt: skip


def _open_workspace(page: Any, base: str) -> None:
    page.goto(base + "/admin/")


def _enter_bad_validity(page: Any, base: str) -> None:
    """0 years, sent as a browser without form validation would: the server's message shows."""
    page.goto(base + "/admin/validity")
    page.fill("input[name=years]", "0")
    page.locator("form.admin-form").evaluate("form => { form.noValidate = true; }")


# ----------------------------------------------------------------------------- the check


def _report(view: str, url: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(v["nodes"][:3])
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        lines.append(f"[{view}] {url}\n    {v['impact']}: {v['id']} — {v['help']} ({v['helpUrl']})\n"
                     f"    nodes: {targets}{more}")  # fmt: skip
    return "\n".join(lines)


def _open(page: Any, step: Step, base: str, lang: str) -> str:
    """Bring the step's page up; returns where it is (path and query)."""
    if step.action is not None:
        step.action(page, base)
        with page.expect_navigation() as navigation:
            page.click(step.submit)
        response = navigation.value
        where = page.url.removeprefix(base)
        assert where.split("?")[0] == step.expect, f"{step.name}: ended on {where}"
    else:
        assert step.url is not None
        response = page.goto(base + step.url)
        where = step.url
    status = response.status if response is not None else None
    assert status == step.status, f"{step.name}: {where} answered {status}, not {step.status}"
    assert page.get_attribute("html", "lang") == lang, f"{step.name}: not in {lang}"
    assert not step.shows or page.locator(step.shows).count(), f"{step.name}: no {step.shows} on {where}"
    return where


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_page_and_form_has_no_serious_or_critical_violation(
    view: str, browser: Any, seeded_app: Flask, live_server: str, make_certificate: Callable[..., str]
) -> None:
    """One context (one sign-in) with two tabs taking turns: while axe-core works in one
    tab, the next page of the list loads in the other."""
    from axe_playwright_python.base import AXE_FILE_PATH

    # AXE_START skips axe's preload (a second fetch of every stylesheet on every page), which only
    # the css-orientation-lock rule needs; so make sure no stylesheet mentions an orientation.
    assert not [css.name for css in STATIC_CSS.glob("*.css") if "orientation" in css.read_text()]
    site = _prepare(seeded_app, make_certificate)
    steps = site.public + site.province + site.ministry
    assert len(steps) >= 50, "the page list came out short"
    checked: list[str] = []
    blocking: list[str] = []
    advisory: list[str] = []
    sideways: list[str] = []
    context = browser.new_context(**VIEWS[view])
    try:
        context.add_init_script(path=AXE_FILE_PATH)  # axe-core in every page, before the page's own
        tabs = [context.new_page(), context.new_page()]
        pending: dict[int, tuple[str, Step]] = {}

        def collect(tab: int) -> None:
            where, done = pending.pop(tab)
            violations = tabs[tab].evaluate(AXE_COLLECT)
            label = f"{where} ({done.name})"
            # A phone scrolls a wide table inside its box, never the whole page sideways (label
            # sheets excepted: they are laid out in millimetres for the printer).
            wider = tabs[tab].evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if wider > 0 and not (where.endswith("/label") or "/labels/rounds/" in where):
                sideways.append(f"{label}: {wider}px")
            if found := _report(view, label, [v for v in violations if v["impact"] in BLOCKING]):
                blocking.append(found)
            if found := _report(view, label, [v for v in violations if v["impact"] not in BLOCKING]):
                advisory.append(found)
            checked.append(where)

        for n, step in enumerate(steps):
            tab = n % 2
            if tab in pending:
                collect(tab)
            pending[tab] = (_open(tabs[tab], step, live_server, LANG[view]), step)
            tabs[tab].evaluate(AXE_START)
        for tab in (len(steps) % 2, (len(steps) + 1) % 2):  # the older of the last two first
            if tab in pending:
                collect(tab)
    finally:
        context.close()
    if advisory:
        print("\nModerate or minor findings (not failing):\n" + "\n".join(advisory))
    assert not blocking, "\n" + "\n".join(blocking)
    assert not sideways, "pages wider than the screen:\n" + "\n".join(sideways)
    assert checked and len(checked) == len(steps)


@pytest.mark.parametrize("view", list(VIEWS))
def test_the_search_being_prepared_page_has_no_serious_or_critical_violation(
    view: str, browser: Any, seeded_app: Flask, live_server: str, paused_build: PausedBuild
) -> None:
    """The 503 a visitor meets on a node still building its first index (held by a paused build)."""
    from axe_playwright_python.base import AXE_FILE_PATH

    shutil.rmtree(seeded_app.config["INDEX_DIR"])
    context = browser.new_context(**VIEWS[view])
    try:
        context.add_init_script(path=AXE_FILE_PATH)
        page = context.new_page()
        response = page.goto(live_server + "/search?q=banh")
        assert response is not None and response.status == 503
        assert paused_build.reached.wait(30) and page.get_attribute("html", "lang") == LANG[view]
        assert page.locator("h1").count() == 1
        page.evaluate(AXE_START)
        violations = page.evaluate(AXE_COLLECT)
    finally:
        context.close()
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, _report(view, "/search (index being built)", blocking)
