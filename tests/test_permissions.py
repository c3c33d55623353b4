"""Roles enforced on the server, in one module: the permission matrix, every /admin
route walked from the URL map, and every mutating service called by the wrong person."""

from __future__ import annotations

import inspect
import io
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlmodel import Session, select

from catalogue.accounts import permissions
from catalogue.accounts import services as accounts
from catalogue.accounts.models import User
from catalogue.accounts.permissions import SYSTEM, Forbidden, can
from catalogue.db import get_engine
from catalogue.decisions import services as decisions
from catalogue.fairs import services as fairs
from catalogue.fairs.models import Event
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.jobs.models import Job
from catalogue.label_runs import runs as label_runs
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry import certificates, editing, merging, product_photos, unmerging
from catalogue.registry import photos as media
from catalogue.registry.models import (
    Certificate,
    ImportBatch,
    MergeRecord,
    Photo,
    Producer,
    Product,
    SelectionRound,
)
from catalogue.verification import fake_reports
from catalogue.vocab import Level
from tests.fixtures.workspace import PASSWORD, csrf_token, login, make_user, row, xlsx_bytes

# ----------------------------------------------------------------------------- the matrix


def _user(role: str, province_id: int | None, active: bool = True) -> User:
    return User(id=1, email="x@y.vn", password_hash="-", role=role, province_id=province_id, is_active=active)


LAO_CAI = Province(id=10, slug="lao-cai", name="Tỉnh Lào Cai", short_name="Lào Cai", kind="tinh")
HUE = Province(id=20, slug="hue", name="Thành phố Huế", short_name="Huế", kind="thanh_pho")
YEN_BAI = Province(
    id=11,
    slug="yen-bai-truoc-2025",
    name="Tỉnh Yên Bái",
    short_name="Yên Bái",
    kind="tinh",
    valid_to=__import__("datetime").date(2025, 6, 30),
    successor_id=10,
)
MINISTRY, LC_OFFICIAL = _user("ministry", None), _user("province", 10)


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("where", [LAO_CAI, HUE, YEN_BAI])
@pytest.mark.parametrize("action", sorted(permissions.RECORD_ACTIONS))
def test_record_actions_by_role_province_and_level(level: Level, where: Province, action: str) -> None:
    ministry_may = level in (Level.KHU_VUC, Level.QUOC_GIA)
    province_may = level in (Level.TINH, Level.HUYEN, Level.XA) and where in (LAO_CAI, YEN_BAI)
    assert can(MINISTRY, action, province=where, level=level) is ministry_may
    assert can(LC_OFFICIAL, action, province=where, level=level) is province_may


@pytest.mark.parametrize("action", sorted(permissions.MINISTRY_ACTIONS))
def test_ministry_only_actions(action: str) -> None:
    assert can(MINISTRY, action) and not can(LC_OFFICIAL, action)


@pytest.mark.parametrize("action", sorted(permissions.ACCOUNT_ACTIONS))
def test_account_actions_for_the_ministry_and_a_provinces_lead(action: str) -> None:
    lead = User(id=2, email="l@y.vn", password_hash="-", role="province", province_id=10, is_lead=True)
    assert can(MINISTRY, action) and can(lead, action)  # which account: may_manage (test_province_leads)
    assert not can(LC_OFFICIAL, action)


@pytest.mark.parametrize("action", sorted(permissions.PLACE_ACTIONS))
def test_place_actions_follow_the_current_province(action: str) -> None:
    assert can(LC_OFFICIAL, action, province=LAO_CAI) and can(LC_OFFICIAL, action, province=YEN_BAI)
    assert not can(LC_OFFICIAL, action, province=HUE) and not can(LC_OFFICIAL, action, province=None)
    assert can(MINISTRY, action, province=HUE)


