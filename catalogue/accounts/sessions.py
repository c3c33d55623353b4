"""Officials' signed-in sessions: one row per browser, so an official can see where they are
signed in and end a session they do not recognise (a lost phone, a shared computer).

The sign-in cookie carries a random key; the row keeps only its SHA-256, so a copy of
the database signs nobody in. Ending a row signs that browser out at its next request
(:mod:`catalogue.accounts.login` refuses ended rows). ``last_seen_at`` is written at
most every :data:`TOUCH_EVERY`, in a short transaction of its own, never once per request.
The cookie lasts as long as the browser, so a closed browser never signs out: a row unseen
for ``SESSION_IDLE_DAYS`` counts as ended, and :func:`prune` deletes old rows (retention).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select
from ua_parser import parse

from catalogue.accounts.models import User, UserSession
from catalogue.accounts.permissions import Actor, require
from catalogue.accounts.tokens import new_token, token_hash
from catalogue.audit import services as audit
from catalogue.clock import aware, utcnow
from catalogue.db import get_engine, pk
from catalogue.refused import Refused

#: How stale ``last_seen_at`` may get before a request refreshes it.
TOUCH_EVERY = timedelta(minutes=5)
#: What is kept of the browser's User-Agent (the column's length).
AGENT_MAX = 300
#: SQLite: how long the refresh waits for another writer (a publish) before leaving it for later.
_TOUCH_BUSY_SECONDS = 0.5


def start(session: Session, user: User, user_agent: str | None) -> str:
    """Open a session row for ``user`` in the caller's transaction; returns the key for the cookie."""
    key = new_token()
    session.add(
        UserSession(
            user_id=pk(user), key_hash=token_hash(key), user_agent=(user_agent or "")[:AGENT_MAX] or None
        )
    )
    return key


def find_open(session: Session, user_id: int, key: str) -> UserSession | None:
    """The open session ``key`` names for this user, or None (unknown, another user's, ended or idle)."""
    row = session.exec(select(UserSession).where(UserSession.key_hash == token_hash(key))).first()
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return None
    if aware(row.last_seen_at) <= idle_since():
        return None
    return row


def idle_since() -> datetime:
    """Sessions last seen before this count as ended (``SESSION_IDLE_DAYS`` ago); app context."""
    return utcnow() - timedelta(days=int(current_app.config["SESSION_IDLE_DAYS"]))


def touch(row: UserSession, now: datetime | None = None) -> None:
    """Refresh ``last_seen_at`` when it is older than :data:`TOUCH_EVERY`; best effort.

    A separate short transaction, so a GET page commits nothing of its own; when the
    database is busy (a publish holds SQLite's writer) the refresh waits for a later request.
    """
    now = now or utcnow()
    if now - aware(row.last_seen_at) < TOUCH_EVERY:
        return
    try:
        with get_engine(busy_seconds=_TOUCH_BUSY_SECONDS).begin() as conn:
            conn.execute(update(UserSession).where(col(UserSession.id) == row.id).values(last_seen_at=now))
    except SQLAlchemyError:
        return
    set_committed_value(row, "last_seen_at", now)  # as stored: nothing left for the request to write


def end_all(session: Session, user_id: int, keep: int | None = None) -> int:
    """End every open session of a user (but ``keep``) in the caller's transaction; how many ended."""
    query = update(UserSession).where(
        col(UserSession.user_id) == user_id, col(UserSession.ended_at).is_(None)
    )
    if keep is not None:
        query = query.where(col(UserSession.id) != keep)
    result = session.exec(query.values(ended_at=utcnow()))
    return int(result.rowcount or 0)


def end_current(session: Session, user_id: int, key: str) -> None:
    """Signing out: end the row of the browser that signs out."""
    row = find_open(session, user_id, key)
    if row is not None:
        row.ended_at = utcnow()
        session.add(row)


@dataclass(frozen=True)
class Listed:
    """A session as the sessions page shows it."""

    row: UserSession
    current: bool
    browser: str


def list_own(session: Session, *, actor: Actor, current_key: str | None) -> list[Listed]:
    """The actor's open sessions, this browser's first, then the most recently seen."""
    require(actor, "manage_own_sessions")
    assert isinstance(actor, User)
    rows = session.exec(
        select(UserSession)
        .where(
            UserSession.user_id == pk(actor),
            col(UserSession.ended_at).is_(None),
            col(UserSession.last_seen_at) > idle_since(),
        )
        .order_by(col(UserSession.last_seen_at).desc(), col(UserSession.id).desc())
    ).all()
    mine = token_hash(current_key) if current_key else None
    listed = [Listed(row=r, current=r.key_hash == mine, browser=describe(r.user_agent)) for r in rows]
    return sorted(listed, key=lambda item: not item.current)


def end_own(session: Session, *, actor: Actor, session_id: int, current_key: str | None) -> UserSession:
    """End one of the actor's own sessions (another official's cannot be named here)."""
    require(actor, "manage_own_sessions")
    assert isinstance(actor, User)
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != actor.id or row.ended_at is not None:
        raise Refused(_("That session has already ended."))
    if current_key and row.key_hash == token_hash(current_key):
        raise Refused(_("This is the session you are using: sign out instead."))
    row.ended_at = utcnow()
    session.add(row)
    _audit(session, actor, "end_session", {"session": row.id})
    return row


def end_others(session: Session, *, actor: Actor, current_key: str | None) -> int:
    """End every session of the actor but the one in use; how many ended."""
    require(actor, "manage_own_sessions")
    assert isinstance(actor, User)
    current = find_open(session, pk(actor), current_key) if current_key else None
    count = end_all(session, pk(actor), keep=current.id if current else None)
    _audit(session, actor, "end_other_sessions", {"ended": count})
    return count


def prune(session: Session, before: datetime) -> int:
    """Delete rows ended, or last seen, before ``before`` (retention); how many went."""
    result = session.exec(
        delete(UserSession).where(
            or_(col(UserSession.ended_at) < before, col(UserSession.last_seen_at) < before)
        )
    )
    return int(result.rowcount or 0)


def _audit(session: Session, actor: User, action: str, changes: dict[str, int | None]) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="user",
        entity_id=actor.id,
        province_id=actor.province_id,
        summary=actor.email,
        changes={k: [None, v] for k, v in changes.items()},
    )


def describe(user_agent: str | None) -> str:
    """A browser in plain words ("Chrome Mobile on Android"), from its User-Agent (ua-parser)."""
    if not user_agent:
        return _("Unknown browser")
    parsed = parse(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else None
    system = parsed.os.family if parsed.os else None
    if browser and browser != "Other":
        if system and system != "Other":
            return _("%(browser)s on %(system)s", browser=browser, system=system)
        return browser
    return _("Unknown browser")
