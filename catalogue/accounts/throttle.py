"""Sign-in limits kept in the database, so they hold across every worker and node.

Flask-Limiter counts in memory unless Redis is configured, and ``make run``
starts two gunicorn workers: a per-worker count let an attacker try twice the
documented number of passwords. Sign-in is rare and already costs an Argon2
hash, so one short indexed transaction per attempt is cheap and needs nothing
beyond the database every installation has.

Limits: :data:`PER_EMAIL` failed attempts per e-mail (known or not) and
:data:`PER_CLIENT` per client address (a sign-in that succeeds is forgotten). A
refused attempt is not recorded (the table stays bounded), and rows older than
:data:`KEEP` are pruned as we go.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlmodel import Session, col

from catalogue.accounts.models import SignInAttempt
from catalogue.clock import aware, utcnow
from catalogue.db import get_engine
from catalogue.text import fold


@dataclass(frozen=True)
class Limit:
    attempts: int
    window: timedelta


#: Guessing one official's password: 30 tries an hour, whatever the address.
PER_EMAIL = Limit(30, timedelta(hours=1))
#: One address trying many e-mails (or one, quickly).
PER_CLIENT = Limit(10, timedelta(minutes=1))
#: How long attempts are kept (the longest window, with margin).
KEEP = timedelta(days=1)

_TABLE: Any = SignInAttempt.__table__  # type: ignore[attr-defined]


def _hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]


def email_key(email: str) -> str:
    return _hash("email", fold(email.strip())[:254])


def client_key(address: str) -> str:
    return _hash("client", address)


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite's MIN() loses the column type
        value = datetime.fromisoformat(value)
    return aware(value)


def _wait(conn: Connection, column: Any, key: str, limit: Limit, now: datetime) -> int | None:
    """Seconds until one more attempt fits, or None when this one is within the limit."""
    since = now - limit.window
    count, oldest = conn.execute(
        select(func.count(), func.min(_TABLE.c.at)).where(column == key, _TABLE.c.at > since)
    ).one()
    if count <= limit.attempts:
        return None
    return max(1, math.ceil((_aware(oldest) + limit.window - now).total_seconds()))


def attempt(email: str, address: str, now: datetime | None = None) -> int | None:
    """Record one sign-in attempt; returns seconds to wait when it is over a limit.

    Insert first, then count including it, in one short transaction: of two
    workers racing for the last slot on a server database each may see only
    its own row, so at most one extra attempt per concurrent worker passes;
    on SQLite the write lock makes it exact. An over-limit attempt is rolled back.
    """
    now = now or utcnow()
    keys = {"email_key": email_key(email), "client_key": client_key(address)}
    with get_engine().connect() as conn:
        with conn.begin() as tx:
            conn.execute(insert(_TABLE).values(**keys, at=now))
            waits = [
                _wait(conn, _TABLE.c.email_key, keys["email_key"], PER_EMAIL, now),
                _wait(conn, _TABLE.c.client_key, keys["client_key"], PER_CLIENT, now),
            ]
            wait = max((w for w in waits if w is not None), default=None)
            if wait is not None:
                tx.rollback()
                return wait
            conn.execute(delete(_TABLE).where(_TABLE.c.at < now - KEEP))
    return None


def succeeded(email: str, address: str) -> None:
    """A sign-in that succeeded does not count: drop the attempt :func:`attempt` just recorded.

    Only failures should use up the limits: an office behind one shared address signs
    in many times each morning, and an official who signs in daily must never be locked out.
    """
    keys = (_TABLE.c.email_key == email_key(email), _TABLE.c.client_key == client_key(address))
    with get_engine().begin() as conn:
        newest = conn.execute(select(func.max(_TABLE.c.id)).where(*keys)).scalar()
        if newest is not None:
            conn.execute(delete(_TABLE).where(_TABLE.c.id == newest))


def forget_email(session: Session, email: str) -> None:
    """Drop an e-mail's attempts in the caller's transaction: its official has just set a new
    password through a reset link and may sign in at once, whatever was tried before."""
    session.exec(delete(SignInAttempt).where(col(SignInAttempt.email_key) == email_key(email)))