@pytest.mark.parametrize("action", sorted(permissions.ACTIONS))
def test_nobody_without_an_active_account(action: str) -> None:
    for user in (
        None,
        _user("ministry", None, active=False),
        _user("province", 10, active=False),
        _user("guest", None),
    ):
        assert not can(user, action, province=LAO_CAI, level=Level.TINH)
    assert can(SYSTEM, action, province=HUE, level=Level.TINH)


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        can(MINISTRY, "delete_everything")


# ----------------------------------------------------------------------------- a small world


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def world(seeded_app: Flask) -> dict[str, Any]:
    """Huế's published batch (with a photo), a national certificate, an exhibitor, three officials."""
    ids: dict[str, Any] = {}
    ids["ministry"] = make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    ids["laocai"] = make_user(seeded_app, "lc@so.gov.vn", "province", "Lào Cai")
    ids["hue"] = make_user(seeded_app, "hue@so.gov.vn", "province", "Huế")
    with seeded_app.test_request_context("/?lang=en"), Session(get_engine()) as s:
        hue = s.get(User, ids["hue"])
        batch, _ = importing.stage_batch(
            s, actor=hue, filename="hue.xlsx", data=xlsx_bytes([row(1, province="Huế", photo="a.png")])
        )
        publishing.publish_batch(s, actor=hue, batch=batch)
        cert = s.exec(select(Certificate).where(Certificate.batch_id == batch.id)).one()
        product = s.get(Product, cert.product_id)
        photo = product_photos.add_photo(s, actor=hue, product=product, data=_png())
        label_run = label_runs.issue_run(s, actor=hue, certificate=cert, count=5)  # valid until revoked below
        lost = label_runs.withdraw(s, actor=hue, run=label_run, first=4, last=5, reason="roll lost")
        ministry = s.get(User, ids["ministry"])
        event = s.exec(select(Event)).first()
        exhibitor = fairs.add_exhibitor(
            s,
            actor=ministry,
            event=event,
            producer=s.get(Producer, product.producer_id),
            booth="A1",
            products=[product],
        )
        pending, _ = importing.stage_batch(
            s, actor=hue, filename="next.xlsx", data=xlsx_bytes([row(2, province="Huế")])
        )
        report = fake_reports.report_fake(
            s, what="Nhãn giả", where="Chợ Đông Ba", code=None, check=None, province_id=hue.province_id,
            photo_key=media.ingest(_png(), seeded_app.config["CATALOGUE_DATA_DIR"] / "reports").file_key,
        )  # fmt: skip
        job = Job(kind="publish", state="failed", actor_id=hue.id, province_id=hue.province_id,
                  batch_id=pending.id)  # fmt: skip
        s.add(job)
        # Two more Huế producers: one merged into the batch's producer (its merge record), one spare.
        survivor = s.get(Producer, product.producer_id)
        merged, spare = (
            editing.save_producer(
                s, actor=hue, producer=None, values={"name": name, "province_id": hue.province_id}
            )
            for name in ("HTX Thử nghiệm 1 (trùng)", "HTX Thử nghiệm 1 (dự phòng)")
        )
        seen = merging.preview(s, actor=hue, kind="producer", survivor=survivor, duplicate=merged)
        merge = merging.merge(s, actor=hue, kind="producer", survivor=survivor, duplicate=merged,
                              token=seen.token, fill_blanks=False)  # fmt: skip
        # Huế's decision revoking its certificate, and the one withdrawing that revocation.
        for action in ("revoke", "reinstate"):
            facts = decisions.Facts(action, "9/QĐ-SCT", __import__("datetime").date(2026, 6, 1), "thử")
            plan = decisions.plan_ids(s, hue, facts, [cert.id])
            decision = decisions.apply(s, hue, facts, plan.ids, plan.fingerprint)
        s.commit()
        ids.update(
            job_id=job.id,
            batch_id=batch.id,
            pending_id=pending.id,
            cert_id=cert.id,
            product_id=product.id,
            producer_id=product.producer_id,
            round_id=cert.round_id,
            photo_id=photo.id,
            event_id=event.id,
            exhibitor_id=exhibitor.id,
            user_id=ids["hue"],
            report_id=report.id,
            merge_id=merge.id,
            spare_producer_id=spare.id,
            decision_id=decision.id,
            run_id=label_run.id,
            withdrawal_id=lost.id,
        )
    return ids


