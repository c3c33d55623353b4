"""Accounts: Argon2 hashes, signing in and out, sessions ended by a password change,
rate limiting, CSRF, safe ``next`` redirects, and the ``flask user create`` command."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlmodel import Session, select

from catalogue.accounts import services as accounts
from catalogue.accounts.models import User
from catalogue.audit.models import AuditEntry
from catalogue.db import get_engine
from tests.fixtures.workspace import PASSWORD, csrf_token, login, make_user, post


@pytest.fixture
def app(seeded_app: Flask) -> Flask:
    """Accounts need the province table, which the seed provides."""
    return seeded_app


def _user(app: Flask, email: str) -> User:
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        return s.exec(select(User).where(User.email == email)).one()


def test_password_is_stored_as_argon2id(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "ministry")
    user = _user(app, "a@so.gov.vn")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_outside_tests_a_cheap_hash_is_upgraded_to_the_production_cost_on_sign_in(app: Flask) -> None:
    """The suite hashes at the cheapest cost; a real deployment re-hashes such a hash on sign-in."""
    make_user(app, "a@so.gov.vn", "ministry")
    cheap = _user(app, "a@so.gov.vn").password_hash
    assert "m=8,t=1,p=1" in cheap  # the test app's cost, named in the hash
    app.config["TESTING"] = False  # as in production: RFC 9106 low-memory profile
    with app.app_context(), Session(get_engine()) as session:
        assert accounts.authenticate(session, "a@so.gov.vn", "wrong password!") is None
        assert accounts.authenticate(session, "a@so.gov.vn", PASSWORD) is not None
        session.commit()
    upgraded = _user(app, "a@so.gov.vn").password_hash
    assert upgraded != cheap and "m=65536,t=3,p=4" in upgraded


def test_sign_in_and_out(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "province", "Huế")
    client = app.test_client()
    assert client.get("/admin/").status_code == 302
    response = login(client, "A@so.gov.vn ")  # e-mail is case- and space-insensitive
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert _user(app, "a@so.gov.vn").last_login_at is not None
    response = post(client, "/admin/logout")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_wrong_password_and_unknown_account_get_the_same_answer(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "ministry")
    client = app.test_client()
    wrong = login(client, "a@so.gov.vn", "not the password")
    unknown = login(client, "nobody@so.gov.vn", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    flash = 'class="flash flash-error"'
    assert flash in wrong.get_data(as_text=True) and flash in unknown.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_login_form_without_csrf_token_is_refused(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "ministry")
    client = app.test_client()
    response = client.post("/admin/login", data={"email": "a@so.gov.vn", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_every_workspace_form_refuses_a_post_without_token(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "ministry")
    client = app.test_client()
    login(client, "a@so.gov.vn")
    for path in ("/admin/users", "/admin/imports", "/admin/logout", "/admin/password", "/admin/events/new"):
        assert client.post(path, data={"email": "b@so.gov.vn"}).status_code == 400, path
    assert client.get("/admin/").status_code == 200  # still signed in: nothing happened


def test_next_redirects_only_within_the_site(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "ministry")
    for target, expected in (
        ("/admin/audit", "/admin/audit"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/x", "/admin/"),
    ):
        client = app.test_client()
        token = csrf_token(client)
        response = client.post(
            "/admin/login",
            data={"csrf_token": token, "email": "a@so.gov.vn", "password": PASSWORD, "next": target},
        )
        assert response.headers["Location"] == expected


def test_anonymous_visit_is_sent_to_sign_in_with_next(app: Flask) -> None:
    response = app.test_client().get("/admin/audit?person=x")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=/admin/audit")


def test_password_change_ends_other_sessions(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "province", "Huế")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "a@so.gov.vn")
    login(phone, "a@so.gov.vn")
    response = post(
        laptop,
        "/admin/password",
        {"current": PASSWORD, "new": "a much newer secret", "repeat": "a much newer secret"},
        token_from="/admin/password",
    )
    assert response.status_code == 302
    assert laptop.get("/admin/").status_code == 200  # this session continues
    assert phone.get("/admin/").status_code == 302  # the other one is over
    assert login(app.test_client(), "a@so.gov.vn", "a much newer secret").status_code == 302
    assert _user(app, "a@so.gov.vn").session_version == 1


def test_password_change_needs_the_current_password(app: Flask) -> None:
    make_user(app, "a@so.gov.vn", "province", "Huế")
    client = app.test_client()
    login(client, "a@so.gov.vn")
    page = post(
        client,
        "/admin/password?lang=en",
        {"current": "wrong", "new": "a much newer secret", "repeat": "a much newer secret"},
        token_from="/admin/password",
    ).get_data(as_text=True)
    assert "The current password is not correct." in page
    assert _user(app, "a@so.gov.vn").session_version == 0


def test_sign_in_attempts_are_rate_limited(make_app: Callable[..., Flask]) -> None:
    app = make_app(seeded=True, RATELIMIT_ENABLED=True)
    make_user(app, "a@so.gov.vn", "ministry")
    client = app.test_client()
    statuses = [login(client, "a@so.gov.vn", "wrong password").status_code for _ in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    # Even the right password is refused until the window passes.
    assert login(client, "a@so.gov.vn").status_code == 429


def test_sign_ins_that_succeed_never_use_up_the_limits(make_app: Callable[..., Flask]) -> None:
    """An office behind one address signs in many times each morning: only failures count."""
    app = make_app(seeded=True, RATELIMIT_ENABLED=True)
    for n in range(3):
        make_user(app, f"o{n}@so.gov.vn", "ministry")
    for n in range(15):  # over the per-address limit (10 a minute) in successes alone
        assert login(app.test_client(), f"o{n % 3}@so.gov.vn").status_code == 302, n
    client = app.test_client()
    statuses = [login(client, "o0@so.gov.vn", "wrong password").status_code for _ in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429  # failures still do


def test_session_cookie_flags(make_app: Callable[..., Flask]) -> None:
    app = make_app(seeded=True, PUBLIC_BASE_URL="https://registry.example", SESSION_COOKIE_SECURE=True)
    make_user(app, "a@so.gov.vn", "ministry")
    client = app.test_client()
    response = login(client, "a@so.gov.vn")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_ministry_creates_and_deactivates_accounts(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    client = app.test_client()
    login(client, "cuc@moit.gov.vn")
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        from tests.fixtures.workspace import province

        hue_id = province(s, "Huế").id
    response = post(
        client,
        "/admin/users",
        {
            "email": "hue@so.gov.vn",
            "role": "province",
            "province_id": hue_id,
            "password": "initial password",
            "name": "Sở CT Huế",
        },
        token_from="/admin/users",
    )
    assert response.status_code == 302
    other = app.test_client()
    assert login(other, "hue@so.gov.vn", "initial password").status_code == 302
    user = _user(app, "hue@so.gov.vn")
    assert user.role == "province" and user.province_id == hue_id
    post(client, f"/admin/users/{user.id}/active", {"active": "0"}, token_from="/admin/users")
    assert other.get("/admin/").status_code == 302  # signed out at once
    assert login(app.test_client(), "hue@so.gov.vn", "initial password").status_code == 200  # cannot sign in
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        actions = s.exec(
            select(AuditEntry.action).where(
                AuditEntry.entity_type == "user", AuditEntry.actor_label == "cuc@moit.gov.vn"
            )
        ).all()
    assert sorted(a for a in actions if a != "sign_in") == ["create", "deactivate"]
    assert "sign_in" in actions  # signing in is logged too


def test_account_rules(app: Flask) -> None:
    from catalogue.accounts.permissions import SYSTEM

    with app.app_context(), app.test_request_context("/?lang=en"):
        with Session(get_engine()) as s:
            for kwargs, words in (
                ({"email": "not-an-email", "role": "ministry"}, "is not an e-mail address"),
                ({"email": "p@so.gov.vn", "role": "province"}, "needs one of the 34 current provinces"),
                ({"email": "p@so.gov.vn", "role": "admin"}, "must be"),
                ({"email": "p@so.gov.vn", "role": "ministry", "password": "short"}, "at least 10"),
            ):
                try:
                    accounts.create_user(s, actor=SYSTEM, **{"password": PASSWORD, **kwargs})
                except accounts.AccountError as exc:
                    assert words in str(exc)
                else:
                    raise AssertionError(kwargs)


def test_cli_user_create(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "hue@so.gov.vn",
            "--password",
            PASSWORD,
            "--role",
            "province",
            "--province",
            "Thua Thien Hue",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Thành phố Huế" in result.output  # the old name maps to the current unit
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "x@so.gov.vn",
            "--password",
            PASSWORD,
            "--role",
            "province",
            "--province",
            "Lao Kai",
        ]
    )
    assert result.exit_code != 0 and "Did you mean" in result.output
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "hue@so.gov.vn",
            "--password",
            PASSWORD,
            "--role",
            "ministry",
            "--lang",
            "en",
        ]
    )
    assert result.exit_code != 0 and "already exists" in result.output


def test_the_accounts_page_offers_no_button_against_ones_own_account(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    make_user(app, "khac@moit.gov.vn", "ministry")
    client = app.test_client()
    login(client, "cuc@moit.gov.vn")
    page = client.get("/admin/users?lang=en").get_data(as_text=True)
    own = page[page.index("cuc@moit.gov.vn</td>") :].split("</tr>", 1)[0]
    other = page[page.index("khac@moit.gov.vn</td>") :].split("</tr>", 1)[0]
    assert "Deactivate" not in own and "your account" in own
    assert "Deactivate" in other
