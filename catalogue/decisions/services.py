"""Revoke or reinstate many certificates under one decision: the dry run (:func:`plan_ids`,
:func:`plan_numbers`) and :func:`apply`, all or nothing.

The dry run writes nothing: it resolves every requested certificate and says, line by
line, what stands in the way. :func:`apply` takes exactly the certificate ids the dry run
showed and its fingerprint, runs the dry run again and refuses (:class:`Changed`, with
the new dry run) if anything differs; otherwise it revokes or reinstates each certificate
through :mod:`catalogue.registry.certificates` (the one rule for a single certificate)
and records the decision and an audit entry naming its certificates, in the caller's
transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlmodel import Session, col, func, or_, select

from catalogue.accounts.models import User
from catalogue.accounts.permissions import Actor, audit_actor, explain_owner, province_scope
from catalogue.accounts.services import office_name
from catalogue.audit import services as audit
from catalogue.db import chunks
from catalogue.decisions.models import RevocationDecision
from catalogue.decisions.numbers import MAX_CERTIFICATES, Asked, too_many
from catalogue.i18n import fmt_date
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.refused import Refused
from catalogue.registry import certificates, ownership
from catalogue.registry.models import Certificate, CertificateEvent, Producer, Product, SelectionRound
from catalogue.registry.status import certificate_standing, current_policy
from catalogue.text import nfc
from catalogue.vocab import Level

ACTIONS = ("revoke", "reinstate")
_CHUNK = 500


@dataclass(frozen=True)
class Facts:
    """The decision: what it does, its number, date and reason."""

    action: str
    number: str
    decided_on: date
    reason: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(self.action)


@dataclass
class Line:
    """One requested certificate in the dry run, with what stands in its way (if anything)."""

    position: int
    asked: str
    certificate_id: int | None = None
    number: str | None = None
    product: str | None = None
    producer: str | None = None
    level: str | None = None
    year: int | None = None
    status: str | None = None
    problem: str | None = None


@dataclass
class Plan:
    facts: Facts
    lines: list[Line] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def problems(self) -> list[Line]:
        return [line for line in self.lines if line.problem]

    @property
    def ok(self) -> bool:
        return bool(self.lines) and not self.problems

    @property
    def ids(self) -> list[int]:
        return [line.certificate_id for line in self.lines if line.certificate_id is not None]


class Changed(Refused):
    """The certificates changed between the dry run and the confirmation; carries the new dry run."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(
            gettext(
                "Something changed since the dry run, so nothing was applied. "
                "Check the new dry run below and confirm again."
            )
        )
        self.plan = plan


_Row = tuple[Certificate, SelectionRound, Product, Producer | None]


def _query() -> Any:
    return (
        select(Certificate, SelectionRound, Product, Producer)
        .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .join(Product, col(Product.id) == Certificate.product_id)
        .outerjoin(Producer, col(Producer.id) == Product.producer_id)
    )


def _by_ids(session: Session, ids: Sequence[int]) -> dict[int, _Row]:
    out: dict[int, _Row] = {}
    for chunk in chunks(sorted(set(ids)), _CHUNK):
        for row in session.exec(_query().where(col(Certificate.id).in_(chunk))).all():
            out[int(row[0].id)] = row
    return out


def number_key(number: str | None) -> str:
    """How two spellings of a certificate number are told apart: not by case or spacing."""
    return " ".join(nfc(number or "").split()).casefold()


def _by_numbers(session: Session, numbers: Sequence[str]) -> dict[str, list[_Row]]:
    out: dict[str, list[_Row]] = defaultdict(list)
    wanted = sorted({nfc(n) for n in numbers})
    for chunk in chunks(wanted, _CHUNK):
        # SQLite's lower() folds ASCII only ("Đ" stays): ask for each case spelling too, so both
        # databases find "12/GCN-ĐP" from "12/gcn-đp"; number_key then groups what was found.
        spellings = sorted({v for n in chunk for v in (n, n.lower(), n.upper())})
        lowered = sorted({n.lower() for n in chunk})
        query = _query().where(
            or_(col(Certificate.number).in_(spellings), func.lower(col(Certificate.number)).in_(lowered))
        )
        for row in session.exec(query.order_by(col(Certificate.id))).all():
            bucket = out[number_key(row[0].number)]
            if all(r[0].id != row[0].id for r in bucket):
                bucket.append(row)
    return out


