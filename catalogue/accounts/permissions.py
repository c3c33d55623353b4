"""Who may do what: the one module that answers every permission question.

Rules (DESIGN §1, issue 5):

* a **ministry** official (Cục Công Thương địa phương) publishes and corrects
  regional and national certificates for any province, manages fairs,
  showrooms and officials' accounts, and sees every batch and audit entry;
* a **province** official (Sở Công Thương) publishes and corrects provincial,
  district and commune certificates of their own *current* province only —
  a record printed under a pre-2025 unit belongs to the unit it became part
  of — and sees their own province's batches and audit entries;
* a province's **lead** official (a provincial official the ministry marked so)
  also looks after the accounts of their own province's other officials: lists
  them, creates them, issues reset links, deactivates and reactivates them. A lead
  never touches a ministry account, another province's, another lead's or their
  own; only the ministry makes leads (issue 15: 34 provinces' forgotten passwords
  were all the ministry's to handle).

Views and services both call :func:`require`; nothing else decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from werkzeug.exceptions import Forbidden as _HTTPForbidden

from catalogue.accounts.models import User
from catalogue.places.models import Province
from catalogue.vocab import Level

MINISTRY = "ministry"
PROVINCE = "province"
ROLES = (MINISTRY, PROVINCE)

MINISTRY_LEVELS = frozenset({Level.KHU_VUC, Level.QUOC_GIA})
PROVINCE_LEVELS = frozenset({Level.TINH, Level.HUYEN, Level.XA})

#: Actions judged by level and province (certified records and what hangs off them).
RECORD_ACTIONS = frozenset({"publish", "correct_certificate", "revoke", "edit_round", "issue_labels"})
#: Actions judged by province only (a producer or product may hold certificates of several levels).
PLACE_ACTIONS = frozenset({"edit_producer", "edit_product", "view_batch", "view_report"})
#: Actions open to any signed-in official; object checks come later through the above.
OFFICIAL_ACTIONS = frozenset({"use_workspace", "import", "view_audit", "view_reports", "change_password",
                              "manage_own_sessions"})  # fmt: skip
#: Ministry only.
MINISTRY_ACTIONS = frozenset({"manage_events", "view_all_provinces", "manage_policy", "rebuild_search",
                              "appoint_lead"})  # fmt: skip
#: Officials' accounts: the ministry's for every account, a lead's for their own province's;
#: which account comes later, through :func:`may_manage`.
ACCOUNT_ACTIONS = frozenset({"manage_users", "issue_reset_link"})
ACTIONS = RECORD_ACTIONS | PLACE_ACTIONS | OFFICIAL_ACTIONS | MINISTRY_ACTIONS | ACCOUNT_ACTIONS


@dataclass(frozen=True)
class SystemActor:
    """The operator at the command line (``flask user create``): trusted shell access."""

    label: str = "cli"


#: Passed by CLI commands that bootstrap the system (the first ministry account).
SYSTEM = SystemActor()

Actor = User | SystemActor | None


class Forbidden(_HTTPForbidden):
    """Raised by :func:`require`; renders as HTTP 403 with a plain explanation."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or _("Your account may not do this."))


def _province_id(province: Province | int | None) -> int | None:
    """The current unit's id: a pre-2025 unit counts as the unit it became part of."""
    if province is None or isinstance(province, int):
        return province
    if province.valid_to is not None and province.successor_id is not None:
        return province.successor_id
    return province.id


def _level(level: Level | str | None) -> Level | None:
    if level is None or isinstance(level, Level):
        return level
    try:
        return Level(level)
    except ValueError:
        return None


def levels_for(user: Actor) -> frozenset[Level]:
    """Certificate levels this account publishes."""
    if isinstance(user, SystemActor):
        return frozenset(Level)
    if user is None or not user.is_active:
        return frozenset()
    return (
        MINISTRY_LEVELS
        if user.role == MINISTRY
        else PROVINCE_LEVELS
        if user.role == PROVINCE
        else frozenset()
    )


def province_scope(user: Actor) -> int | None:
    """The current province id a provincial official is limited to; None means every province."""
    if isinstance(user, User) and user.role == PROVINCE:
        return user.province_id
    return None


def is_lead(user: Actor) -> bool:
    """Whether ``user`` is an active provincial official marked as their province's lead."""
    return (
        isinstance(user, User)
        and user.is_active
        and user.role == PROVINCE
        and user.is_lead
        and user.province_id is not None
    )


