"""One-time password reset links, so a locked-out official gets back in without an e-mail server.

A ministry official issues a link for another official, a province's lead official
for another official of their province (or the operator does, with
``flask user reset-link``, when the only ministry account is the locked-out one).
The link is shown once, to whoever issued it, who passes it on; opening it lets the
official set a new password once, before it expires. Only the SHA-256 of the link's
random token is stored, and the audit log names who issued a link for whom, never
the token. Setting the password ends every session of the account and forgets the
e-mail's failed sign-ins, so the official can sign in at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from catalogue.accounts import sessions, throttle
from catalogue.accounts.models import PasswordReset, User
from catalogue.accounts.permissions import Actor, audit_actor, require, require_manage
from catalogue.accounts.services import AccountError, check_password_rules, hash_password
from catalogue.accounts.tokens import new_token, token_hash
from catalogue.audit import services as audit
from catalogue.clock import aware, utcnow
from catalogue.db import pk

#: What ``secrets.token_urlsafe`` gives (43 characters for 32 bytes), with room to spare.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


@dataclass(frozen=True)
class Issued:
    """A link just issued: ``token`` exists only here, to be shown once."""

    reset: PasswordReset
    token: str


def reset_url(token: str) -> str:
    """The absolute link, on the public address (as QR codes are), for a request context."""
    return current_app.config["PUBLIC_BASE_URL"] + url_for("accounts.open_reset_link", token=token)


def issue(session: Session, *, actor: Actor, user: User, hours: int) -> Issued:
    """Issue a link for ``user`` valid ``hours``; earlier unused links of theirs stop working."""
    require(actor, "issue_reset_link")
    if isinstance(actor, User) and actor.id == user.id:
        raise AccountError(_("You are signed in: change your own password on the password page."))
    require_manage(actor, user)
    if not user.is_active:
        raise AccountError(
            _(
                "The account %(email)s is deactivated: reactivate it before issuing a reset link.",
                email=user.email,
            )
        )
    now = utcnow()
    session.exec(
        update(PasswordReset)
        .where(
            col(PasswordReset.user_id) == pk(user),
            col(PasswordReset.used_at).is_(None),
            col(PasswordReset.expires_at) > now,
        )
        .values(expires_at=now)
    )
    token = new_token()
    reset = PasswordReset(
        user_id=pk(user),
        token_hash=token_hash(token),
        issued_by_id=actor.id if isinstance(actor, User) else None,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(reset)
    session.flush()
    audit.record(
        session,
        **audit_actor(actor),
        action="issue_reset_link",
        entity_type="user",
        entity_id=user.id,
        province_id=user.province_id,
        summary=user.email,
        changes={"reset_link_expires_at": [None, reset.expires_at.isoformat()]},
    )
    return Issued(reset=reset, token=token)


def find_usable(session: Session, token: str) -> PasswordReset | None:
    """The link ``token`` opens, if it is still unused, unexpired and its account active."""
    if not _TOKEN.fullmatch(token or ""):
        return None  # not one we could have issued (and nothing odd reaches the database)
    reset = session.exec(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))).first()
    if reset is None or reset.used_at is not None or aware(reset.expires_at) <= utcnow():
        return None
    user = session.get(User, reset.user_id)
    return reset if user is not None and user.is_active else None


def invalid_link() -> str:
    return _(
        "This link cannot be used: it is unknown, has already been used or has expired. "
        "Nothing was changed. Ask your province's lead official or a ministry official for a new link."
    )


def use(session: Session, *, token: str, new_password: str) -> User:
    """Set a new password through a link: once, then never again."""
    reset = find_usable(session, token)
    if reset is None:
        raise AccountError(invalid_link())
    check_password_rules(new_password)
    now = utcnow()
    # Claimed with a conditional update, so two submissions racing each other cannot both use it.
    claimed = session.exec(
        update(PasswordReset)
        .where(col(PasswordReset.id) == reset.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    if not claimed.rowcount:
        raise AccountError(invalid_link())
    user = session.get(User, reset.user_id)
    assert user is not None  # find_usable checked it
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    session.add(user)
    sessions.end_all(session, pk(user))
    throttle.forget_email(session, user.email)
    audit.record(
        session,
        actor=user,
        action="reset_password",
        entity_type="user",
        entity_id=user.id,
        province_id=user.province_id,
        summary=user.email,
        changes={"reset_link": [None, reset.id]},
    )
    return user


def prune(session: Session, before: datetime) -> int:
    """Delete links that expired before ``before``, used or not (retention); how many went."""
    result = session.exec(delete(PasswordReset).where(col(PasswordReset.expires_at) < before))
    return int(result.rowcount or 0)
