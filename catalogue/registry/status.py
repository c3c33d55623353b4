"""Certificate status: one rule, derived from dates when read, never stored.

DESIGN §2: an expiry printed in the decision is fact and wins. When the decision
states none, the registry *assumes* a validity: the level's policy (set by
ministry officials, audited, with the day each setting took effect; the
``CERTIFICATE_VALIDITY_YEARS`` setting where a level has none) counts N years
from the issue date or, when only the year is known, from 31 December of that
year. Such an expiry is never stored: it is worked out on the day asked about,
with the policy in effect on that day, so a policy change needs no rewrite or
reindex and ``?as_of=`` stays true.

The rule lives once, in :class:`Policy`: :meth:`Policy.cutoff` gives, per level
and day, the earliest validity start still within the assumed validity
(``start + N years >= day``  ⇔  ``start >= day − N years``, 29 February moving to
1 March). Every form of the rule compares against that cutoff:

* Python, :func:`standing` (pages, verification, the API, CSV);
* SQL, :func:`valid_sql` (page counts and filters);
* numpy, :func:`status_codes` (search filters and facets, through
  :meth:`catalogue.search.facets.DocTable.status_on`), fed by :meth:`Policy.cutoff_ordinals`.

Whether a certificate had been issued on a day (``?as_of=``) is :func:`issued_by`.

The policy is a handful of rows, loaded once and kept per app
(:func:`current_policy`); saving one (:mod:`catalogue.registry.validity`)
drops the cache, and other worker processes reload within :data:`POLICY_TTL`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from time import monotonic
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, or_
from sqlmodel import col, select

from catalogue.clock import today as clock_today
from catalogue.vocab import CertificateStatus, Level

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

#: Default validity when neither a level's policy nor the setting says otherwise.
DEFAULT_YEARS = 3
#: Seconds another worker process may keep a policy another process has changed.
POLICY_TTL = 5.0


class ExpiryBasis(StrEnum):
    """Where an expiry comes from: printed in the decision, or the registry's assumption."""

    DECISION = "decision"
    POLICY = "policy"


def add_years(start: date, years: int) -> date:
    """``start`` moved by ``years`` (29 February becomes 28 February)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def validity_start(issued_on: date | None, year: int) -> date:
    """Where an assumed validity counts from: the issue date, else the end of the year."""
    return issued_on or date(year, 12, 31)


def _cutoff(day: date, years: int) -> date:
    """Earliest start whose ``start + years`` is on or after ``day``."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: a start on 28 February ends on 28 February
        return date(day.year - years, 3, 1)


@dataclass(frozen=True)
class Term:
    """The validity a level's policy assumes on some day."""

    years: int
    #: The day this setting took effect; None for the configured default.
    since: date | None


@dataclass(frozen=True)
class Policy:
    """Validity assumed per level, with each setting's effective date."""

    default_years: int = DEFAULT_YEARS
    #: level value → ``((effective_from, years), …)``, oldest first.
    steps: Mapping[str, tuple[tuple[date, int], ...]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Any, default_years: int) -> Policy:
        """Build from ``(level, effective_from, years)`` rows in any order."""
        steps: dict[str, list[tuple[date, int]]] = defaultdict(list)
        for level, effective_from, years in rows:
            steps[str(level)].append((effective_from, int(years)))
        # Two settings on the same day: the later row (higher id, listed later) wins.
        out = {lv: tuple(dict(sorted(s, key=lambda x: x[0])).items()) for lv, s in steps.items()}
        return cls(default_years=default_years, steps=out)

    @property
    def key(self) -> tuple[Any, ...]:
        """Hashable identity, for caches of anything derived from the policy."""
        return (self.default_years, tuple(sorted(self.steps.items())))

    def term(self, level: Level | str, day: date) -> Term:
        """The setting in effect for ``level`` on ``day``."""
        steps = self.steps.get(str(level.value if isinstance(level, Level) else level), ())
        i = bisect.bisect_right([d for d, _ in steps], day)
        if i == 0:
            return Term(self.default_years, None)
        since, years = steps[i - 1]
        return Term(years, since)

    def years_on(self, level: Level | str, day: date) -> int:
        return self.term(level, day).years

    def cutoff(self, level: Level | str, day: date) -> date:
        """Earliest validity start still within the assumed validity on ``day``: the rule."""
        return _cutoff(day, self.years_on(level, day))

    def cutoff_ordinals(self, levels: list[str], day: date) -> list[int]:
        """:meth:`cutoff` for each level in ``levels`` as day ordinals (for numpy)."""
        return [self.cutoff(level, day).toordinal() for level in levels]


