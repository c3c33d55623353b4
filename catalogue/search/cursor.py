"""A build's outbox cursor: which ``search_outbox`` rows that build has applied.

Each build keeps its own cursor in ``cursor.json``: the highest outbox id applied
plus the ids below it not yet seen (a transaction that took its id earlier may
commit later, on PostgreSQL). The drain (:mod:`catalogue.search.drain`) advances
it only after the index commit, so re-applying a row is harmless and none is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, func, or_, true
from sqlmodel import Session, col, select

from catalogue.audit.models import OutboxEvent
from catalogue.clock import utcnow
from catalogue.db import chunks
from catalogue.search.index import CURSOR, write_atomic

#: Ids below the cursor not seen yet are re-checked this long (a transaction open longer
#: than this that then commits is only picked up by the next rebuild), at most MAX_GAPS of them.
GAP_TTL = timedelta(hours=1)
MAX_GAPS = 10_000
#: A build's starting cursor treats missing ids among the last this many as possibly uncommitted.
GAP_SCAN = 2_000
#: Ids per ``IN (...)`` list (SQLite and PostgreSQL both take this many parameters).
ID_CHUNK = 1000


def _now() -> float:
    return utcnow().timestamp()


@dataclass
class Cursor:
    """How far one build has applied the outbox: ``high`` and the ids below it not yet seen.

    On PostgreSQL ids come from a sequence when a row is inserted, so a transaction
    holding id 5 can commit after one holding id 6: a cursor that only kept "last
    id" would skip row 5. Missing ids are remembered (with when they were first
    missed) and re-read until they appear or age out (rolled back, or pruned).
    """

    high: int = 0
    gaps: dict[int, float] = field(default_factory=dict)
    #: Rows past ``high`` were pruned before this build applied them: it must be rebuilt.
    stale: bool = False

    @classmethod
    def load(cls, folder: Path) -> Cursor:
        """The cursor of a build (every published build has one: a rebuild saves it first,
        :func:`catalogue.search.builds.rebuild`)."""
        return cls.parse((folder / CURSOR).read_bytes())

    @classmethod
    def parse(cls, raw: bytes) -> Cursor:
        data = json.loads(raw)
        return cls(int(data["high"]), {int(k): float(v) for k, v in data.get("gaps", {}).items()},
                   stale=bool(data.get("stale", False)))  # fmt: skip

    @classmethod
    def at_start(cls, session: Session) -> Cursor:
        """Where a build that reads the database now continues from afterwards."""
        high = session.exec(select(func.max(OutboxEvent.id))).one() or 0
        seen = set(session.exec(select(OutboxEvent.id).where(col(OutboxEvent.id) > high - GAP_SCAN)).all())
        now = _now()
        return cls(high=high, gaps={i: now for i in range(max(1, high - GAP_SCAN + 1), high + 1)
                                    if i not in seen})  # fmt: skip

    def save(self, folder: Path) -> None:
        data: dict[str, Any] = {"high": self.high, "gaps": {str(k): v for k, v in self.gaps.items()}}
        if self.stale:
            data["stale"] = True
        write_atomic(folder / CURSOR, json.dumps(data))

    def advance(self, ids: list[int]) -> None:
        """Record rows read past ``high`` (sorted ids of one batch): skipped ids become gaps."""
        if not ids:
            return
        now, seen = _now(), set(ids)
        for missing in range(self.high + 1, ids[-1]):
            if missing not in seen:
                self.gaps[missing] = now
        self.high = max(self.high, ids[-1])

    def expired(self) -> Cursor:
        """A copy without the gaps older than GAP_TTL, keeping at most MAX_GAPS (the newest)."""
        limit = _now() - GAP_TTL.total_seconds()
        gaps = {i: t for i, t in self.gaps.items() if t >= limit}
        if len(gaps) > MAX_GAPS:
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        return Cursor(self.high, gaps, self.stale)

    def expire(self) -> None:
        self.gaps = self.expired().gaps

    def waiting(self) -> list[ColumnElement[bool]]:
        """The one rule for outbox rows this build has not applied: past ``high``, or in its gaps.

        As alternatives, each answered by the primary key (see :func:`any_waiting`).
        """
        ids = sorted(self.gaps)
        return [
            col(OutboxEvent.id) > self.high,
            *(col(OutboxEvent.id).in_(chunk) for chunk in chunks(ids, ID_CHUNK)),
        ]


def waiting(cursor: Cursor | None) -> ColumnElement[bool]:
    """Outbox rows a build with this cursor has not applied (every row without a build)."""
    return or_(*cursor.waiting()) if cursor is not None else true()


def any_waiting(conn: Connection, cursor: Cursor) -> bool:
    """Whether any outbox row waits for this cursor: one query of indexed ``EXISTS`` probes."""
    return bool(conn.execute(select(or_(*(exists().where(part) for part in cursor.waiting())))).scalar())
