"""Province look-ups across the 2025 reorganisation.

Names are matched leniently (case, diacritics, "Tỉnh"/"TP." prefixes); a
current unit stands for itself and every pre-2025 unit that became part of it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from catalogue.places.models import Province
from catalogue.text import place_key
from catalogue.vocab import LEVEL_REFORM_DATE

#: Other spellings people type for a few units.
_ALIASES = {
    "hcm": "ho chi minh",
    "tp hcm": "ho chi minh",
    "tphcm": "ho chi minh",
    "sai gon": "ho chi minh",
    "hue": "hue",
    "thua thien hue": "thua thien hue",
    "ba ria vung tau": "ba ria vung tau",
    "brvt": "ba ria vung tau",
}


#: The ministry's office that certifies regional and national levels (a name: not translated).
MINISTRY_OFFICE = "Cục Công Thương địa phương — Bộ Công Thương"


def office_of(province: Province | None) -> str:
    """The provincial office's proper name (not translated: it is a name)."""
    if province is None:
        return "?"
    prefix = "thành phố" if province.kind == "thanh_pho" else "tỉnh"
    return f"Sở Công Thương {prefix} {province.short_name}"


_CACHE = "provinces"


def _forget(session: OrmSession, *_: Any) -> None:
    session.info.pop(_CACHE, None)


for _moment in ("after_commit", "after_soft_rollback"):
    event.listen(OrmSession, _moment, _forget)


@event.listens_for(OrmSession, "before_flush")
def _forget_on_province_writes(session: OrmSession, *_: Any) -> None:
    """A flush that writes province rows makes the cached table stale (the next load reads again)."""
    if any(isinstance(row, Province) for row in (*session.new, *session.dirty, *session.deleted)):
        _forget(session)


@dataclass
class Provinces:
    """All province rows of one session, indexed for matching; cheap to build (≈100 rows)."""

    rows: list[Province]
    by_id: dict[int, Province] = field(init=False)
    _current: dict[str, Province] = field(init=False)
    _former: dict[str, Province] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {p.id: p for p in self.rows if p.id is not None}
        self._current, self._former = {}, {}
        for p in self.rows:
            target = self._current if p.is_current else self._former
            for key in {place_key(p.name), place_key(p.short_name), p.slug.replace("-", " ")}:
                target.setdefault(key, p)

    @classmethod
    def load(cls, session: Session) -> Provinces:
        """The session's provinces, read once per transaction (a workspace page asks many times).

        Read again when the session holds unwritten province rows (the query's
        autoflush writes them first), as a fresh query would see them.
        """
        cached: Provinces | None = session.info.get(_CACHE)
        if cached is None or any(isinstance(row, Province) for row in (*session.new, *session.dirty)):
            cached = session.info[_CACHE] = cls(
                list(session.exec(select(Province).order_by(col(Province.id))).all())
            )
        return cached

    def get(self, province_id: int | None) -> Province | None:
        return self.by_id.get(province_id) if province_id is not None else None

    def current(self) -> list[Province]:
        """The 34 current units in the order of their codes."""
        return sorted((p for p in self.rows if p.is_current), key=lambda p: p.code or "")

    def current_of(self, province: Province | None) -> Province | None:
        """The current unit a province is (or became part of)."""
        if province is None or province.is_current:
            return province
        return self.by_id.get(province.successor_id) if province.successor_id else None

    def current_id(self, province_id: int | None) -> int | None:
        """The id of the current unit a province id is (or became part of): whose records they are."""
        current = self.current_of(self.get(province_id))
        return current.id if current else None

    def predecessors(self, current: Province) -> list[Province]:
        return [p for p in self.rows if p.successor_id == current.id]

    def member_ids(self, current: Province) -> set[int]:
        """Ids a filter on a current unit covers: itself and its predecessors."""
        assert current.id is not None
        return {current.id, *(p.id for p in self.predecessors(current) if p.id is not None)}

    def _key(self, name: str | None) -> str:
        key = place_key(name)
        return _ALIASES.get(key, key)

    def match(self, name: str | None, on: date | None = None) -> Province | None:
        """The unit a printed name denotes, on a date when given.

        Before 1/7/2025 the pre-2025 unit of that name wins; from then on the
        current unit. With no date, a current unit wins over a former one.
        """
        key = self._key(name)
        if not key:
            return None
        current, former = self._current.get(key), self._former.get(key)
        if on is not None and on < LEVEL_REFORM_DATE and former is not None:
            return former
        return current or former

    def match_current(self, name: str | None) -> Province | None:
        """The current unit for any name, old or new (``Kiên Giang`` → An Giang)."""
        return self.current_of(self.match(name))

    def suggest(self, name: str | None, limit: int = 3) -> list[str]:
        """Closest known names, for a friendly error message."""
        key = self._key(name)
        names = {place_key(p.short_name): p.short_name for p in self.rows}
        close = difflib.get_close_matches(key, list(names), n=limit, cutoff=0.5)
        return [names[k] for k in close]


def province_display(provinces: Provinces, province: Province | None) -> dict[str, str | None]:
    """Printed name and, where it differs, the current unit ("Quảng Nam — nay thuộc TP. Đà Nẵng")."""
    if province is None:
        return {"printed": None, "current": None, "changed": None}
    current = provinces.current_of(province)
    changed = (
        current is not None
        and current.id != province.id
        and (place_key(current.short_name) != place_key(province.short_name))
    )
    return {
        "printed": province.short_name,
        "current": current.name if current else None,
        "changed": current.name if changed and current else None,
    }
