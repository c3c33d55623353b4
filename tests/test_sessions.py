"""An official's own sessions (issue 15): each sign-in is a row they can see and end, so a
lost phone or a shared computer can be signed out from anywhere; signing out, a password
change and deactivation end rows too; old-format cookies simply sign out."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.accounts import sessions
from catalogue.accounts.models import User, UserSession
from catalogue.accounts.tokens import token_hash
from catalogue.config import ConfigError, Settings
from catalogue.db import get_engine
from tests.fixtures.workspace import PASSWORD, csrf_token, login, make_user, post

PHONE = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def app(seeded_app: Flask) -> Flask:
    return seeded_app


def _client(app: Flask, agent: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client


def _signed_in(app: Flask, email: str, agent: str) -> FlaskClient:
    client = _client(app, agent)
    assert login(client, email).status_code == 302
    return client


def _rows(app: Flask, user_id: int) -> list[UserSession]:
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        query = select(UserSession).where(UserSession.user_id == user_id).order_by(UserSession.id)
        return list(s.exec(query).all())


def _session_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'name="session" value="(\d+)"', page)]


def test_the_sessions_page_lists_both_browsers_and_marks_this_one(app: Flask) -> None:
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    laptop = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    _signed_in(app, "hue@so.gov.vn", PHONE)
    page = laptop.get("/admin/sessions?lang=en").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Chrome Mobile on Android" in page
    assert "(this browser)" in page.split("Chrome Mobile on Android")[0]  # Firefox's row, listed first
    assert "15/06/2026 09:0" in laptop.get("/admin/sessions").get_data(as_text=True)  # Vietnam time
    assert len(_session_ids(page)) == 1  # only the other one can be ended here
    assert len(_rows(app, user_id)) == 2
    assert 'href="/admin/sessions"' in laptop.get("/admin/").get_data(as_text=True)  # reachable from the nav


def test_ending_the_other_session_signs_that_browser_out(app: Flask) -> None:
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    laptop = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    phone = _signed_in(app, "hue@so.gov.vn", PHONE)
    (other,) = _session_ids(laptop.get("/admin/sessions").get_data(as_text=True))
    response = post(laptop, "/admin/sessions/end", {"session": other}, token_from="/admin/sessions")
    assert response.status_code == 302
    following = phone.get("/admin/records")
    assert following.status_code == 302 and following.headers["Location"].startswith("/admin/login")
    assert laptop.get("/admin/").status_code == 200
    ended = [r for r in _rows(app, user_id) if r.ended_at is not None]
    assert [r.id for r in ended] == [other]


def test_end_all_other_sessions_keeps_this_one(app: Flask) -> None:
    make_user(app, "hue@so.gov.vn", "province", "Huế")
    laptop = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    others = [_signed_in(app, "hue@so.gov.vn", PHONE) for _ in range(2)]
    response = post(laptop, "/admin/sessions/end-others?lang=en", token_from="/admin/sessions")
    assert response.status_code == 302
    assert "Other sessions ended: 2." in laptop.get("/admin/sessions?lang=en").get_data(as_text=True)
    assert all(o.get("/admin/").status_code == 302 for o in others)
    assert laptop.get("/admin/").status_code == 200


def test_nobody_ends_another_officials_session(app: Flask) -> None:
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue = _signed_in(app, "hue@so.gov.vn", PHONE)
    (hue_row,) = _rows(app, hue_id)
    for email in ("cuc@moit.gov.vn",):  # not even the ministry: a session is its owner's to end
        intruder = _signed_in(app, email, DESKTOP)
        assert str(hue_row.id) not in re.findall(
            r'name="session" value="(\d+)"', intruder.get("/admin/sessions").text
        )
        response = post(
            intruder, "/admin/sessions/end?lang=en", {"session": hue_row.id}, token_from="/admin/sessions"
        )
        assert response.status_code == 302
        assert "That session has already ended." in intruder.get("/admin/sessions?lang=en").text
    assert hue.get("/admin/").status_code == 200
    assert _rows(app, hue_id)[0].ended_at is None


def test_anonymous_is_sent_to_sign_in_from_the_session_pages(app: Flask) -> None:
    client = app.test_client()
    token = csrf_token(client)
    for method, path in (
        ("GET", "/admin/sessions"),
        ("POST", "/admin/sessions/end"),
        ("POST", "/admin/sessions/end-others"),
    ):
        response = client.open(path, method=method, data={"csrf_token": token, "session": 1})
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_this_session_cannot_be_ended_from_the_list(app: Flask) -> None:
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    laptop = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    (mine,) = _rows(app, user_id)
    post(laptop, "/admin/sessions/end?lang=en", {"session": mine.id}, token_from="/admin/sessions")
    assert "sign out instead" in laptop.get("/admin/sessions?lang=en").text
    assert laptop.get("/admin/").status_code == 200


def test_sign_out_password_change_and_deactivation_end_rows(app: Flask) -> None:
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    make_user(app, "cuc@moit.gov.vn", "ministry")
    first = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    post(first, "/admin/logout")
    assert [r.ended_at is not None for r in _rows(app, user_id)] == [True]

    laptop, phone = _signed_in(app, "hue@so.gov.vn", DESKTOP), _signed_in(app, "hue@so.gov.vn", PHONE)
    new = "another good password"
    response = post(
        laptop,
        "/admin/password",
        {"current": PASSWORD, "new": new, "repeat": new},
        token_from="/admin/password",
    )
    assert response.status_code == 302
    assert phone.get("/admin/").status_code == 302 and laptop.get("/admin/").status_code == 200
    open_rows = [r for r in _rows(app, user_id) if r.ended_at is None]
    assert len(open_rows) == 1  # the laptop's new session only

    ministry = _signed_in(app, "cuc@moit.gov.vn", DESKTOP)
    post(ministry, f"/admin/users/{user_id}/active", {"active": "0"})
    assert all(r.ended_at is not None for r in _rows(app, user_id))
    assert laptop.get("/admin/").status_code == 302


def test_an_old_format_cookie_signs_out(app: Flask) -> None:
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    client = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    with client.session_transaction() as cookie:
        cookie["_user_id"] = f"{user_id}:0"  # "<id>:<version>", as before sessions had rows
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_last_seen_is_written_every_few_minutes_not_every_request(app: Flask, clock: Any) -> None:
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    client = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    (row,) = _rows(app, user_id)
    client.get("/admin/")
    assert _rows(app, user_id)[0].last_seen_at == row.last_seen_at
    token = csrf_token(client, "/admin/sessions")
    clock.shift(sessions.TOUCH_EVERY + timedelta(seconds=5))
    # A request that writes, after the refresh wrote in its own transaction, still succeeds.
    assert client.post("/admin/sessions/end-others", data={"csrf_token": token}).status_code == 302
    assert _rows(app, user_id)[0].last_seen_at > row.last_seen_at
    assert client.get("/admin/").status_code == 200


def test_sessions_keep_only_a_hash_of_the_cookie_key(app: Flask) -> None:
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    client = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    with client.session_transaction() as cookie:
        key = cookie["_user_id"].split(":", 2)[2]
    (row,) = _rows(app, user_id)
    assert row.key_hash == token_hash(key) and key not in row.key_hash
    with Session(get_engine(app.config["SQLALCHEMY_URL"])) as s:
        assert s.get(User, user_id) is not None


def test_a_session_unseen_for_the_idle_days_counts_as_ended(make_app: Any, clock: Any) -> None:
    """The cookie outlives a closed browser: a long-unseen session no longer signs in, nor is listed."""
    app = make_app(seeded=True, SESSION_IDLE_DAYS=10)
    user_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    forgotten = _signed_in(app, "hue@so.gov.vn", PHONE)  # a browser closed and never opened again
    laptop = _signed_in(app, "hue@so.gov.vn", DESKTOP)
    for _ in range(3):  # the laptop keeps being used, so it stays signed in
        clock.shift(timedelta(days=4))
        assert laptop.get("/admin/").status_code == 200
    page = laptop.get("/admin/sessions?lang=en").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Chrome Mobile on Android" not in page
    assert _session_ids(page) == []
    response = forgotten.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert len(_rows(app, user_id)) == 2  # ended by age; retention deletes the row later


def test_the_idle_days_have_a_default_and_are_validated() -> None:
    assert Settings.from_env({}).SESSION_IDLE_DAYS == 30
    assert Settings.from_env({"SESSION_IDLE_DAYS": "7"}).SESSION_IDLE_DAYS == 7
    for value in ("0", "a month", "400"):
        with pytest.raises(ConfigError):
            Settings.from_env({"SESSION_IDLE_DAYS": value})