@dataclass(frozen=True)
class Standing:
    """A certificate's status on a day and what it rests on."""

    status: CertificateStatus
    basis: ExpiryBasis
    #: Last valid day: the decision's, or the one the policy in effect assumes.
    expires_on: date
    #: The assumed validity (policy basis only).
    term: Term | None = None

    @property
    def assumed(self) -> bool:
        return self.basis is ExpiryBasis.POLICY

    @property
    def past_assumed_validity(self) -> bool:
        """Expired only by the registry's assumption: no decision says it expired."""
        return self.status is CertificateStatus.EXPIRED and self.assumed

    @property
    def tone(self) -> str:
        """Colour and icon: "ok", "expired", "revoked", or the neutral "lapsed"."""
        if self.past_assumed_validity:
            return "lapsed"
        return {"valid": "ok", "expired": "expired", "revoked": "revoked"}[self.status.value]


def standing(
    day: date,
    *,
    level: Level | str,
    year: int,
    issued_on: date | None,
    expires_on: date | None,
    revoked_on: date | None,
    policy: Policy,
) -> Standing:
    """The one status rule: revoked from the revocation date; else expired after the
    decision's expiry or, when the decision states none, after the assumed validity
    of the policy in effect on ``day``; else valid."""
    term = None
    if expires_on is not None:
        basis, expiry, lapsed = ExpiryBasis.DECISION, expires_on, day > expires_on
    else:
        term = policy.term(level, day)
        start = validity_start(issued_on, year)
        basis, expiry = ExpiryBasis.POLICY, add_years(start, term.years)
        lapsed = start < _cutoff(day, term.years)  # == policy.cutoff(level, day)
    if revoked_on is not None and day >= revoked_on:
        status = CertificateStatus.REVOKED
    elif lapsed:
        status = CertificateStatus.EXPIRED
    else:
        status = CertificateStatus.VALID
    return Standing(status, basis, expiry, term)


def issued_by(day: date, *, issued_on: date | None, year: int) -> bool | None:
    """Whether the certificate had been issued on ``day``: from its issue date or, when only
    the year is known, False before that year, True after it and None (cannot tell) within it."""
    if issued_on is not None:
        return day >= issued_on
    if day.year != year:
        return day.year > year
    return None


def certificate_standing(
    cert: Any, level: Level | str, year: int, policy: Policy, day: date | None = None
) -> Standing:
    """:func:`standing` of a certificate row (anything with the date attributes)."""
    return standing(
        day or clock_today(), level=level, year=year, issued_on=getattr(cert, "issued_on", None),
        expires_on=getattr(cert, "expires_on", None), revoked_on=getattr(cert, "revoked_on", None),
        policy=policy,
    )  # fmt: skip


def valid_sql(
    day: date,
    policy: Policy,
    *,
    level: Any = None,
    year: Any = None,
    issued_on: Any = None,
    expires_on: Any = None,
    revoked_on: Any = None,
) -> Any:
    """SQL condition "valid on ``day``": :func:`standing` for a query.

    Columns default to ``certificate`` joined with its ``selection_round``
    (the caller joins). Dates are bound from the application's clock, never
    the database server's.
    """
    from catalogue.registry.models import Certificate, SelectionRound

    level = SelectionRound.level if level is None else level
    year = SelectionRound.year if year is None else year
    issued_on = Certificate.issued_on if issued_on is None else issued_on
    expires_on = Certificate.expires_on if expires_on is None else expires_on
    revoked_on = Certificate.revoked_on if revoked_on is None else revoked_on
    by_cutoff: dict[date, list[str]] = defaultdict(list)
    for lv in Level:
        by_cutoff[policy.cutoff(lv, day)].append(lv.value)

    def within(cut: date) -> Any:
        return or_(issued_on >= cut, and_(issued_on.is_(None), year >= cut.year))

    if len(by_cutoff) == 1:
        assumed = within(next(iter(by_cutoff)))
    else:
        assumed = or_(*(and_(level.in_(levels), within(cut)) for cut, levels in by_cutoff.items()))
    return and_(
        or_(revoked_on.is_(None), revoked_on > day),
        or_(expires_on >= day, and_(expires_on.is_(None), assumed)),
    )


