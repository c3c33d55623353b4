"""Consumer verification: look a certificate up by its printed code or number, and count checks.

"Was it valid on that day" is :mod:`catalogue.verification.history`; fake reports are
:mod:`catalogue.verification.fake_reports`.

The scan path (``/v/<code>``) is the hottest in the app, so it avoids the ORM:
the code is checked with its HMAC before any database work
(:func:`catalogue.registry.codes.parse_code`), then :func:`count_check` reads the
certificate's state (no write: a publish cannot delay it) and appends the check
to the check log (:mod:`catalogue.verification.counting`), a store no publish
writes to; the one Core ``SELECT`` joining every column the page
shows (:func:`find_by_code`) runs only when the worker has no fresh rendering
of that certificate. Status is derived from dates at read time
(:mod:`catalogue.registry.status`), never stored. Revocation itself is
:func:`catalogue.registry.certificates.revoke_certificate`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, FromClause, bindparam, func, inspect, select
from sqlalchemy.orm import aliased
from sqlmodel import SQLModel

from catalogue.clock import utcnow
from catalogue.places.models import Province
from catalogue.registry.models import Certificate, Photo, Producer, Product, SelectionRound
from catalogue.registry.status import Policy, Standing, current_policy, standing
from catalogue.verification import counting
from catalogue.vocab import CertificateStatus, Level, Region


def core_table(model: type[SQLModel]) -> FromClause:
    """The model's table for Core statements (SQLModel's types do not declare ``__table__``)."""
    return inspect(model).local_table


_c = core_table(Certificate)
_r = core_table(SelectionRound)
_p = core_table(Product)
_pr = core_table(Producer)
_prov = aliased(core_table(Province))
_cur = aliased(core_table(Province))
_ph = core_table(Photo)

_first_photo = (
    select(_ph.c.file_key)
    .where(_ph.c.product_id == _p.c.id)
    .order_by(_ph.c.position, _ph.c.id)
    .limit(1)
    .correlate(_p)
    .scalar_subquery()
)

#: Everything the verification page and API show, in one statement.
_LOOKUP = (
    select(
        _c.c.id,
        _c.c.verify_code,
        _c.c.number,
        _c.c.issued_on,
        _c.c.expires_on,
        _c.c.revoked_on,
        _c.c.revoked_reason,
        _c.c.revoked_reference,
        _c.c.check_count,
        _c.c.first_checked_at,
        _c.c.last_checked_at,
        _c.c.updated_at,
        _c.c.created_at,
        _c.c.prize,
        _c.c.source,
        _c.c.source_note,
        _c.c.office,
        _r.c.slug.label("round_slug"),
        _r.c.level,
        _r.c.region,
        _r.c.year,
        _r.c.edition,
        _c.c.decision_number,
        _c.c.decision_date,
        _r.c.issuing_authority,
        _p.c.id.label("product_id"),
        _p.c.name.label("product_name"),
        _p.c.slug.label("product_slug"),
        _p.c.locality,
        _pr.c.name.label("producer_name"),
        _pr.c.slug.label("producer_slug"),
        _prov.c.short_name.label("province_printed"),
        _cur.c.id.label("current_province_id"),
        _cur.c.name.label("current_province_name"),
        _cur.c.short_name.label("current_province_short"),
        _first_photo.label("photo_key"),
    )  # fmt: skip
    .select_from(_c)
    .join(_r, _r.c.id == _c.c.round_id)
    .join(_p, _p.c.id == _c.c.product_id)
    .outerjoin(_pr, _pr.c.id == _p.c.producer_id)
    .outerjoin(_prov, _prov.c.id == _c.c.province_id)
    # A current unit is its own successor; a pre-2025 unit points at the current one.
    .outerjoin(_cur, _cur.c.id == func.coalesce(_prov.c.successor_id, _prov.c.id))
)


@dataclass(frozen=True)
class CertificateCheck:
    """One certificate as the verification page, API and labels show it."""

    id: int
    code: str
    number: str | None
    issued_on: date | None
    #: As the decision printed it (None: the registry assumes a validity, see standing()).
    expires_on: date | None
    revoked_on: date | None
    revoked_reason: str | None
    revoked_reference: str | None
    #: None when the check log could not be read (see :func:`count_check`).
    check_count: int | None
    first_checked_at: datetime | None
    last_checked_at: datetime | None
    updated_at: datetime | None
    prize: str | None
    source: str | None
    source_note: str | None
    office: str | None
    round_slug: str
    level: str
    region: str | None
    year: int
    edition: str | None
    decision_number: str | None
    decision_date: date | None
    issuing_authority: str | None
    product_id: int
    product_name: str
    product_slug: str
    locality: str | None
    producer_name: str | None
    producer_slug: str | None
    province_printed: str | None
    current_province_id: int | None
    current_province_name: str | None
    current_province_short: str | None
    photo_key: str | None
    #: Distinct devices per day that checked the code (None: not counted yet, or the log is down).
    device_days: int | None = None
    #: The first check in the log, where device-days start (the pre-log count has none).
    counted_since: datetime | None = None
    #: When the registry recorded the certificate (a credential's start when no date is known).
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> CertificateCheck:
        data = dict(row._mapping)
        data["code"] = data.pop("verify_code")
        return cls(**data)

    @property
    def level_enum(self) -> Level:
        return Level(self.level)

    @property
    def region_enum(self) -> Region | None:
        return Region(self.region) if self.region else None

    @property
    def province_changed(self) -> bool:
        """True when the printed province is now part of another unit."""
        return bool(
            self.province_printed and self.current_province_short
            and self.province_printed != self.current_province_short
        )  # fmt: skip

    def standing(self, day: date, policy: Policy | None = None) -> Standing:
        """Status on ``day`` from the current record, with its basis (the one status rule)."""
        return standing(
            day, level=self.level, year=self.year, issued_on=self.issued_on, expires_on=self.expires_on,
            revoked_on=self.revoked_on, policy=policy or current_policy(),
        )  # fmt: skip

    def status(self, day: date, policy: Policy | None = None) -> CertificateStatus:
        """Status on ``day`` from the current record (revocation date and expiry)."""
        return self.standing(day, policy).status

    def with_count(self, counted: Counted) -> CertificateCheck:
        return replace(self, check_count=counted.check_count, first_checked_at=counted.first_checked_at,
                       last_checked_at=counted.last_checked_at, device_days=counted.device_days,
                       counted_since=counted.counted_since)  # fmt: skip


def printable(
    checks: list[CertificateCheck], day: date
) -> tuple[list[CertificateCheck], list[CertificateCheck]]:
    """Split certificates into those a label may be printed for and the revoked ones.

    A revoked certificate never gets a label (a revocation, even one dated ahead,
    stops printing at once); an expired one still may, marked as such, since a
    producer can reprint labels for stock certified while it was valid.
    """
    keep = [c for c in checks if c.revoked_on is None]
    return keep, [c for c in checks if c.revoked_on is not None]


def find_by_code(conn: Connection, code: str) -> CertificateCheck | None:
    """The certificate a (parsed, canonical) code names; one SELECT."""
    row = conn.execute(_LOOKUP.where(_c.c.verify_code == code)).first()
    return CertificateCheck.from_row(row) if row is not None else None


def find_by_number(conn: Connection, number: str, limit: int = 10) -> list[CertificateCheck]:
    """Certificates whose printed number matches, ignoring case and surrounding spaces.

    Numbers are free text and may repeat across levels or years, so this can
    return several; the caller lets the person choose.
    """
    wanted = " ".join(number.split())
    if not wanted:
        return []
    query = _LOOKUP.where(func.lower(_c.c.number) == wanted.lower())
    rows = conn.execute(query.order_by(_r.c.year.desc(), _c.c.id).limit(limit)).all()
    return [CertificateCheck.from_row(r) for r in rows]


@dataclass(frozen=True)
class Counted:
    """A certificate's state after counting a check: enough to find a cached page."""

    id: int
    #: None when the check log could not be reached (the page shows the verdict alone).
    check_count: int | None
    first_checked_at: datetime | None
    last_checked_at: datetime | None
    updated_at: datetime | None
    revoked_on: date | None
    expires_on: date | None
    #: Distinct devices per day (what the page shows); None as ``check_count``.
    device_days: int | None = None
    counted_since: datetime | None = None


