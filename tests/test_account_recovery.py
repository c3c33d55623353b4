"""Accounts they can recover (issue 15): a ministry official issues a one-time, expiring reset
link for a locked-out official, shown once and audited; the official sets a new password
through it and signs in at once. Also the e-mail copy of the link and ``flask user reset-link``."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.accounts import mail, resets, sessions
from catalogue.accounts.models import PasswordReset, User, UserSession
from catalogue.accounts.permissions import Forbidden
from catalogue.audit.models import AuditEntry
from catalogue.clock import utcnow
from catalogue.db import get_engine
from tests.fixtures.workspace import PASSWORD, csrf_token, login, make_user, post

NEW_PASSWORD = "a brand new passphrase"
_LINK = re.compile(r'value="(http://registry\.test/admin/reset/([A-Za-z0-9_-]+))"')


@pytest.fixture
def app(seeded_app: Flask) -> Flask:
    return seeded_app


def _db(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]))


def _user(app: Flask, email: str) -> User:
    with _db(app) as s:
        return s.exec(select(User).where(User.email == email)).one()


def _resets(app: Flask) -> list[PasswordReset]:
    with _db(app) as s:
        return list(s.exec(select(PasswordReset)).all())


def _signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _issue(client: FlaskClient, user_id: int, lang: str = "vi", **data: Any) -> Any:
    path = f"/admin/users/{user_id}/reset-link"
    return post(client, f"{path}?lang={lang}", data, token_from=path)


def _link_in(response: Any) -> tuple[str, str]:
    """The link shown on the page, and its path (with the token)."""
    match = _LINK.search(response.get_data(as_text=True))
    assert match, "no reset link on the page"
    return match.group(1), match.group(1).removeprefix("http://registry.test")


def _sign_in_from(client: FlaskClient, email: str, password: str, address: str) -> Any:
    token = csrf_token(client)
    return client.post(
        "/admin/login",
        data={"csrf_token": token, "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


#: The token-free page an opened link leads to.
RESET = "/admin/reset"


def _open(client: FlaskClient, path: str) -> Any:
    """Open a link: the token is kept in this browser's session and dropped from the address."""
    opened = client.get(path)
    assert opened.status_code == 303 and opened.headers["Location"] == RESET
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    return opened


def _set_password(client: FlaskClient, new: str, repeat: str | None = None, lang: str = "vi") -> Any:
    token = csrf_token(client, RESET)
    return client.post(
        f"{RESET}?lang={lang}",
        data={"csrf_token": token, "new": new, "repeat": new if repeat is None else repeat},
    )


# ----------------------------------------------------------------------------- the story


def test_a_locked_out_official_gets_back_in_through_a_link_the_ministry_issued(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(seeded=True, RATELIMIT_ENABLED=True)
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    laptop = _signed_in(app, "hue@so.gov.vn")  # an older session, left open somewhere

    # Someone (the official, misremembering) tries wrong passwords until the account is locked out.
    phone = app.test_client()
    statuses = [
        _sign_in_from(phone, "hue@so.gov.vn", f"guess number {n}", f"10.0.{n}.1").status_code
        for n in range(40)
    ]
    assert 429 in statuses
    assert _sign_in_from(phone, "hue@so.gov.vn", PASSWORD, "10.9.9.9").status_code == 429

    # The ministry issues a link from the accounts page.
    ministry = _signed_in(app, "cuc@moit.gov.vn")
    accounts_page = ministry.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{hue_id}/reset-link" in accounts_page
    confirm = ministry.get(f"/admin/users/{hue_id}/reset-link?lang=en")
    assert confirm.status_code == 200 and "hue@so.gov.vn" in confirm.get_data(as_text=True)
    issued = _issue(ministry, hue_id)
    assert issued.status_code == 200
    assert "no-store" in issued.headers["Cache-Control"]
    link, path = _link_in(issued)
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 40

    # Shown once: not on the accounts page, not on the issue page again, not stored, not audited.
    assert token not in ministry.get("/admin/users").get_data(as_text=True)
    assert token not in ministry.get(f"/admin/users/{hue_id}/reset-link").get_data(as_text=True)
    (stored,) = _resets(app)
    assert stored.token_hash != token and token not in stored.token_hash
    with _db(app) as s:
        entries = s.exec(select(AuditEntry)).all()
        assert not any(token in f"{e.summary} {e.changes}" for e in entries)
        issued_entry = [e for e in entries if e.action == "issue_reset_link"]
        assert [(e.actor_label, e.entity_id, e.summary) for e in issued_entry] == [
            ("cuc@moit.gov.vn", hue_id, "hue@so.gov.vn")
        ]
    assert token not in ministry.get("/admin/audit").get_data(as_text=True)

    # The official opens the link (not signed in), makes mistakes, then sets a new password.
    _open(phone, path)
    form = phone.get(RESET)
    assert form.status_code == 200 and "hue@so.gov.vn" in form.get_data(as_text=True)
    assert form.headers["Referrer-Policy"] == "no-referrer"
    differ = _set_password(phone, NEW_PASSWORD, "something else entirely", lang="en")
    assert differ.status_code == 200 and "The two passwords differ." in differ.get_data(as_text=True)
    short = _set_password(phone, "short", lang="en")
    assert short.status_code == 200 and "at least 10 characters" in short.get_data(as_text=True)
    assert _resets(app)[0].used_at is None  # mistakes use nothing up
    done = _set_password(phone, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/admin/login"
    assert phone.get("/admin/login").status_code == 200

    # Every earlier session has ended; the old password fails, the new one signs in at once.
    assert laptop.get("/admin/").status_code == 302
    old = _sign_in_from(app.test_client(), "hue@so.gov.vn", PASSWORD, "10.8.0.1")
    assert old.status_code == 200 and 'class="flash flash-error"' in old.get_data(as_text=True)
    assert _sign_in_from(phone, "hue@so.gov.vn", NEW_PASSWORD, "10.9.9.9").status_code == 302
    assert phone.get("/admin/").status_code == 200

    # The link works once.
    again = app.test_client().get(path + "?lang=en")
    assert again.status_code == 404 and "has already been used or has expired" in again.get_data(as_text=True)
    assert phone.get(RESET).status_code == 404  # forgotten by the browser that used it
    replay = app.test_client()
    replay_token = csrf_token(replay)
    response = replay.post(RESET, data={"csrf_token": replay_token, "new": "x" * 12, "repeat": "x" * 12})
    assert response.status_code == 404
    assert _sign_in_from(app.test_client(), "hue@so.gov.vn", NEW_PASSWORD, "10.7.0.1").status_code == 302
    with _db(app) as s:
        actions = [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.entity_id == hue_id)).all()]
        assert "reset_password" in actions


