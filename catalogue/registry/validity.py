"""Setting the registry's assumed validity per level (ministry officials only).

Each save adds a row (history is kept: statuses on past days use the setting
then in effect) and an audit entry with before/after, in the caller's
transaction. The caller commits, then calls
:func:`catalogue.registry.status.forget_policy` so this process shows the new
status at once (other processes within ``POLICY_TTL``). Nothing is rewritten or
reindexed: statuses are derived when read (:mod:`catalogue.registry.status`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlmodel import Session, col, select

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor
from catalogue.audit import services as audit
from catalogue.registry.models import ValidityPolicy
from catalogue.registry.status import load_policy
from catalogue.text import nfc
from catalogue.vocab import Level

MIN_YEARS, MAX_YEARS = 1, 50


class PolicyError(ValueError):
    """A setting refused, with a sentence in the official's language."""


def set_policy(
    session: Session,
    *,
    actor: Actor,
    level: Level | str,
    years: int,
    effective_from: date | None,
    default_years: int,
    note: str | None = None,
) -> ValidityPolicy:
    """Record that from ``effective_from`` certificates of ``level`` whose decision
    states no expiry are assumed valid for ``years``. Flushes, never commits."""
    permissions.require(actor, "manage_policy")
    try:
        lvl = Level(level)
    except ValueError:
        raise PolicyError(_("Choose a level.")) from None
    if not isinstance(years, int) or not MIN_YEARS <= years <= MAX_YEARS:
        raise PolicyError(_("The validity must be between %(min)s and %(max)s years.",
                            min=MIN_YEARS, max=MAX_YEARS))  # fmt: skip
    if not isinstance(effective_from, date):
        raise PolicyError(_("Enter the day the setting takes effect."))
    before = load_policy(session, default_years).term(lvl, effective_from)
    if before.years == years:
        raise PolicyError(_("The assumed validity of this level is already %(num)s years on that day: "
                            "nothing to change.", num=years))  # fmt: skip
    row = ValidityPolicy(
        level=lvl.value, years=years, effective_from=effective_from,
        set_by_id=actor.id if isinstance(actor, User) else None, note=nfc(note or "")[:500] or None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session, **permissions.audit_actor(actor),
        action="set_validity", entity_type="validity_policy", entity_id=row.id,
        # Before: the setting that was in effect on that day (effective_from None = the default).
        changes={
            "validity_years": [before.years, years],
            "effective_from": [before.since.isoformat() if before.since else None,
                               effective_from.isoformat()],
        },
        # The level's key: the trail names it in the reader's language.
        summary=lvl.value,
    )  # fmt: skip
    return row


@dataclass
class Setting:
    """One row of the history as the pages show it."""

    level: Level
    years: int
    effective_from: date | None
    set_by: str | None
    note: str | None


def history(session: Session, default_years: int) -> dict[Level, list[Setting]]:
    """Every level's settings, newest first, each ending with the configured default."""
    rows = session.exec(
        select(ValidityPolicy, User.email)
        .join(User, col(User.id) == ValidityPolicy.set_by_id, isouter=True)
        .order_by(col(ValidityPolicy.effective_from).desc(), col(ValidityPolicy.id).desc())
    ).all()
    out: dict[Level, list[Setting]] = {lv: [] for lv in Level.by_rank()}
    for row, email in rows:
        if row.level in Level._value2member_map_:
            lvl = Level(row.level)
            out[lvl].append(Setting(lvl, row.years, row.effective_from, email, row.note))
    for lv, settings in out.items():
        settings.append(Setting(lv, default_years, None, None, None))
    return out
