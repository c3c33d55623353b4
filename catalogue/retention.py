"""Retention: old rows that are pruned, by age (``flask maintenance prune``; the job worker daily).

- **The check log** (``verification_check``): raw rows older than ``CHECK_LOG_DAYS``. The counts
  shown to the public stay exact: each code's running total is kept in ``verification_tally``,
  which is never pruned (:func:`catalogue.verification.counting.prune`).
- **The search outbox** (``search_outbox``): rows older than ``OUTBOX_DAYS``. Each node's cursor
  is private, so rows go by age alone; a node further behind than that notices on its next drain
  and rebuilds its index (:func:`catalogue.search.outbox.prune_outbox`).
- **Officials' sessions and reset links** (``user_session``, ``password_reset``): sessions ended,
  or last seen, and links expired (used or not) more than :data:`ACCOUNT_ROWS_DAYS` ago. A session
  idle for ``SESSION_IDLE_DAYS`` already counts as ended; this only clears the rows away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app

from catalogue.clock import utcnow

#: Ended or idle sessions and expired reset links are deleted this many days later.
ACCOUNT_ROWS_DAYS = 90


@dataclass(frozen=True)
class Pruned:
    checks: int
    checks_before: datetime
    outbox: int
    outbox_before: datetime
    sessions: int
    resets: int
    accounts_before: datetime

    def summary(self) -> str:
        """One line for the command and the worker's log (operators' English, like every command)."""
        return (
            f"Removed {self.checks} check log rows from before {self.checks_before:%Y-%m-%d %H:%M} UTC "
            f"(the counts shown stay exact) and {self.outbox} search outbox rows from before "
            f"{self.outbox_before:%Y-%m-%d %H:%M} UTC; {self.sessions} officials' session rows and "
            f"{self.resets} reset link rows ended or expired before "
            f"{self.accounts_before:%Y-%m-%d %H:%M} UTC."
        )


def prune(app: Flask | None = None, now: datetime | None = None) -> Pruned:
    """Prune all of them by the app's settings; needs an app context."""
    from sqlmodel import Session

    from catalogue.accounts import resets, sessions
    from catalogue.db import get_engine
    from catalogue.search.outbox import prune_outbox
    from catalogue.verification import counting

    cfg = (app or current_app).config
    now = now or utcnow()
    checks_before = now - timedelta(days=int(cfg["CHECK_LOG_DAYS"]))
    outbox_before = now - timedelta(days=int(cfg["OUTBOX_DAYS"]))
    checks = counting.prune(checks_before)
    engine = get_engine(cfg["SQLALCHEMY_URL"])
    outbox = prune_outbox(engine, outbox_before)
    accounts_before = now - timedelta(days=ACCOUNT_ROWS_DAYS)
    with Session(engine) as session:
        ended = sessions.prune(session, accounts_before)
        expired = resets.prune(session, accounts_before)
        session.commit()
    return Pruned(checks, checks_before, outbox, outbox_before, ended, expired, accounts_before)


def daily_in_app(app: Flask) -> Callable[[], None]:
    """The consumer's daily retention task (:mod:`catalogue.retention`), bound to ``app``."""

    def daily() -> None:
        with app.app_context():
            app.logger.warning("retention: %s", prune(app).summary())

    return daily