#: What the page cache needs, read without a write: a publish holding the
#: registry's write lock never delays it (WAL on SQLite, MVCC on PostgreSQL).
_STATE = select(
    _c.c.id, _c.c.check_count, _c.c.first_checked_at, _c.c.last_checked_at, _c.c.updated_at,
    _c.c.revoked_on, _c.c.expires_on,
).where(_c.c.verify_code == bindparam("code"))  # fmt: skip


def count_check(
    conn: Connection, code: str, device: str | None = None, now: datetime | None = None
) -> Counted | None:
    """Count one check of ``code`` in the check log; None when no certificate has that code.

    The registry is only read; the check is appended to the log
    (:mod:`catalogue.verification.counting`), committed before this returns (on
    PostgreSQL through ``conn``, whose transaction it commits). ``check_count`` is the
    certificate's ``check_count`` (page loads counted before the log existed) plus the
    log's loads; ``device_days`` the log's distinct devices per day (what the page
    shows); both None when the log failed.
    """
    row = conn.execute(_STATE, {"code": code}).first()
    if row is None:
        return None
    now = now or utcnow()
    counted = Counted(*row)
    return _with_tally(counted, counting.record(code, device, now, registry=conn), now)


def with_checks(check: CertificateCheck) -> CertificateCheck:
    """``check`` with its full count (pre-log count plus the log), without counting a check."""
    tally = counting.tally(check.code)
    return check.with_count(_with_tally(_counted(check), tally, check.last_checked_at))