def _describe(line: Line, row: _Row, today_policy: Any) -> None:
    cert, round_, product, producer = row
    line.certificate_id = cert.id
    line.number = cert.number
    line.product = product.name
    line.producer = producer.name if producer else None
    line.level = Level(round_.level).label
    line.year = round_.year
    line.status = certificate_standing(cert, round_.level, round_.year, today_policy).status.label


def _status_problem(action: str, cert: Certificate) -> str | None:
    if action == "revoke" and cert.revoked_on is not None:
        return gettext(
            "Already revoked on %(d)s (%(ref)s).",
            d=fmt_date(cert.revoked_on),
            ref=cert.revoked_reference or "—",
        )
    if action == "reinstate" and cert.revoked_on is None:
        return gettext("Not revoked: there is nothing to withdraw.")
    return None


def _judge(session: Session, actor: Actor, plan: Plan, rows: dict[int, _Row]) -> Plan:
    """Add each line's problems (not yours, listed twice, status) and the fingerprint."""
    provinces = Provinces.load(session)
    seen: dict[int, int] = {}
    for line in plan.lines:
        if line.problem or line.certificate_id is None:
            continue
        cert = rows[line.certificate_id][0]
        if not certificates.may_revoke(session, actor, cert):
            line.problem = explain_owner(actor, ownership.certificate_owner(session, provinces, cert))
        elif line.certificate_id in seen:
            line.problem = gettext("Listed twice (also line %(n)s).", n=seen[line.certificate_id])
        else:
            line.problem = _status_problem(plan.facts.action, cert) or certificates.effective_date_problem(
                session, cert, revoking=plan.facts.action == "revoke", on=plan.facts.decided_on
            )
        seen.setdefault(line.certificate_id, line.position)
    plan.fingerprint = fingerprint(plan.facts, [rows[i][0] for i in plan.ids])
    return plan


