"""Time helpers: all stored timestamps are timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """``moment`` as UTC-aware: SQLite hands stored timestamps back naive, and they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def today() -> date:
    """Today's date in Vietnam: status changes at local midnight, not UTC's."""
    return datetime.now(VIETNAM).date()