def can(
    user: Actor,
    action: str,
    *,
    province: Province | int | None = None,
    level: Level | str | None = None,
) -> bool:
    """Whether ``user`` may do ``action`` (for ``province`` and ``level`` when they matter)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if isinstance(user, SystemActor):
        return True
    if user is None or not user.is_active or user.role not in ROLES:
        return False
    ministry = user.role == MINISTRY
    if action in OFFICIAL_ACTIONS:
        return ministry or user.province_id is not None
    if action in MINISTRY_ACTIONS:
        return ministry
    if action in ACCOUNT_ACTIONS:  # the account itself is judged by may_manage
        return ministry or is_lead(user)
    in_scope = ministry or (user.province_id is not None and _province_id(province) == user.province_id)
    if action in PLACE_ACTIONS:
        return in_scope
    # RECORD_ACTIONS: the level decides the office; a provincial office also needs its province.
    lvl = _level(level)
    if lvl is None:
        return False
    if ministry:
        return lvl in MINISTRY_LEVELS
    return lvl in PROVINCE_LEVELS and in_scope


def require(
    user: Actor,
    action: str,
    *,
    province: Province | int | None = None,
    level: Level | str | None = None,
) -> None:
    """Raise :class:`Forbidden` unless :func:`can` allows it."""
    if not can(user, action, province=province, level=level):
        raise Forbidden(explain(user, action, level=level))


def explain(user: Actor, action: str, *, level: Level | str | None = None) -> str:
    """A plain sentence saying why an action is refused."""
    if user is None:
        return _("Please sign in.")
    if isinstance(user, User) and not user.is_active:
        return _("This account has been deactivated.")
    if action in MINISTRY_ACTIONS:
        return _("Only ministry officials may do this.")
    if action in ACCOUNT_ACTIONS:
        return _("Only ministry officials and a province's lead official may do this.")
    lvl = _level(level)
    if action in RECORD_ACTIONS and lvl is not None and lvl not in levels_for(user):
        if lvl in MINISTRY_LEVELS:
            return _("%(level)s certificates are published by the ministry.", level=lvl.label)
        return _("%(level)s certificates are published by the provincial office.", level=lvl.label)
    return _("This record belongs to another province.")


@dataclass(frozen=True)
class Owner:
    """The office a record belongs to (DESIGN §2 "Ownership").

    A producer or product belongs to the Sở Công Thương of its producer's current
    province; a certificate or round of a local level to that province's office;
    a regional or national one to the ministry. ``province_id`` is always a
    current unit's id; ``label`` names the office for messages.
    """

    province_id: int | None
    ministry: bool = False
    label: str = ""
    #: A certificate or round: its level's office alone may change it (``RECORD_ACTIONS``).
    certified: bool = False


def may_touch(user: Actor, owner: Owner) -> bool:
    """Whether ``user`` may change a record owned by ``owner``: the one ownership rule.

    The ministry may correct any province's producers and products through the
    workspace forms (an import row of the ministry never does, see
    :mod:`catalogue.registry.records`) but not a province's certificates or rounds,
    as :func:`can` rules for ``RECORD_ACTIONS``; a provincial office only its own records.
    """
    if isinstance(user, SystemActor):
        return True
    if user is None or not user.is_active or user.role not in ROLES:
        return False
    if user.role == MINISTRY:
        return owner.ministry or not owner.certified
    return not owner.ministry and owner.province_id is not None and owner.province_id == user.province_id


def require_touch(user: Actor, owner: Owner) -> None:
    """Raise :class:`Forbidden` naming the owner unless :func:`may_touch` allows it."""
    if not may_touch(user, owner):
        raise Forbidden(explain_owner(user, owner))


def explain_owner(user: Actor, owner: Owner) -> str:
    """Why a record may not be changed, naming the office that owns it."""
    if user is None or (isinstance(user, User) and not user.is_active):
        return explain(user, "edit_product")
    return _("This record belongs to %(owner)s; only that office may change it.", owner=owner.label)


def may_manage(user: Actor, account: User) -> bool:
    """Whether ``user`` may look after ``account`` (list it, reset its password, (de)activate it).

    Also asked of an account about to be created, so a lead creates only plain
    officials of their own province. The ministry may manage every account (its
    own refusals, such as deactivating oneself, are the services' to say).
    """
    if isinstance(user, SystemActor):
        return True
    if user is None or not user.is_active or user.role not in ROLES:
        return False
    if user.role == MINISTRY:
        return True
    return (
        is_lead(user)
        and account.role == PROVINCE
        and not account.is_lead
        and account.province_id is not None
        and account.province_id == user.province_id
    )


def require_manage(user: Actor, account: User) -> None:
    """Raise :class:`Forbidden` saying why unless :func:`may_manage` allows it."""
    if may_manage(user, account):
        return
    if user is None or (isinstance(user, User) and not user.is_active) or not is_lead(user):
        raise Forbidden(explain(user, "manage_users"))
    if account.role != PROVINCE:
        raise Forbidden(_("Only ministry officials may manage a ministry official's account."))
    if account.province_id != province_scope(user):
        raise Forbidden(_("This account belongs to another province."))
    raise Forbidden(_("Only ministry officials manage the accounts of a province's lead officials."))


def actor_label(user: Actor) -> str:
    """How the audit log names an actor."""
    if isinstance(user, SystemActor):
        return user.label
    return user.email if user is not None else "anonymous"


def audit_actor(user: Actor) -> dict[str, Any]:
    """Keyword arguments for :func:`catalogue.audit.services.record`."""
    if isinstance(user, User):
        return {"actor": user}
    return {"actor": None, "actor_label": actor_label(user)}


def publishable_levels(actor: Actor) -> list[Level]:
    """Levels an account publishes, highest first (as the workspace lists them)."""
    return Level.by_rank(levels_for(actor))
