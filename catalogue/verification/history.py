"""Was it valid on that day? A certificate's status on a past day, replayed from its history.

The status itself is the one rule of :mod:`catalogue.registry.status`
(:func:`~catalogue.registry.status.standing`, :func:`~catalogue.registry.status.issued_by`);
this module only works out which revocation was in effect on the day asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from catalogue.registry.models import CertificateEvent
from catalogue.registry.status import Policy, Standing, current_policy, issued_by, standing
from catalogue.verification.services import CertificateCheck, core_table
from catalogue.vocab import CertificateStatus


@dataclass(frozen=True)
class AsOf:
    """The answer to "was it valid on ``day``?"."""

    day: date
    #: None when the certificate had not been issued yet on ``day``.
    status: CertificateStatus | None
    #: True when only the year of issue is known and ``day`` falls in that year,
    #: so whether it was already issued that day cannot be told.
    issue_day_unknown: bool = False
    revoked_on: date | None = None
    revoked_reason: str | None = None
    #: Basis and effective expiry on ``day`` (None before the certificate was issued).
    standing: Standing | None = None


def load_events(conn: Connection, cert_id: int) -> list[Any]:
    """The certificate's events (issued, corrected, revoked, reinstated) in order."""
    ev = core_table(CertificateEvent)
    return list(conn.execute(
        select(ev.c.kind, ev.c.effective_on, ev.c.reason, ev.c.reference, ev.c.recorded_at)
        .where(ev.c.certificate_id == cert_id)
        .order_by(ev.c.recorded_at, ev.c.id)
    ).all())  # fmt: skip


def status_as_of(check: CertificateCheck, day: date, events: list[Any], policy: Policy | None = None) -> AsOf:
    """Status on ``day`` from the certificate's history.

    Revocations are replayed from the events by the day they took effect, so a
    certificate revoked later was still valid before. A ``reinstated`` event
    withdraws the revocation before it (one made in error), so it never
    applied. A revoked row without events (older data) falls back to
    ``revoked_on``. Expiry is the current, possibly corrected, expiry date, or
    the validity the policy in effect on ``day`` assumed.
    """
    issued = issued_by(day, issued_on=check.issued_on, year=check.year)
    if issued is False:
        return AsOf(day, None)
    revocations: list[tuple[date, str | None]] = []
    for event in events:
        if event.kind == "revoked" and event.effective_on is not None:
            revocations.append((event.effective_on, event.reason))
        elif event.kind == "reinstated" and revocations:
            revocations.pop()
    if not revocations and check.revoked_on is not None and not any(e.kind == "revoked" for e in events):
        revocations.append((check.revoked_on, check.revoked_reason))
    applied = [r for r in revocations if r[0] <= day]
    revoked_on, reason = min(applied) if applied else (None, None)
    then = standing(
        day, level=check.level, year=check.year, issued_on=check.issued_on, expires_on=check.expires_on,
        revoked_on=revoked_on, policy=policy or current_policy(),
    )  # fmt: skip
    status = then.status
    unknown = issued is None and status is CertificateStatus.VALID
    return AsOf(day, status, issue_day_unknown=unknown, revoked_on=revoked_on, revoked_reason=reason,
                standing=then)  # fmt: skip