# ----------------------------------------------------------------------------- every /admin route

#: Endpoints any signed-in official may open; their content is scoped by the services.
OPEN_TO_OFFICIALS = {
    "workspace.index",
    "accounts.logout",
    "accounts.password",
    "imports.imports",
    "imports.import_template",
    "records.records",
    "records.records_csv",
    "records.records_xlsx",
    "records.rounds",
    "audit.audit_log",
    "reports.reports",
    "records.producer",
    "records.product",
    "records.round_",
    "merges.merges",
    "decisions.decisions",
    "decisions.new",
    "decisions.dry_run",
    "decisions.apply",
    "accounts.sessions_page",
    "accounts.end_session",
    "accounts.end_other_sessions",
}

#: Pages for people who are not signed in: the sign-in form, and a reset link (the link is the credential).
SIGNED_OUT_PAGES = {"accounts.login", "accounts.open_reset_link", "accounts.reset_password"}


def _admin_rules(app: Flask) -> list[Any]:
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/admin") and r.endpoint not in SIGNED_OUT_PAGES
    ]
    assert rules, "no /admin views registered: the walks below would check nothing"
    return rules


def _url(rule: Any, ids: dict[str, Any]) -> str:
    return rule.rule.replace("<int:", "<").format if False else _fill(rule.rule, ids)


def _fill(path: str, ids: dict[str, Any]) -> str:
    import re

    return re.sub(r"<(?:int:)?([a-z_]+)>", lambda m: str(ids[m.group(1)]), path)


def test_every_admin_view_is_guarded(seeded_app: Flask) -> None:
    for rule in _admin_rules(seeded_app):
        view = seeded_app.view_functions[rule.endpoint]
        assert getattr(view, "guarded_by", None), f"{rule.endpoint} has no guard"


