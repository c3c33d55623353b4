"""Officials' accounts: creation, sign-in checks, password changes, deactivation, leads.

Passwords are hashed with Argon2id (memory-hard, DESIGN §6). Changing a
password or deactivating an account bumps ``session_version`` and ends the
account's session rows, so every signed-in browser is signed out.
"""

from __future__ import annotations

import re
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlmodel import Session, select

from catalogue.accounts import sessions
from catalogue.accounts.models import User
from catalogue.accounts.permissions import (
    MINISTRY,
    PROVINCE,
    ROLES,
    Actor,
    audit_actor,
    can,
    province_scope,
    require,
    require_manage,
)
from catalogue.audit import services as audit
from catalogue.clock import utcnow
from catalogue.db import pk
from catalogue.places.models import Province
from catalogue.places.services import MINISTRY_OFFICE, office_of
from catalogue.refused import Refused

MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@cache
def _hashing(cheap: bool) -> tuple[PasswordHasher, str]:
    """The hasher and a dummy hash of its cost, verified when the e-mail is unknown (same time either way)."""
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST) if cheap else PasswordHasher()
    return hasher, hasher.hash("not-a-real-password-just-timing")


def _hasher() -> tuple[PasswordHasher, str]:
    """Production cost (RFC 9106 low-memory profile), except in a test app.

    The suite hashes and verifies a few hundred passwords; at the production cost
    that alone took 90 s. Hashes name their parameters, so either hasher verifies
    either kind, and a production sign-in re-hashes a cheap hash at full cost.
    """
    return _hashing(has_app_context() and bool(current_app.config.get("TESTING")))


class AccountError(Refused):
    """A request about an account that cannot be done; the message is for the user."""


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(_("Use a password of at least %(n)d characters.", n=MIN_PASSWORD))


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def create_user(
    session: Session,
    *,
    actor: Actor,
    email: str,
    password: str,
    role: str,
    province: Province | None = None,
    name: str | None = None,
    lead: bool = False,
) -> User:
    """Create an official's account; a provincial official needs a current province.

    A lead official creates only plain officials of their own province; only the
    ministry (or the operator) creates a lead.
    """
    require(actor, "manage_users")
    email = normalise_email(email)
    if not _EMAIL.match(email):
        raise AccountError(_("“%(email)s” is not an e-mail address.", email=email))
    if role not in ROLES:
        raise AccountError(_("The role must be “ministry” or “province”."))
    if role == PROVINCE and (province is None or not province.is_current):
        raise AccountError(_("A provincial official needs one of the 34 current provinces."))
    if role == MINISTRY:
        province = None
        if lead:
            raise AccountError(_("Only a provincial official can be their province's lead official."))
    if lead and not can(actor, "appoint_lead"):
        raise AccountError(_("Only a ministry official makes a province's lead official."))
    require_manage(actor, User(email=email, password_hash="-", role=role, is_lead=lead,
                               province_id=province.id if province else None))  # fmt: skip
    check_password_rules(password)
    if find_user(session, email) is not None:
        raise AccountError(_("An account with the e-mail %(email)s already exists.", email=email))
    user = User(
        email=email,
        name=(name or "").strip() or None,
        password_hash=hash_password(password),
        role=role,
        province_id=province.id if province else None,
        is_lead=lead,
    )
    session.add(user)
    session.flush()
    changes = {"email": [None, email], "role": [None, role], "province_id": [None, user.province_id]}
    if lead:
        changes["is_lead"] = [None, True]
    audit.record(
        session,
        **audit_actor(actor),
        action="create",
        entity_type="user",
        entity_id=user.id,
        province_id=user.province_id,
        summary=email,
        changes=changes,
    )
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active account for these credentials, or None (same cost either way)."""
    user = find_user(session, email)
    hasher, dummy = _hasher()
    try:
        hasher.verify(user.password_hash if user else dummy, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit.record(
        session,
        actor=user,
        action="sign_in",
        entity_type="user",
        entity_id=user.id,
        province_id=user.province_id,
        summary=user.email,
    )
    return user


def change_password(session: Session, *, actor: Actor, current: str, new: str) -> User:
    """Change the actor's own password and end their other sessions."""
    require(actor, "change_password")
    assert isinstance(actor, User)
    try:
        _hasher()[0].verify(actor.password_hash, current or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise AccountError(_("The current password is not correct.")) from None
    check_password_rules(new)
    actor.password_hash = hash_password(new)
    actor.session_version += 1
    session.add(actor)
    sessions.end_all(session, pk(actor))
    audit.record(
        session,
        actor=actor,
        action="change_password",
        entity_type="user",
        entity_id=actor.id,
        province_id=actor.province_id,
        summary=actor.email,
    )
    return actor


def set_active(session: Session, *, actor: Actor, user: User, active: bool) -> User:
    """Deactivate (or reactivate) an account; deactivation ends its sessions at once."""
    require(actor, "manage_users")
    if isinstance(actor, User) and actor.id == user.id and not active:
        raise AccountError(_("You cannot deactivate your own account."))
    require_manage(actor, user)
    if user.is_active == active:
        return user
    user.is_active = active
    user.session_version += 1
    session.add(user)
    if not active:
        sessions.end_all(session, pk(user))
    audit.record(
        session,
        **audit_actor(actor),
        action="activate" if active else "deactivate",
        entity_type="user",
        entity_id=user.id,
        province_id=user.province_id,
        summary=user.email,
        changes={"is_active": [not active, active]},
    )
    return user


def set_lead(session: Session, *, actor: Actor, user: User, lead: bool) -> User:
    """Make a provincial official their province's lead official, or end that (ministry only)."""
    require(actor, "appoint_lead")
    if user.role != PROVINCE:
        raise AccountError(_("Only a provincial official can be their province's lead official."))
    if user.is_lead == lead:
        return user
    user.is_lead = lead
    session.add(user)
    audit.record(
        session,
        **audit_actor(actor),
        action="update",
        entity_type="user",
        entity_id=user.id,
        province_id=user.province_id,
        summary=user.email,
        changes={"is_lead": [not lead, lead]},
    )
    return user


def list_users(session: Session, *, actor: Actor) -> list[User]:
    """Every account for the ministry; a lead official's own province's officials for a lead."""
    require(actor, "manage_users")
    query = select(User).order_by(User.role, User.email)
    scope = province_scope(actor)
    if scope is not None:
        query = query.where(User.role == PROVINCE, User.province_id == scope)
    return list(session.exec(query).all())


def office_name(user: User | None, province: Province | None) -> str:
    """The office shown publicly as publisher of a batch (a proper name, not translated)."""
    if user is not None and user.role == PROVINCE and province is not None:
        return office_of(province)
    return MINISTRY_OFFICE