def test_an_expired_link_is_refused_and_changes_nothing(app: Flask, clock: Any) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    _, path = _link_in(_issue(_signed_in(app, "cuc@moit.gov.vn"), hue_id))
    before = _user(app, "hue@so.gov.vn").password_hash
    clock.shift(timedelta(hours=app.config["RESET_LINK_HOURS"], minutes=1))
    official = app.test_client()
    page = official.get(path)
    assert page.status_code == 404
    assert "Liên kết này không dùng được" in page.get_data(as_text=True)  # Vietnamese by default
    token = csrf_token(official)
    assert (
        official.post(
            RESET, data={"csrf_token": token, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
        ).status_code
        == 404
    )
    assert _user(app, "hue@so.gov.vn").password_hash == before
    assert _sign_in_from(official, "hue@so.gov.vn", PASSWORD, "127.0.0.1").status_code == 302


def test_a_new_link_replaces_the_earlier_one_and_unknown_links_get_a_clear_page(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    ministry = _signed_in(app, "cuc@moit.gov.vn")
    _, first = _link_in(_issue(ministry, hue_id))
    _, second = _link_in(_issue(ministry, hue_id))
    visitor = app.test_client()
    assert visitor.get(first).status_code == 404
    _open(visitor, second)
    assert visitor.get(RESET).status_code == 200
    for bad in ("/admin/reset/nonsense", "/admin/reset/" + "A" * 500, "/admin/reset/%00"):
        response = visitor.get(bad + "?lang=en")
        assert response.status_code == 404, bad
        assert "This link cannot be used" in response.get_data(as_text=True)


def test_the_token_leaves_the_address_at_once(app: Flask) -> None:
    """Access and error logs keep addresses: after opening, no address carries the token."""
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    _, path = _link_in(_issue(_signed_in(app, "cuc@moit.gov.vn"), hue_id))
    token = path.rsplit("/", 1)[1]
    official = app.test_client()
    opened = _open(official, path)
    assert token not in opened.headers["Location"]
    form = official.get(RESET)
    page = form.get_data(as_text=True)
    assert form.status_code == 200 and token not in page
    actions = re.findall(r'<form method="post"([^>]*)>', page)
    assert actions and all(token not in a and "/admin/reset/" not in a for a in actions)  # posts to RESET
    # Another browser, without the link, gets nothing from the token-free address.
    assert app.test_client().get(RESET).status_code == 404
    done = _set_password(official, NEW_PASSWORD)
    assert done.status_code == 302 and token not in done.headers["Location"]
    followed = official.get(done.headers["Location"])
    assert followed.status_code == 200 and token not in followed.get_data(as_text=True)


def test_a_link_that_expires_while_its_form_is_open_changes_nothing(app: Flask, clock: Any) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    _, path = _link_in(_issue(_signed_in(app, "cuc@moit.gov.vn"), hue_id))
    before = _user(app, "hue@so.gov.vn").password_hash
    clock.shift(timedelta(hours=app.config["RESET_LINK_HOURS"], minutes=-1))
    official = app.test_client()
    _open(official, path)
    token = csrf_token(official, RESET)
    clock.shift(timedelta(minutes=2))
    late = official.post(
        f"{RESET}?lang=en", data={"csrf_token": token, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    )
    assert late.status_code == 404 and "This link cannot be used" in late.get_data(as_text=True)
    assert _user(app, "hue@so.gov.vn").password_hash == before


# ----------------------------------------------------------------------------- who may issue


def test_permission_walk_for_issuing_a_link(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    make_user(app, "hue2@so.gov.vn", "province", "Huế")
    make_user(app, "lc@so.gov.vn", "province", "Lào Cai")
    path = f"/admin/users/{hue_id}/reset-link"

    anonymous = app.test_client()
    token = csrf_token(anonymous)
    for method in ("GET", "POST"):
        response = anonymous.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")

    for email in ("lc@so.gov.vn", "hue2@so.gov.vn"):  # another province's office; the same province's
        client = _signed_in(app, email)
        assert client.get(path).status_code == 403
        refused = post(client, path, token_from="/admin/")
        assert refused.status_code == 403
    assert _resets(app) == []

    ministry = _signed_in(app, "cuc@moit.gov.vn")
    _link_in(_issue(ministry, hue_id))
    assert len(_resets(app)) == 1

    own = _issue(ministry, _user(app, "cuc@moit.gov.vn").id or 0)  # signed in: use the password page
    assert own.status_code == 302 and len(_resets(app)) == 1


def test_no_link_for_a_deactivated_account(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    ministry = _signed_in(app, "cuc@moit.gov.vn")
    _, path = _link_in(_issue(ministry, hue_id))
    assert post(ministry, f"/admin/users/{hue_id}/active", {"active": "0"}).status_code == 302
    assert app.test_client().get(path).status_code == 404  # an open link dies with the account

    page = ministry.get(f"/admin/users/{hue_id}/reset-link?lang=en", follow_redirects=True)
    assert "is deactivated: reactivate it before issuing a reset link" in page.get_data(as_text=True)
    refused = post(ministry, f"/admin/users/{hue_id}/reset-link?lang=en", token_from="/admin/")
    assert refused.status_code == 302
    assert "is deactivated" in ministry.get("/admin/users?lang=en").get_data(as_text=True)
    assert len(_resets(app)) == 1
    assert f"/admin/users/{hue_id}/reset-link" not in ministry.get("/admin/users").get_data(as_text=True)


# ----------------------------------------------------------------------------- e-mail


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Inbox]]:
    """A real SMTP server (aiosmtpd) on a free loopback port, in this process."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def test_with_smtp_the_link_can_also_be_sent_by_email(
    make_app: Callable[..., Flask], smtp_server: tuple[int, _Inbox]
) -> None:
    port, inbox = smtp_server
    app = make_app(
        seeded=True,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_STARTTLS=False,
        SMTP_FROM="registry@moit.gov.vn",
    )
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    ministry = _signed_in(app, "cuc@moit.gov.vn")
    offer = ministry.get(f"/admin/users/{hue_id}/reset-link?lang=en").get_data(as_text=True)
    assert "Also send the link by e-mail to hue@so.gov.vn" in offer
    issued = _issue(ministry, hue_id, lang="en", send_email="y")
    link, _ = _link_in(issued)  # still shown once on the page
    assert "The link was also sent by e-mail to hue@so.gov.vn" in issued.get_data(as_text=True)
    assert len(inbox.messages) == 1
    envelope = inbox.messages[0]
    assert envelope.rcpt_tos == ["hue@so.gov.vn"] and envelope.mail_from == "registry@moit.gov.vn"
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert "Reset your workspace password" in str(message["Subject"])
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert link in body and "đặt lại mật khẩu" in body and "reset your password" in body
    with _db(app) as s:
        assert not any(link in f"{e.summary} {e.changes}" for e in s.exec(select(AuditEntry)).all())


def test_a_failed_email_is_said_and_the_link_still_shown(make_app: Callable[..., Flask]) -> None:
    app = make_app(seeded=True, SMTP_HOST="127.0.0.1", SMTP_PORT=_free_port(), SMTP_STARTTLS=False)
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    ministry = _signed_in(app, "cuc@moit.gov.vn")
    issued = _issue(ministry, hue_id, lang="en", send_email="y")
    assert issued.status_code == 200
    page = issued.get_data(as_text=True)
    assert 'class="flash flash-error"' in page and "The e-mail could not be sent" in page
    assert "Errno" not in page and "refused" not in page  # the server's reason goes to the log only
    _, path = _link_in(issued)
    _open(app.test_client(), path)
    vi = _issue(ministry, hue_id, lang="vi", send_email="y").get_data(as_text=True)
    assert "Không gửi được thư điện tử." in vi and "Errno" not in vi


class _SlowServer:
    """An SMTP server answering every command, but each only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.delay = delay
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as lines:
            time.sleep(self.delay)
            conn.sendall(b"220 slow.test ESMTP\r\n")
            for line in lines:
                time.sleep(self.delay)
                if line.upper().startswith(b"DATA"):
                    conn.sendall(b"354 go on\r\n")
                    for body in lines:
                        if body == b".\r\n":
                            break
                conn.sendall(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 ok\r\n")


def test_a_slow_mail_server_cannot_hold_the_page_longer_than_the_timeout(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timeout bounds the whole exchange: a server slow at every step still fails in time."""
    assert mail.TIMEOUT <= 5  # a few seconds, not 15 per step
    monkeypatch.setattr(mail, "TIMEOUT", 1.0)
    server = _SlowServer(delay=0.4)  # each step in time for a per-step timeout, never all of them
    config = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.port, "SMTP_FROM": "registry@moit.gov.vn"}
    message = mail.reset_message(config, to="hue@so.gov.vn", link="http://x/y", expires_at=utcnow())
    started = time.monotonic()
    with pytest.raises(mail.MailError):
        mail.send(config, message)
    assert time.monotonic() - started < 1.5


def test_without_smtp_no_email_is_offered(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    page = _signed_in(app, "cuc@moit.gov.vn").get(f"/admin/users/{hue_id}/reset-link?lang=en")
    assert "send the link by e-mail" not in page.get_data(as_text=True)


# ----------------------------------------------------------------------------- the operator's way in


def test_cli_prints_a_link_when_no_ministry_official_can_sign_in(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    result = app.test_cli_runner().invoke(args=["user", "reset-link", "--email", "CUC@moit.gov.vn"])
    assert result.exit_code == 0, result.output
    match = re.search(r"http://registry\.test(/admin/reset/\S+)", result.output)
    assert match, result.output
    client = app.test_client()
    _open(client, match.group(1))
    assert _set_password(client, NEW_PASSWORD).status_code == 302
    assert login(client, "cuc@moit.gov.vn", NEW_PASSWORD).status_code == 302
    with _db(app) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "issue_reset_link")).one()
        assert entry.actor_label == "cli" and match.group(1).rsplit("/", 1)[1] not in str(entry.changes)
    unknown = app.test_cli_runner().invoke(args=["user", "reset-link", "--email", "nobody@moit.gov.vn"])
    assert unknown.exit_code != 0 and "nobody@moit.gov.vn" in unknown.output


def test_a_reset_ends_every_session_row_of_the_account(app: Flask) -> None:
    make_user(app, "cuc@moit.gov.vn", "ministry")
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    one, two = _signed_in(app, "hue@so.gov.vn"), _signed_in(app, "hue@so.gov.vn")
    _, path = _link_in(_issue(_signed_in(app, "cuc@moit.gov.vn"), hue_id))
    official = app.test_client()
    _open(official, path)
    assert _set_password(official, NEW_PASSWORD).status_code == 302
    assert one.get("/admin/").status_code == two.get("/admin/").status_code == 302
    with _db(app) as s:
        rows = s.exec(select(UserSession).where(UserSession.user_id == hue_id)).all()
        assert rows and all(r.ended_at is not None for r in rows)


def test_the_services_refuse_anonymous_and_provincial_officials(app: Flask) -> None:
    hue_id = make_user(app, "hue@so.gov.vn", "province", "Huế")
    lc_id = make_user(app, "lc@so.gov.vn", "province", "Lào Cai")
    with app.test_request_context("/?lang=en"), Session(get_engine()) as s:
        hue, lao_cai = s.get(User, hue_id), s.get(User, lc_id)
        assert hue is not None and lao_cai is not None
        for actor in (None, lao_cai, hue):
            with pytest.raises(Forbidden):
                resets.issue(s, actor=actor, user=hue, hours=1)
        for call in (
            lambda: sessions.list_own(s, actor=None, current_key=None),
            lambda: sessions.end_own(s, actor=None, session_id=1, current_key=None),
            lambda: sessions.end_others(s, actor=None, current_key=None),
        ):
            with pytest.raises(Forbidden):
                call()
        assert s.exec(select(PasswordReset)).all() == []