def _counted(check: CertificateCheck) -> Counted:
    return Counted(check.id, check.check_count, check.first_checked_at, check.last_checked_at,
                   check.updated_at, check.revoked_on, check.expires_on)  # fmt: skip


def _with_tally(base: Counted, tally: counting.Tally | None, last: datetime | None) -> Counted:
    if tally is None:
        return replace(base, check_count=None, device_days=None)
    firsts = [t for t in (base.first_checked_at, tally.first_at) if t is not None]
    return replace(
        base, check_count=(base.check_count or 0) + tally.count, first_checked_at=min(firsts, default=None),
        last_checked_at=last if tally.count else base.last_checked_at, device_days=tally.device_days,
        counted_since=tally.first_at,
    )  # fmt: skip


def code_exists(conn: Connection, code: str) -> bool:
    return conn.execute(select(_c.c.id).where(_c.c.verify_code == code)).first() is not None


def etag(check: CertificateCheck, *parts: object) -> str:
    """A validator over what the page shows apart from the count.

    The count is left out on purpose: a browser revalidating a page it already
    holds gets 304 and is not counted again (see README, "Caching and counting").
    """
    key = "|".join(
        str(x) for x in (
            check.id, check.updated_at, check.revoked_on, check.expires_on, check.photo_key,
            check.product_name, check.producer_name, check.current_province_name, *parts,
        )
    )  # fmt: skip
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def round_certificates(
    conn: Connection, round_slug: str, province_ids: set[int] | None = None
) -> list[CertificateCheck]:
    """Every certificate of a selection round (for its label sheet), optionally
    only those whose current province is in ``province_ids``."""
    query = _LOOKUP.where(_r.c.slug == round_slug)
    if province_ids is not None:
        query = query.where(_cur.c.id.in_(province_ids))
    rows = conn.execute(query.order_by(_c.c.number, _p.c.name, _c.c.id)).all()
    return [CertificateCheck.from_row(r) for r in rows]


def find_by_id(conn: Connection, cert_id: int) -> CertificateCheck | None:
    row = conn.execute(_LOOKUP.where(_c.c.id == cert_id)).first()
    return CertificateCheck.from_row(row) if row is not None else None