def fingerprint(facts: Facts, certs: Iterable[Certificate]) -> str:
    """What the confirmation must still find: the decision and each certificate's relevant state."""
    state = [
        [c.id, c.number, c.round_id, c.province_id, c.revoked_on, c.revoked_reference]
        for c in sorted(certs, key=lambda c: int(c.id or 0))
    ]
    blob = json.dumps([facts.action, facts.number, facts.decided_on, facts.reason, state], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def plan_ids(session: Session, actor: Actor, facts: Facts, ids: Sequence[int]) -> Plan:
    """The dry run for certificates picked by id (the records list's ticked rows)."""
    if len(ids) > MAX_CERTIFICATES:
        raise Refused(str(too_many()))
    rows = _by_ids(session, ids)
    policy = current_policy(session)
    plan = Plan(facts)
    for position, cert_id in enumerate(ids, start=1):
        line = Line(position, f"#{cert_id}")
        row = rows.get(cert_id)
        if row is None:
            line.problem = gettext("No such certificate.")
        else:
            _describe(line, row, policy)
            line.asked = row[0].number or line.asked
        plan.lines.append(line)
    return _judge(session, actor, plan, rows)


def plan_numbers(session: Session, actor: Actor, facts: Facts, asked: Sequence[Asked]) -> Plan:
    """The dry run for certificates listed by number; a number several certificates share is
    resolved to the one the official may change, or else reported as ambiguous."""
    if len(asked) > MAX_CERTIFICATES:
        raise Refused(str(too_many()))
    found = _by_numbers(session, [a.number for a in asked])
    policy = current_policy(session)
    plan = Plan(facts)
    rows: dict[int, _Row] = {}
    for item in asked:
        line = Line(item.position, item.number)
        matches = found.get(number_key(item.number), [])
        mine = [r for r in matches if certificates.may_revoke(session, actor, r[0])]
        if not matches:
            line.problem = gettext("No certificate has this number.")
        elif len(mine) > 1:
            line.problem = gettext(
                "%(n)s certificates you may change share this number: %(which)s. "
                "Tick the one you mean in the records list instead.",
                n=len(mine),
                which="; ".join(f"{Level(r[1].level).label} {r[1].year} — {r[2].name}" for r in mine),
            )
        else:
            row = mine[0] if mine else matches[0]
            _describe(line, row, policy)
            rows[int(row[0].id or 0)] = row
            if not mine and len(matches) > 1:
                line.problem = gettext(
                    "%(n)s certificates share this number; none is yours to change.", n=len(matches)
                )
        plan.lines.append(line)
    return _judge(session, actor, plan, rows)


def _office(session: Session, actor: Actor) -> tuple[str, int | None]:
    scope = province_scope(actor)
    province = session.get(Province, scope) if scope is not None else None
    return office_name(actor if isinstance(actor, User) else None, province), scope


def apply(
    session: Session, actor: Actor, facts: Facts, ids: Sequence[int], confirmed: str
) -> RevocationDecision:
    """Apply the decision to exactly the certificates the dry run showed, or to none.

    Raises :class:`Changed` (with the new dry run) when the dry run no longer matches
    ``confirmed`` or now finds a problem.
    """
    number, reason = nfc(facts.number), nfc(facts.reason)
    if not number or not reason:
        raise Refused(gettext("Give the decision's number and the reason."))
    plan = plan_ids(session, actor, facts, ids)
    if not plan.ok or plan.fingerprint != confirmed:
        raise Changed(plan)
    office, province_id = _office(session, actor)
    decision = RevocationDecision(
        action=facts.action, number=number[:200], decided_on=facts.decided_on, reason=reason,
        actor_id=getattr(actor, "id", None), office=office, province_id=province_id, count=len(plan.ids),
    )  # fmt: skip
    session.add(decision)
    session.flush()
    rows = _by_ids(session, plan.ids)
    for cert_id in plan.ids:
        cert = rows[cert_id][0]
        if facts.action == "revoke":
            certificates.revoke_certificate(
                session, actor=actor, certificate=cert, reason=reason, reference=number,
                on=facts.decided_on, decision_id=decision.id,
            )  # fmt: skip
        else:
            certificates.reinstate_certificate(
                session, actor=actor, certificate=cert, reason=reason, reference=number,
                on=facts.decided_on, decision_id=decision.id,
            )  # fmt: skip
    listed = ", ".join(rows[i][0].number or f"#{i}" for i in plan.ids)
    audit.record(
        session,
        **audit_actor(actor),
        action=facts.action,
        entity_type="revocation_decision",
        entity_id=decision.id,
        summary=f"{number} — {reason}"[:500],
        changes=audit.diff(
            {},
            {
                "decision_number": number,
                "decision_date": facts.decided_on,
                "reason": reason,
                "certificates": listed,
            },
        ),
        province_id=province_id,
    )
    session.flush()
    return decision


def visible(actor: Actor, decision: RevocationDecision) -> bool:
    """A provincial office sees its own decisions; the ministry sees every one."""
    scope = province_scope(actor)
    return scope is None or decision.province_id == scope


def certificates_of(session: Session, decision: RevocationDecision) -> list[_Row]:
    """The certificates a decision revoked or reinstated, in the order it listed them."""
    ids = session.exec(
        select(CertificateEvent.certificate_id)
        .where(CertificateEvent.decision_id == decision.id)
        .order_by(col(CertificateEvent.id))
    ).all()
    rows = _by_ids(session, list(ids))
    return [rows[i] for i in ids if i in rows]


def decisions_for(session: Session, actor: Actor, limit: int = 200) -> list[RevocationDecision]:
    """The latest decisions the actor may see, newest first."""
    query = select(RevocationDecision).order_by(col(RevocationDecision.id).desc()).limit(limit)
    scope = province_scope(actor)
    if scope is not None:
        query = query.where(RevocationDecision.province_id == scope)
    return list(session.exec(query).all())