def test_anonymous_is_sent_to_sign_in_everywhere(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = seeded_app.test_client()
    token = csrf_token(client)
    for rule in _admin_rules(seeded_app):
        url = _fill(rule.rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.headers["Location"].startswith("/admin/login"), url


#: Also open to a province's lead official (the accounts page lists their own province's officials).
OPEN_TO_LEADS = {"accounts.users"}


@pytest.mark.parametrize("lead", [False, True], ids=["plain", "lead"])
def test_provincial_official_is_refused_other_provinces_and_ministry_work(
    seeded_app: Flask, world: dict[str, Any], lead: bool
) -> None:
    client = seeded_app.test_client()
    email = "lc@so.gov.vn"
    if lead:  # Lào Cai's lead official: Huế's accounts and the ministry's work stay refused
        email = "lead.lc@so.gov.vn"
        with seeded_app.app_context(), Session(get_engine()) as s:
            where = Provinces.load(s).match_current("Lào Cai")
            accounts.create_user(
                s, actor=SYSTEM, email=email, password=PASSWORD, role="province", province=where, lead=True
            )
            s.commit()
    login(client, email)
    token = csrf_token(client, "/admin/")
    checked = 0
    for rule in _admin_rules(seeded_app):
        has_ids = bool(rule.arguments)
        if (rule.endpoint in OPEN_TO_OFFICIALS or (lead and rule.endpoint in OPEN_TO_LEADS)) and not has_ids:
            assert client.get(rule.rule).status_code in (200, 302) if "GET" in rule.methods else True
            continue
        url = _fill(rule.rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(
                url,
                method=method,
                data={
                    "csrf_token": token,
                    "reason": "x",
                    "reference": "y",
                    "active": "0",
                    "name": "Tampered",
                },
            )
            assert response.status_code == 403, (method, url, response.status_code)
            checked += 1
    assert checked >= 20
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        assert s.get(Certificate, world["cert_id"]).revoked_on is None
        assert s.get(Product, world["product_id"]).name != "Tampered"
        assert s.get(ImportBatch, world["pending_id"]).state == "pending"
        assert s.get(User, world["hue"]).is_active
        assert s.get(Photo, world["photo_id"]) is not None


def test_the_owner_and_the_ministry_are_let_in(seeded_app: Flask, world: dict[str, Any]) -> None:
    hue = seeded_app.test_client()
    login(hue, "hue@so.gov.vn")
    for path in (
        "/admin/imports/{batch_id}",
        "/admin/certificates/{cert_id}",
        "/admin/products/{product_id}",
        "/admin/producers/{producer_id}",
        "/admin/rounds/{round_id}",
    ):
        assert hue.get(path.format(**world)).status_code == 200, path
    ministry = seeded_app.test_client()
    login(ministry, "cuc@moit.gov.vn")
    for path in (
        "/admin/users",
        "/admin/events",
        "/admin/events/{event_id}",
        "/admin/imports/{batch_id}",
        "/admin/products/{product_id}",
        "/admin/audit",
    ):
        assert ministry.get(path.format(**world)).status_code == 200, path
    # …but a provincial certificate is the province's to correct, not the ministry's.
    assert ministry.get("/admin/certificates/{cert_id}".format(**world)).status_code == 403


def test_batches_are_listed_only_for_their_province(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = seeded_app.test_client()
    login(client, "lc@so.gov.vn")
    assert "hue.xlsx" not in client.get("/admin/imports").get_data(as_text=True)
    client = seeded_app.test_client()
    login(client, "hue@so.gov.vn")
    assert "hue.xlsx" in client.get("/admin/imports").get_data(as_text=True)


# ----------------------------------------------------------------------------- every mutating service

SERVICE_MODULES = (
    publishing,
    certificates,
    product_photos,
    editing,
    fairs,
    accounts,
    importing,
    merging,
    unmerging,
)


def _service_calls(s: Session, w: dict[str, Any]) -> dict[str, Any]:
    """How to call each service that takes an ``actor``; the test fails if one is missing here."""
    get = s.get
    cert, product, batch = (
        get(Certificate, w["cert_id"]),
        get(Product, w["product_id"]),
        get(ImportBatch, w["batch_id"]),
    )
    return {
        "publish_batch": lambda a: publishing.publish_batch(
            s, actor=a, batch=get(ImportBatch, w["pending_id"])
        ),
        "discard_batch": lambda a: importing.discard_batch(
            s, actor=a, batch=get(ImportBatch, w["pending_id"])
        ),
        "batch_certificates": lambda a: publishing.batch_certificates(s, actor=a, batch=batch),
        "correct_certificate": lambda a: certificates.correct_certificate(
            s, actor=a, certificate=cert, values={"number": "X"}
        ),
        "revoke_certificate": lambda a: certificates.revoke_certificate(
            s, actor=a, certificate=cert, reason="r", reference="f"
        ),
        "reinstate_certificate": lambda a: certificates.reinstate_certificate(
            s, actor=a, certificate=cert, reason="r"
        ),
        "add_certificate": lambda a: certificates.add_certificate(
            s, actor=a, product=product, level=Level.TINH, year=2025, number="NEW-1"
        ),
        "add_photo": lambda a: product_photos.add_photo(s, actor=a, product=product, data=_png()),
        "remove_photo": lambda a: product_photos.remove_photo(s, actor=a, photo=get(Photo, w["photo_id"])),
        "attach_batch_photos": lambda a: publishing.attach_batch_photos(s, actor=a, batch=batch, data=b"PK"),
        "save_producer": lambda a: editing.save_producer(
            s, actor=a, producer=get(Producer, w["producer_id"]), values={"name": "Tampered"}
        ),
        "save_product": lambda a: editing.save_product(
            s, actor=a, product=product, values={"name": "Tampered"}
        ),
        "save_round": lambda a: editing.save_round(
            s, actor=a, round_=get(SelectionRound, w["round_id"]), values={"edition": "X"}
        ),
        "save_event": lambda a: fairs.save_event(s, actor=a, event=None, values={"name": "Hội chợ"}),
        "add_exhibitor": lambda a: fairs.add_exhibitor(
            s,
            actor=a,
            event=get(Event, w["event_id"]),
            producer=get(Producer, w["producer_id"]),
            booth="B",
            products=[],
        ),
        "producer_matches": lambda a: fairs.producer_matches(s, actor=a, query="HTX"),
        "remove_exhibitor": lambda a: fairs.remove_exhibitor(
            s,
            actor=a,
            exhibitor=get(
                __import__("catalogue.tables", fromlist=["Exhibitor"]).Exhibitor, w["exhibitor_id"]
            ),
        ),
        "create_user": lambda a: accounts.create_user(
            s, actor=a, email="n@so.gov.vn", password=PASSWORD, role="ministry"
        ),
        "change_password": lambda a: accounts.change_password(s, actor=a, current=PASSWORD, new="x" * 12),
        "set_active": lambda a: accounts.set_active(s, actor=a, user=get(User, w["hue"]), active=False),
        "list_users": lambda a: accounts.list_users(s, actor=a),
        "set_lead": lambda a: accounts.set_lead(s, actor=a, user=get(User, w["hue"]), lead=True),
        "check_table": lambda a: importing.check_table(s, actor=a, table=importing.batch_table(batch)),
        "check_file": lambda a: importing.check_file(s, actor=a, filename="x.csv", data=b"x"),
        "stage_batch": lambda a: importing.stage_batch(s, actor=a, filename="x.csv", data=b"x"),
        "check_batch": lambda a: importing.check_batch(s, actor=a, batch=batch),
        "visible_batches": lambda a: importing.visible_batches(s, actor=a),
        "preview": lambda a: merging.preview(
            s,
            actor=a,
            kind="producer",
            survivor=get(Producer, w["producer_id"]),
            duplicate=get(Producer, w["spare_producer_id"]),
        ),
        "merge": lambda a: merging.merge(
            s,
            actor=a,
            kind="producer",
            survivor=get(Producer, w["producer_id"]),
            duplicate=get(Producer, w["spare_producer_id"]),
            token="",
            fill_blanks=False,
        ),
        "undo": lambda a: unmerging.undo(s, actor=a, merge_record=get(MergeRecord, w["merge_id"])),
    }


def _actor_services() -> set[str]:
    names = set()
    for module in SERVICE_MODULES:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            param = inspect.signature(fn).parameters.get("actor")
            if param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY:
                names.add(name)
    return names


def test_every_service_with_an_actor_is_walked(seeded_app: Flask, world: dict[str, Any]) -> None:
    with seeded_app.test_request_context("/?lang=en"), Session(get_engine()) as s:
        assert _actor_services() == set(_service_calls(s, world))


#: What a Lào Cai official may still call (their own scope; the object here is Huế's or the list is scoped).
SCOPED_FOR_LAO_CAI = {"change_password", "check_table", "check_file", "stage_batch", "visible_batches"}


def test_every_service_refuses_anonymous_and_the_wrong_official(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    with seeded_app.test_request_context("/?lang=en"), Session(get_engine(), expire_on_commit=False) as s:
        calls = _service_calls(s, world)
        lao_cai = s.get(User, world["laocai"])
        for name, call in calls.items():
            with pytest.raises(Forbidden):
                call(None)
            s.rollback()
            if name not in SCOPED_FOR_LAO_CAI:
                with pytest.raises(Forbidden):
                    call(lao_cai)
                s.rollback()
