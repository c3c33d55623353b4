"""Pages of a listing: one rule for reading ``?page=`` and for the pager's arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass


def positive_int(raw: object) -> int | None:
    """A whole number from 1 as typed in a URL (ASCII digits, at most nine), or None when it is not one."""
    text = "" if raw is None else str(raw).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 and int(text) > 0 else None


def page_number(raw: str | None) -> int:
    """``?page=`` of a listing; anything unreadable is page 1, never an error (search is stricter)."""
    return positive_int(raw) or 1


@dataclass
class Pager:
    """Page ``number`` of ``total`` items, ``per_page`` a page (what the pagination macro reads)."""

    number: int
    total: int
    per_page: int

    @classmethod
    def clamped(cls, number: int, total: int, per_page: int) -> Pager:
        """A page past the end is the last page."""
        pages = max(1, math.ceil(total / per_page))
        return cls(min(max(1, number), pages), total, per_page)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages
