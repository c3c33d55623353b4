"""The change feed: the search outbox read in commit order from a client's cursor.

Every write to a product record adds an outbox row in its own transaction
(:func:`catalogue.audit.services.enqueue_reindex`, with the kind of change), so the rows
are a complete, ordered log of what changed. A client's cursor is the same
:class:`~catalogue.search.cursor.Cursor` each search build keeps: the highest id read
plus the ids below it not yet seen (on PostgreSQL a transaction holding a lower id can
commit after one holding a higher id). It travels as an opaque token, so a client never
does arithmetic on ids and a late commit is still delivered once it appears.

Rows are pruned after ``OUTBOX_DAYS``: a cursor older than that whose rows are gone is
refused (:class:`CursorExpired`), and the client starts again from the bulk download.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select

from catalogue import tokens
from catalogue.audit.models import OutboxEvent
from catalogue.clock import aware, utcnow
from catalogue.db import chunks
from catalogue.registry.models import MergeRecord
from catalogue.search.cursor import ID_CHUNK, Cursor
from catalogue.vocab import ChangeKind

#: Largest page of changes.
MAX_LIMIT = 500
#: Ids below the cursor not seen yet that a token carries (the newest; older ones are forgotten
#: as the search builds forget theirs, after ``GAP_TTL``).
TOKEN_GAPS = 200
_PREFIX = "c1."


class BadCursor(ValueError):
    """The token was not made by this registry (or was mangled on the way)."""


class CursorExpired(Exception):
    """Changes past this cursor were pruned: the client must reload from the bulk download."""


@dataclass(frozen=True)
class Position:
    """Where a client is in the feed: the outbox cursor and when it was read."""

    cursor: Cursor
    read_at: datetime

    def token(self) -> str:
        """The opaque, URL-safe token (gaps as offsets below ``high``, compressed)."""
        cur = self.cursor
        gaps = sorted(cur.gaps.items())[-TOKEN_GAPS:]
        data = {"h": cur.high, "t": int(self.read_at.timestamp()),
                "g": [[cur.high - i, int(t)] for i, t in gaps]}  # fmt: skip
        return tokens.pack(_PREFIX, data, compress=True)

    @classmethod
    def parse(cls, token: str) -> Position:
        try:
            data = tokens.unpack(_PREFIX, token, max_length=4000, compressed=True)
            high = int(data["h"])
            gaps = {high - int(off): float(t) for off, t in data.get("g", [])}
            read_at = datetime.fromtimestamp(int(data["t"]), tz=UTC)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise BadCursor(token) from exc
        if not 0 <= high < 2**63 or any(i <= 0 or i >= high for i in gaps):
            raise BadCursor(token)
        return cls(Cursor(high, gaps), read_at)


def position_now(session: Session) -> Position:
    """The feed's position at this moment: nothing before it is news to a client that starts here."""
    return Position(Cursor.at_start(session), utcnow())


def cursor_now(session: Session) -> str:
    """The token of :func:`position_now` (the bulk download's manifest records it)."""
    return position_now(session).token()


@dataclass(frozen=True)
class Change:
    seq: int
    at: datetime
    kind: ChangeKind
    product_id: int
    certificate_id: int | None
    #: Set for a removed product that was merged into another one.
    merged_into: int | None


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    next: Position
    #: More changes are waiting past ``next`` right now.
    more: bool


def _change(row: OutboxEvent, merged: dict[int, int]) -> Change:
    assert row.id is not None
    kind = ChangeKind(row.kind) if row.kind else ChangeKind.CORRECTED
    if row.op == "delete":
        kind = ChangeKind.REMOVED
    return Change(seq=row.id, at=aware(row.created_at), kind=kind, product_id=row.product_id,
                  certificate_id=row.certificate_id,
                  merged_into=merged.get(row.product_id) if kind is ChangeKind.REMOVED else None)  # fmt: skip


def _merged(session: Session, rows: list[OutboxEvent]) -> dict[int, int]:
    gone = sorted({r.product_id for r in rows if r.op == "delete" or r.kind == ChangeKind.REMOVED})
    out: dict[int, int] = {}
    for chunk in chunks(gone, ID_CHUNK):
        query = (select(MergeRecord.duplicate_id, MergeRecord.survivor_id)
                 .where(MergeRecord.kind == "product", col(MergeRecord.duplicate_id).in_(chunk))
                 .order_by(col(MergeRecord.merged_at)))  # fmt: skip
        out.update(dict(session.exec(query).all()))
    return out


def read(session: Session, since: Position | None, limit: int, retention: timedelta) -> ChangePage:
    """Up to ``limit`` changes past ``since`` in commit order, and the position after them.

    ``since`` None starts at the oldest change still kept. Ids below the cursor that appear
    later (a transaction committed late) come first, once; the cursor remembers ids it
    skipped for :data:`~catalogue.search.cursor.GAP_TTL`.
    """
    now = utcnow()
    cursor = Cursor(since.cursor.high, dict(since.cursor.gaps)) if since else Cursor()
    if since is not None:
        oldest, newest = session.exec(select(func.min(OutboxEvent.id), func.max(OutboxEvent.id))).one()
        # Rows past the cursor pruned: only possible for a cursor about as old as the retention.
        pruned_before = now - retention + timedelta(days=1)
        if oldest is not None and oldest > cursor.high + 1 and since.read_at < pruned_before:
            raise CursorExpired()
        # Past the newest row there is none (pruning keeps it): the database was restored from an
        # older backup, and new rows will reuse ids the client has seen.
        if cursor.high > (newest or 0):
            raise CursorExpired()
    rows: list[OutboxEvent] = []
    if cursor.gaps:
        for chunk in chunks(sorted(cursor.gaps), ID_CHUNK):
            rows += session.exec(select(OutboxEvent).where(col(OutboxEvent.id).in_(chunk))).all()
        rows = sorted(rows, key=lambda r: r.id or 0)[:limit]
        for row in rows:
            cursor.gaps.pop(row.id or 0, None)
    if len(rows) < limit:
        later = session.exec(select(OutboxEvent).where(col(OutboxEvent.id) > cursor.high)
                             .order_by(col(OutboxEvent.id)).limit(limit - len(rows) + 1)).all()  # fmt: skip
        more = len(later) > limit - len(rows)
        later = later[: limit - len(rows)]
        cursor.advance([r.id for r in later if r.id is not None])
        rows += later
    else:
        more = True
    cursor.expire()
    merged = _merged(session, rows)
    return ChangePage([_change(r, merged) for r in rows], Position(cursor, now), more)
