"""A province's own lead official (issue 15, item 1): the ministry marks a provincial official
as lead, and the lead looks after the accounts of their own province's other officials
(reset links, new accounts, deactivation) instead of sending every forgotten password to
the ministry. Never a ministry account, another province's, another lead's or their own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.accounts import resets
from catalogue.accounts import services as accounts
from catalogue.accounts.models import PasswordReset, User
from catalogue.accounts.permissions import SYSTEM, Forbidden
from catalogue.audit.models import AuditEntry
from catalogue.db import get_engine
from tests.fixtures.workspace import PASSWORD, csrf_token, login, make_user, post, province

NEW_PASSWORD = "a brand new passphrase"
_LINK = re.compile(r'value="http://registry\.test(/admin/reset/[A-Za-z0-9_-]+)"')


def _db(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]))


def _make_lead(app: Flask, email: str, province_name: str) -> int:
    with app.app_context(), _db(app) as s:
        user = accounts.create_user(
            s,
            actor=SYSTEM,
            email=email,
            password=PASSWORD,
            role="province",
            province=province(s, province_name),
            lead=True,
        )
        s.commit()
        return int(user.id or 0)


@pytest.fixture
def people(seeded_app: Flask) -> dict[str, int]:
    """The ministry, Huế's lead, a second Huế lead, two Huế officials, Lào Cai's lead and official."""
    app = seeded_app
    return {
        "ministry": make_user(app, "cuc@moit.gov.vn", "ministry"),
        "lead": _make_lead(app, "lead.hue@so.gov.vn", "Huế"),
        "lead2": _make_lead(app, "lead2.hue@so.gov.vn", "Huế"),
        "hue": make_user(app, "hue@so.gov.vn", "province", "Huế"),
        "hue2": make_user(app, "hue2@so.gov.vn", "province", "Huế"),
        "lc_lead": _make_lead(app, "lead.lc@so.gov.vn", "Lào Cai"),
        "lc": make_user(app, "lc@so.gov.vn", "province", "Lào Cai"),
    }


@pytest.fixture
def app(seeded_app: Flask, people: dict[str, int]) -> Flask:
    return seeded_app


def _signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _user(app: Flask, user_id: int) -> User:
    with _db(app) as s:
        user = s.get(User, user_id)
        assert user is not None
        return user


def _find(app: Flask, email: str) -> User | None:
    with _db(app) as s:
        return s.exec(select(User).where(User.email == email)).first()


def _resets(app: Flask) -> list[PasswordReset]:
    with _db(app) as s:
        return list(s.exec(select(PasswordReset)).all())


def _issue(client: FlaskClient, user_id: int) -> Any:
    path = f"/admin/users/{user_id}/reset-link"
    return post(client, f"{path}?lang=en", {}, token_from="/admin/")


def _new_account(client: FlaskClient, app: Flask, email: str, **over: Any) -> Any:
    with _db(app) as s:
        hue_id = province(s, "Huế").id
    data = {"email": email, "role": "province", "province_id": hue_id, "password": "initial password"}
    data.update(over)
    return post(client, "/admin/users?lang=en", data, token_from="/admin/")


# ----------------------------------------------------------------------------- the story


def test_a_lead_issues_a_reset_link_and_their_colleague_gets_back_in(
    app: Flask, people: dict[str, int]
) -> None:
    lead = _signed_in(app, "lead.hue@so.gov.vn")
    page = lead.get("/admin/users?lang=en").get_data(as_text=True)
    assert f"/admin/users/{people['hue']}/reset-link" in page
    assert 'href="/admin/users"' in page  # the navigation offers the accounts page to a lead

    issued = _issue(lead, people["hue"])
    assert issued.status_code == 200
    match = _LINK.search(issued.get_data(as_text=True))
    assert match, "no reset link on the page"
    path = match.group(1)

    # The colleague, not signed in, sets a new password through the link and signs in with it.
    colleague = app.test_client()
    assert colleague.get(path).headers["Location"] == "/admin/reset"  # the token leaves the address
    token = csrf_token(colleague, "/admin/reset")
    done = colleague.post(
        "/admin/reset", data={"csrf_token": token, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/admin/login"
    assert login(app.test_client(), "hue@so.gov.vn").status_code == 200  # the old password fails
    assert login(colleague, "hue@so.gov.vn", NEW_PASSWORD).status_code == 302
    assert colleague.get("/admin/").status_code == 200

    # Audited as the lead's, in Huế's own audit log, with a readable label; never the token.
    with _db(app) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "issue_reset_link")).one()
        assert (entry.actor_label, entry.entity_id) == ("lead.hue@so.gov.vn", people["hue"])
        assert entry.province_id == _user(app, people["lead"]).province_id
    hue_log = _signed_in(app, "hue2@so.gov.vn").get("/admin/audit?lang=en").get_data(as_text=True)
    assert "lead.hue@so.gov.vn" in hue_log and "Reset link valid until" in hue_log
    assert path.rsplit("/", 1)[1] not in hue_log
    lc_log = _signed_in(app, "lc@so.gov.vn").get("/admin/audit?lang=en").get_data(as_text=True)
    assert "lead.hue@so.gov.vn" not in lc_log


def test_a_leads_accounts_page_lists_only_their_province(app: Flask, people: dict[str, int]) -> None:
    page = _signed_in(app, "lead.hue@so.gov.vn").get("/admin/users?lang=en").get_data(as_text=True)
    for email in ("hue@so.gov.vn", "hue2@so.gov.vn", "lead2.hue@so.gov.vn"):
        assert email in page
    for email in ("cuc@moit.gov.vn", "lc@so.gov.vn", "lead.lc@so.gov.vn"):
        assert email not in page
    # Actions only for the plain officials: nothing for a fellow lead or for oneself.
    for key in ("hue", "hue2"):
        assert f"/admin/users/{people[key]}/reset-link" in page
        assert f"/admin/users/{people[key]}/active" in page
    for key in ("lead", "lead2"):
        assert f"/admin/users/{people[key]}/" not in page
    assert not re.search(r"/admin/users/\d+/lead", page)  # making leads is the ministry's
    # The form creates Huế's provincial officials only, and offers no lead box.
    options = re.search(r'<select[^>]*name="province_id".*?</select>', page, re.S)
    assert options and options.group(0).count("<option") == 1 and "Huế" in options.group(0)
    assert 'value="ministry"' not in page and 'name="lead"' not in page

    ministry = _signed_in(app, "cuc@moit.gov.vn").get("/admin/users?lang=en").get_data(as_text=True)
    assert "lc@so.gov.vn" in ministry and 'name="lead"' in ministry
    assert f"/admin/users/{people['hue']}/lead" in ministry

    plain = _signed_in(app, "hue@so.gov.vn")
    assert plain.get("/admin/users").status_code == 403
    assert 'href="/admin/users"' not in plain.get("/admin/").get_data(as_text=True)


# ----------------------------------------------------------------------------- who may do what


def test_permission_walk_for_reset_links(app: Flask, people: dict[str, int]) -> None:
    hue_path = f"/admin/users/{people['hue']}/reset-link"
    anonymous = app.test_client()
    token = csrf_token(anonymous)
    for method in ("GET", "POST"):
        response = anonymous.open(hue_path, method=method, data={"csrf_token": token})
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")

    for email in ("lead.lc@so.gov.vn", "hue2@so.gov.vn"):  # another province's lead; a plain colleague
        client = _signed_in(app, email)
        assert client.get(hue_path).status_code == 403
        assert _issue(client, people["hue"]).status_code == 403
    lead = _signed_in(app, "lead.hue@so.gov.vn")
    for key in ("ministry", "lead2", "lead", "lc"):  # a ministry account, a fellow lead, oneself, Lào Cai's
        assert lead.get(f"/admin/users/{people[key]}/reset-link").status_code == 403, key
        assert _issue(lead, people[key]).status_code == 403, key
    assert _resets(app) == []

    assert _LINK.search(_issue(lead, people["hue"]).get_data(as_text=True))
    assert _LINK.search(_issue(_signed_in(app, "cuc@moit.gov.vn"), people["lead"]).get_data(as_text=True))
    assert [r.user_id for r in _resets(app)] == [people["hue"], people["lead"]]


def test_permission_walk_for_deactivating(app: Flask, people: dict[str, int]) -> None:
    def deactivate(client: FlaskClient, key: str) -> Any:
        return post(client, f"/admin/users/{people[key]}/active?lang=en", {"active": "0"})

    anonymous = app.test_client()
    response = anonymous.post(
        f"/admin/users/{people['hue']}/active", data={"csrf_token": csrf_token(anonymous)}
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert deactivate(_signed_in(app, "lead.lc@so.gov.vn"), "hue").status_code == 403
    assert deactivate(_signed_in(app, "hue2@so.gov.vn"), "hue").status_code == 403
    lead = _signed_in(app, "lead.hue@so.gov.vn")
    for key in ("ministry", "lead2", "lc"):
        assert deactivate(lead, key).status_code == 403, key
    own = deactivate(lead, "lead")
    assert own.status_code == 302
    assert "You cannot deactivate your own account." in lead.get("/admin/users?lang=en").get_data(
        as_text=True
    )
    assert all(_user(app, people[k]).is_active for k in people)

    colleague = _signed_in(app, "hue@so.gov.vn")
    assert deactivate(lead, "hue").status_code == 302
    assert not _user(app, people["hue"]).is_active
    assert colleague.get("/admin/").status_code == 302  # signed out at once
    back = post(lead, f"/admin/users/{people['hue']}/active", {"active": "1"})
    assert back.status_code == 302 and _user(app, people["hue"]).is_active
    assert deactivate(_signed_in(app, "cuc@moit.gov.vn"), "hue2").status_code == 302
    assert not _user(app, people["hue2"]).is_active
    with _db(app) as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.actor_label == "lead.hue@so.gov.vn")).all()
        mine = [(e.action, e.entity_id, e.province_id) for e in entries if e.action != "sign_in"]
    hue_id = _user(app, people["hue"]).province_id
    assert mine == [("deactivate", people["hue"], hue_id), ("activate", people["hue"], hue_id)]


def test_permission_walk_for_creating_accounts(app: Flask, people: dict[str, int]) -> None:
    anonymous = app.test_client()
    response = anonymous.post(
        "/admin/users", data={"csrf_token": csrf_token(anonymous), "email": "x@so.gov.vn"}
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert _new_account(_signed_in(app, "hue@so.gov.vn"), app, "a@so.gov.vn").status_code == 403

    lead = _signed_in(app, "lead.hue@so.gov.vn")
    with _db(app) as s:
        lao_cai = province(s, "Lào Cai").id
    assert _new_account(lead, app, "b@so.gov.vn", province_id=lao_cai).status_code == 403
    leading = _new_account(
        lead, app, "c@so.gov.vn", lead="y"
    )  # only the ministry makes leads: said on the form
    assert leading.status_code == 200
    assert "Only a ministry official makes a province" in leading.get_data(as_text=True)
    ministry_role = _new_account(lead, app, "d@moit.gov.vn", role="ministry")
    assert ministry_role.status_code == 200 and "Not a valid choice" in ministry_role.get_data(as_text=True)
    assert _new_account(_signed_in(app, "lead.lc@so.gov.vn"), app, "e@so.gov.vn").status_code == 403
    assert all(_find(app, e) is None for e in ("a@so.gov.vn", "b@so.gov.vn", "c@so.gov.vn", "d@moit.gov.vn",
                                               "e@so.gov.vn"))  # fmt: skip

    created = _new_account(lead, app, "new.hue@so.gov.vn")
    assert created.status_code == 302
    user = _find(app, "new.hue@so.gov.vn")
    assert user is not None and user.role == "province" and not user.is_lead
    assert user.province_id == _user(app, people["lead"]).province_id
    assert login(app.test_client(), "new.hue@so.gov.vn", "initial password").status_code == 302
    with _db(app) as s:
        entry = s.exec(
            select(AuditEntry).where(
                AuditEntry.entity_type == "user",
                AuditEntry.action == "create",
                AuditEntry.entity_id == user.id,
            )
        ).one()
        assert (entry.actor_label, entry.province_id) == ("lead.hue@so.gov.vn", user.province_id)

    assert (
        _new_account(_signed_in(app, "cuc@moit.gov.vn"), app, "lead3.hue@so.gov.vn", lead="y").status_code
        == 302
    )
    made = _find(app, "lead3.hue@so.gov.vn")
    assert made is not None and made.is_lead


def test_only_the_ministry_makes_and_ends_leads(app: Flask, people: dict[str, int]) -> None:
    path = f"/admin/users/{people['hue']}/lead"
    anonymous = app.test_client()
    response = anonymous.post(path, data={"csrf_token": csrf_token(anonymous), "lead": "1"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    for email in ("lead.hue@so.gov.vn", "lead.lc@so.gov.vn", "hue2@so.gov.vn"):
        assert post(_signed_in(app, email), path, {"lead": "1"}).status_code == 403, email
    assert not _user(app, people["hue"]).is_lead

    ministry = _signed_in(app, "cuc@moit.gov.vn")
    colleague = _signed_in(app, "hue@so.gov.vn")
    assert colleague.get("/admin/users").status_code == 403
    assert post(ministry, path, {"lead": "1"}).status_code == 302
    assert _user(app, people["hue"]).is_lead
    assert colleague.get("/admin/users").status_code == 200  # at once, in the same session
    log = ministry.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Lead official of the province" in log

    assert post(ministry, path, {"lead": "0"}).status_code == 302
    assert not _user(app, people["hue"]).is_lead
    assert colleague.get("/admin/users").status_code == 403

    refused = post(ministry, f"/admin/users/{people['ministry']}/lead?lang=en", {"lead": "1"})
    assert refused.status_code == 302
    assert "Only a provincial official can be" in ministry.get("/admin/users?lang=en").get_data(as_text=True)
    assert not _user(app, people["ministry"]).is_lead


def test_the_forms_are_csrf_protected(app: Flask, people: dict[str, int]) -> None:
    lead = _signed_in(app, "lead.hue@so.gov.vn")
    ministry = _signed_in(app, "cuc@moit.gov.vn")
    hue = people["hue"]
    for client, path, data in (
        (lead, "/admin/users", {"email": "x@so.gov.vn", "role": "province", "password": "initial password"}),
        (lead, f"/admin/users/{hue}/active", {"active": "0"}),
        (lead, f"/admin/users/{hue}/reset-link", {}),
        (ministry, f"/admin/users/{hue}/lead", {"lead": "1"}),
    ):
        assert client.post(path, data=data).status_code == 400, path
    user = _user(app, hue)
    assert user.is_active and not user.is_lead
    assert _find(app, "x@so.gov.vn") is None and _resets(app) == []


# ----------------------------------------------------------------------------- the services


def test_the_services_keep_a_lead_to_their_own_provinces_officials(
    app: Flask, people: dict[str, int]
) -> None:
    with app.test_request_context("/?lang=en"), _db(app) as s:
        get = s.get
        lead, lc_lead, hue = get(User, people["lead"]), get(User, people["lc_lead"]), get(User, people["hue"])
        assert lead is not None and lc_lead is not None and hue is not None
        assert {u.email for u in accounts.list_users(s, actor=lead)} == {
            "lead.hue@so.gov.vn", "lead2.hue@so.gov.vn", "hue@so.gov.vn", "hue2@so.gov.vn",
        }  # fmt: skip
        for call in (
            lambda: resets.issue(s, actor=lc_lead, user=hue, hours=1),
            lambda: resets.issue(s, actor=lead, user=get(User, people["lead2"]), hours=1),
            lambda: accounts.set_active(s, actor=lc_lead, user=hue, active=False),
            lambda: accounts.set_lead(s, actor=lead, user=hue, lead=True),
            lambda: accounts.create_user(s, actor=lead, email="z@moit.gov.vn", password=PASSWORD,
                                         role="ministry"),
        ):  # fmt: skip
            with pytest.raises(Forbidden):
                call()
            s.rollback()
        with pytest.raises(accounts.AccountError, match="Only a ministry official makes"):
            accounts.create_user(s, actor=lead, email="z@so.gov.vn", password=PASSWORD,
                                 role="province", province=province(s, "Huế"), lead=True)  # fmt: skip
        with pytest.raises(accounts.AccountError, match="change your own password"):
            resets.issue(s, actor=lead, user=lead, hours=1)
        assert s.exec(select(PasswordReset)).all() == []


def test_cli_creates_a_lead(app: Flask) -> None:
    runner = app.test_cli_runner()
    args = ["user", "create", "--email", "lead.dn@so.gov.vn", "--password", PASSWORD, "--lang", "en"]
    done = runner.invoke(args=[*args, "--role", "province", "--province", "Đà Nẵng", "--lead"])
    assert done.exit_code == 0, done.output
    assert "Created lead provincial account lead.dn@so.gov.vn" in done.output
    made = _find(app, "lead.dn@so.gov.vn")
    assert made is not None and made.is_lead
    refused = runner.invoke(args=["user", "create", "--email", "m@moit.gov.vn", "--password", PASSWORD,
                                  "--lang", "en", "--role", "ministry", "--lead"])  # fmt: skip
    assert refused.exit_code != 0 and "Only a provincial official" in refused.output
    assert _find(app, "m@moit.gov.vn") is None