def status_codes(
    day: date,
    policy: Policy,
    *,
    levels: Sequence[str],
    level: np.ndarray,
    expires: np.ndarray,
    revoked: np.ndarray,
    start: np.ndarray,
) -> np.ndarray:
    """:func:`standing`'s status over arrays of certificates (numpy): one code per certificate.

    ``level`` holds positions in ``levels``; ``expires`` and ``revoked`` are day ordinals
    (0 for none), ``start`` the ordinal of :func:`validity_start`. A code is the status's
    position in :class:`~catalogue.vocab.CertificateStatus`.
    """
    import numpy as np

    code = {s: i for i, s in enumerate(CertificateStatus)}
    today = day.toordinal()
    cutoff = np.array(policy.cutoff_ordinals(list(levels), day), np.int32)[level]
    status = np.full(len(level), code[CertificateStatus.VALID], np.int8)
    decided = expires > 0
    status[(decided & (expires < today)) | (~decided & (start < cutoff))] = code[CertificateStatus.EXPIRED]
    status[(revoked > 0) & (revoked <= today)] = code[CertificateStatus.REVOKED]
    return status


# ----------------------------------------------------------------------------- loading


def load_policy(conn: Any, default_years: int) -> Policy:
    """Read every setting (a handful of rows) through a connection or session."""
    from catalogue.registry.models import ValidityPolicy as Row

    query = select(col(Row.level), col(Row.effective_from), col(Row.years)).order_by(col(Row.id))
    run = getattr(conn, "exec", None) or conn.execute  # a SQLModel session or a Connection
    rows = run(query).all()
    return Policy.from_rows(rows, default_years)


def current_policy(conn: Any = None) -> Policy:
    """The policy for this request: kept per app, reloaded after a save or :data:`POLICY_TTL`.

    Outside an application context, read through ``conn`` with the default years.
    """
    from flask import current_app, has_app_context

    if not has_app_context():
        return load_policy(conn, DEFAULT_YEARS) if conn is not None else Policy()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    cached = app.extensions.get("validity_policy")
    now = monotonic()
    if cached is not None and now - cached[0] < POLICY_TTL:
        return cached[1]
    default = int(app.config.get("CERTIFICATE_VALIDITY_YEARS") or DEFAULT_YEARS)
    if conn is not None:
        policy = load_policy(conn, default)
    else:
        from catalogue.db import get_engine

        with get_engine().connect() as own:
            policy = load_policy(own, default)
    app.extensions["validity_policy"] = (now, policy)
    return policy


def forget_policy() -> None:
    """Drop this app's cached policy (called after a setting is saved)."""
    from flask import current_app, has_app_context

    if has_app_context():
        current_app.extensions.pop("validity_policy", None)


def revoked_sql(day: date) -> Any:
    """SQL condition "revoked on ``day``" (a revocation dated later is not yet in force)."""
    from catalogue.registry.models import Certificate

    return and_(col(Certificate.revoked_on).is_not(None), col(Certificate.revoked_on) <= day)


def status_sql(day: date, policy: Policy) -> Any:
    """Each certificate's status on ``day`` as an SQL value (``valid``, ``expired`` or ``revoked``):
    :func:`standing` for a grouped query; the caller joins ``selection_round``."""
    return case(
        (revoked_sql(day), CertificateStatus.REVOKED.value),
        (valid_sql(day, policy), CertificateStatus.VALID.value),
        else_=CertificateStatus.EXPIRED.value,
    )
