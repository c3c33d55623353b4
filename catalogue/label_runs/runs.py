"""Issuing and withdrawing label runs: the certificate's own office decides (the one record rule).

A run may be issued only for a certificate valid today: a label printed now promises
a valid certificate. Withdrawing a range (a lost or stolen roll) changes what its
codes read ("label withdrawn") and nothing else: the certificate is untouched.
Every change is audited into the certificate's province log.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext
from sqlmodel import Session, col, select

from catalogue.accounts.permissions import Actor, actor_label, audit_actor
from catalogue.audit import services as audit
from catalogue.clock import today
from catalogue.db import pk
from catalogue.i18n import fmt_number
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.refused import Refused
from catalogue.registry import certificates
from catalogue.registry.certificates import require_certificate
from catalogue.registry.codes import parse_code
from catalogue.registry.models import Certificate, Product, SelectionRound
from catalogue.registry.status import certificate_standing, current_policy, valid_sql
from catalogue.text import nfc
from catalogue.verification import serial_codes as codes
from catalogue.verification.models import LabelRun, LabelWithdrawal
from catalogue.verification.services import find_by_number
from catalogue.vocab import CertificateStatus

#: The most codes one run may hold (one per package).
MAX_COUNT = 1_000_000
#: A run's codes are downloaded as sheets of at most this many serials.
SHEET_RANGE = 5_000

ACTION = "issue_labels"


class RunRefused(Refused):
    """A label run cannot be issued or withdrawn as asked; the message is for the official."""


def may_issue(session: Session, actor: Actor, certificate: Certificate) -> bool:
    """Whether ``actor`` may issue or withdraw labels of ``certificate`` (its level's office)."""
    return certificates.may(session, actor, ACTION, certificate)


def issue_run(
    session: Session, *, actor: Actor, certificate: Certificate, count: int, note: str | None = None
) -> LabelRun:
    """A new run of ``count`` serial codes for a certificate valid today (flushed, not committed)."""
    require_certificate(session, actor, ACTION, certificate)
    if not 1 <= count <= MAX_COUNT:
        raise RunRefused(gettext("A label run holds from 1 to %(max)s codes.", max=fmt_number(MAX_COUNT)))
    require_valid(session, certificate)
    run = LabelRun(
        certificate_id=pk(certificate), count=count, note=nfc(note or "")[:200] or None,
        key_id=current_app.config["VERIFY_CURRENT_KEY_ID"],
        created_by_id=getattr(actor, "id", None), created_by_label=actor_label(actor)[:200],
    )  # fmt: skip
    session.add(run)
    session.flush()
    if pk(run) > codes.MAX_RUN_ID:  # 33 million runs: a new key id opens a fresh space
        raise RunRefused(gettext("No more label runs can be numbered with this verification key."))
    audit.record(
        session, **audit_actor(actor), action="issue_labels", entity_type="label_run", entity_id=pk(run),
        province_id=Provinces.load(session).current_id(certificate.province_id),
        changes={"certificate_id": pk(certificate), "count": count, "note": run.note},
        summary=certificate.number,
    )  # fmt: skip
    return run


def withdraw(
    session: Session, *, actor: Actor, run: LabelRun, first: int, last: int, reason: str
) -> LabelWithdrawal:
    """Withdraw serials ``first..last`` of ``run`` (the whole run: 1..count). Flushed, not committed."""
    certificate = session.get(Certificate, run.certificate_id)
    assert certificate is not None
    require_certificate(session, actor, ACTION, certificate)
    reason = nfc(reason)
    if not reason:
        raise RunRefused(gettext("Say why these labels are withdrawn (for example: a roll was lost)."))
    check_range(run, first, last)
    entry = LabelWithdrawal(
        run_id=pk(run), first_serial=first, last_serial=last, reason=reason[:500],
        withdrawn_by_id=getattr(actor, "id", None), withdrawn_by_label=actor_label(actor)[:200],
    )  # fmt: skip
    session.add(entry)
    session.flush()
    audit.record(
        session, **audit_actor(actor), action="withdraw_labels", entity_type="label_run", entity_id=pk(run),
        province_id=Provinces.load(session).current_id(certificate.province_id),
        changes={"first_serial": first, "last_serial": last, "reason": entry.reason},
        summary=certificate.number,
    )  # fmt: skip
    return entry


def undo_withdrawal(session: Session, *, actor: Actor, withdrawal: LabelWithdrawal) -> None:
    """Take back a withdrawal made by mistake: its serials read their certificate's status again.

    Audited with the range and reason that are undone. Flushed, not committed.
    """
    run = session.get(LabelRun, withdrawal.run_id)
    certificate = session.get(Certificate, run.certificate_id) if run is not None else None
    assert run is not None and certificate is not None  # required foreign keys
    require_certificate(session, actor, ACTION, certificate)
    first, last = withdrawal.first_serial, withdrawal.last_serial
    audit.record(
        session, **audit_actor(actor), action="undo_label_withdrawal", entity_type="label_run",
        entity_id=pk(run), province_id=Provinces.load(session).current_id(certificate.province_id),
        changes={"first_serial": first, "last_serial": last, "reason": withdrawal.reason},
        summary=certificate.number,
    )  # fmt: skip
    session.delete(withdrawal)
    session.flush()


@dataclass(frozen=True)
class RunSummary:
    run: LabelRun
    withdrawals: list[LabelWithdrawal]

    @property
    def withdrawn_count(self) -> int:
        """Serials withdrawn, overlapping ranges counted once."""
        spans = sorted((w.first_serial, w.last_serial) for w in self.withdrawals)
        total, reach = 0, 0
        for first, last in spans:
            start = max(first, reach + 1)
            if last >= start:
                total += last - start + 1
                reach = last
        return total

    @property
    def ranges(self) -> list[tuple[int, int]]:
        """The run's sheet ranges: serials in steps of :data:`SHEET_RANGE`."""
        count = self.run.count
        return [(start, min(start + SHEET_RANGE - 1, count)) for start in range(1, count + 1, SHEET_RANGE)]


def runs_of(session: Session, certificate_id: int) -> list[RunSummary]:
    """A certificate's runs, newest first, each with its withdrawn ranges."""
    runs = session.exec(
        select(LabelRun).where(LabelRun.certificate_id == certificate_id).order_by(col(LabelRun.id).desc())
    ).all()
    ids = [pk(r) for r in runs]
    withdrawals: dict[int, list[LabelWithdrawal]] = {i: [] for i in ids}
    if ids:
        for w in session.exec(
            select(LabelWithdrawal)
            .where(col(LabelWithdrawal.run_id).in_(ids))
            .order_by(col(LabelWithdrawal.id))
        ).all():
            withdrawals[w.run_id].append(w)
    return [RunSummary(r, withdrawals[pk(r)]) for r in runs]


def today_valid(session: Session, certificate: Certificate) -> bool:
    """Labels are issued and printed only while the certificate is valid: a label printed now
    promises a valid certificate (a revocation or expiry stops new files at once)."""
    round_ = session.get(SelectionRound, certificate.round_id)
    if round_ is None:
        return False
    standing = certificate_standing(certificate, round_.level, round_.year, current_policy(), today())
    return standing.status is CertificateStatus.VALID


def require_valid(session: Session, certificate: Certificate) -> None:
    if not today_valid(session, certificate):
        raise RunRefused(gettext("Labels are issued only for a certificate that is valid today."))


def check_range(run: LabelRun, first: int, last: int) -> None:
    """Refuse serials ``first..last`` unless they lie within the run, the first not after the last."""
    if not 1 <= first <= last <= run.count:
        raise RunRefused(
            gettext("Choose serials from %(first)s to %(last)s, the first not after the last.",
                    first=1, last=fmt_number(run.count))
        )  # fmt: skip


def printable_ranges(session: Session, run: LabelRun, first: int, last: int) -> list[tuple[int, int]]:
    """Serials ``first..last`` of ``run`` less the withdrawn ones, as ranges in order: a lost
    roll's codes are never written again, by the workspace or the command line."""
    withdrawn = session.exec(select(LabelWithdrawal).where(LabelWithdrawal.run_id == pk(run))).all()
    kept: list[tuple[int, int]] = []
    start = first
    for w_first, w_last in sorted((w.first_serial, w.last_serial) for w in withdrawn):
        if w_last < start or w_first > last:
            continue
        if w_first > start:
            kept.append((start, w_first - 1))
        start = max(start, w_last + 1)
        if start > last:
            break
    if start <= last:
        kept.append((start, last))
    return kept


def find_certificate(session: Session, ref: str, keys: dict[str, str]) -> Certificate:
    """The certificate named by its verification code or its printed number (the command line's way).

    A number shared by several certificates is refused with their codes, so the operator picks one.
    Numbers are matched by verification's one number rule.
    """
    code = parse_code(ref, keys)
    if code is not None:
        found = session.exec(select(Certificate).where(Certificate.verify_code == code)).first()
        if found is not None:
            return found
    matches = find_by_number(session.connection(), ref)
    if len(matches) == 1:
        certificate = session.get(Certificate, matches[0].id)
        assert certificate is not None
        return certificate
    if not matches:
        raise RunRefused(gettext("No certificate has the number or code %(ref)s.", ref=ref))
    raise RunRefused(
        gettext("Several certificates have the number %(ref)s; give one of their codes: %(codes)s",
                ref=ref, codes=", ".join(c.code for c in matches))
    )  # fmt: skip


def issuable(
    session: Session, province: Province | None = None, limit: int = 500
) -> list[tuple[Certificate, str]]:
    """Certificates valid today (those labels may be issued for), with their product's name, newest
    round first; ``province``: only those of that current province (its pre-2025 units included)."""
    query = (
        select(Certificate, Product.name)
        .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .join(Product, col(Product.id) == Certificate.product_id)
        .where(valid_sql(today(), current_policy()))
        .order_by(col(SelectionRound.year).desc(), col(Certificate.id))
        .limit(limit)
    )
    if province is not None:
        query = query.where(col(Certificate.province_id).in_(Provinces.load(session).member_ids(province)))
    return [(cert, name) for cert, name in session.exec(query).all()]
