"""Changes to one certificate: correct its printed facts, revoke or reinstate it, add one to a product.

Each checks :mod:`~catalogue.accounts.permissions` first (the certificate's
issuing office decides), records a certificate event and an audit entry
(before/after) and a search-outbox row in the caller's transaction, and
flushes; the caller commits. A refusal is a
:class:`~catalogue.registry.records.PublishError` for the official.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from catalogue.accounts.permissions import Actor, audit_actor, can, require
from catalogue.audit import services as audit
from catalogue.clock import today, utcnow
from catalogue.db import pk
from catalogue.i18n import fmt_date
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.matching import certificate_clash
from catalogue.registry.models import Certificate, CertificateEvent, Producer, Product, SelectionRound
from catalogue.registry.records import PublishError, upsert_record, write_context
from catalogue.registry.rows import RecordInput
from catalogue.text import nfc
from catalogue.vocab import ChangeKind, Level


def require_certificate(
    session: Session, actor: Actor, action: str, certificate: Certificate
) -> SelectionRound:
    """Refuse unless ``actor`` may do ``action`` to ``certificate`` (its level's office); its round."""
    round_ = session.get(SelectionRound, certificate.round_id)
    assert round_ is not None
    require(actor, action, **_owner(session, certificate, round_))
    return round_


def _owner(session: Session, certificate: Certificate, round_: SelectionRound) -> dict[str, Any]:
    """What decides who may change a certificate: its province as printed and its level."""
    province = session.get(Province, certificate.province_id) if certificate.province_id else None
    return {"province": province, "level": round_.level}


def may(session: Session, actor: Actor, action: str, certificate: Certificate) -> bool:
    """Whether ``actor`` may do ``action`` to ``certificate`` (the rule of :func:`require_certificate`)."""
    round_ = session.get(SelectionRound, certificate.round_id)
    return round_ is not None and can(actor, action, **_owner(session, certificate, round_))


def may_revoke(session: Session, actor: Actor, certificate: Certificate) -> bool:
    """Whether ``actor`` may revoke or reinstate ``certificate`` (the rule the two functions below apply)."""
    return may(session, actor, "revoke", certificate)


def effective_date_problem(
    session: Session, certificate: Certificate, *, revoking: bool, on: date
) -> str | None:
    """Why a revocation (or its withdrawal) cannot take effect on ``on``; None when it can.

    It takes effect when decided, so never in the future; a revocation not before the
    certificate existed (its issue date, else 1 January of its year of selection), a
    withdrawal not before the revocation. A date picker's mistyped year (0202) lands here.
    """
    if on > today():
        return gettext(
            "%(day)s is in the future: a decision takes effect when it is taken.", day=fmt_date(on)
        )
    if not revoking:
        if certificate.revoked_on is not None and on < certificate.revoked_on:
            return gettext(
                "%(day)s is before the revocation (%(revoked)s) it withdraws.",
                day=fmt_date(on), revoked=fmt_date(certificate.revoked_on),
            )  # fmt: skip
        return None
    round_ = session.get(SelectionRound, certificate.round_id)
    start = certificate.issued_on or (date(round_.year, 1, 1) if round_ is not None else None)
    if start is not None and on < start:
        return gettext(
            "%(day)s is before the certificate was issued (%(start)s).",
            day=fmt_date(on),
            start=fmt_date(start),
        )
    return None


CORRECTABLE = ("number", "issued_on", "expires_on", "prize", "source")


def correct_certificate(
    session: Session,
    *,
    actor: Actor,
    certificate: Certificate,
    values: Mapping[str, Any],
    reason: str | None = None,
) -> dict[str, list[Any]]:
    """Correct a certificate's printed facts; recorded as a "corrected" event with before/after."""
    round_ = require_certificate(session, actor, "correct_certificate", certificate)
    new: dict[str, Any] = {
        k: (nfc(v) or None if isinstance(v, str) else v) for k, v in values.items() if k in CORRECTABLE
    }
    if new.get("number") and new["number"] != certificate.number:
        clash = certificate_clash(
            session, Provinces.load(session), number=new["number"], level=Level(round_.level),
            year=round_.year, province_id=round_.province_id or certificate.province_id,
            exclude_id=certificate.id,
        )  # fmt: skip
        if clash is not None:
            raise PublishError(
                gettext("Another certificate of this level already has the number %(n)s.", n=new["number"])
            )
    issued = new.get("issued_on", certificate.issued_on)
    expiry = new.get("expires_on", certificate.expires_on)
    if ("expires_on" in new or "issued_on" in new) and issued and expiry and expiry <= issued:
        raise PublishError(gettext("The expiry date must come after the issue date."))
    before = {k: getattr(certificate, k) for k in new}
    changes = audit.diff(before, new)
    if not changes:
        return {}
    for key in changes:
        setattr(certificate, key, new[key])
    certificate.updated_at = utcnow()
    session.add(certificate)
    session.add(
        CertificateEvent(
            certificate_id=pk(certificate),
            kind="corrected",
            actor_id=_actor_id(actor),
            reason=nfc(reason) or None,
            changes=changes,
        )
    )
    audit.record(
        session,
        **audit_actor(actor),
        action="correct",
        entity_type="certificate",
        entity_id=certificate.id,
        changes=changes,
        summary=certificate.number,
        province_id=Provinces.load(session).current_id(certificate.province_id),
    )
    audit.enqueue_reindex(
        session, certificate.product_id, kind=ChangeKind.CORRECTED, certificate_id=certificate.id
    )
    session.flush()
    return changes


def _actor_id(actor: Actor) -> int | None:
    return getattr(actor, "id", None)


def _swap_revocation(
    session: Session, certificate: Certificate, *, revoked: bool, values: dict[str, Any]
) -> None:
    """Write the revocation fields only if the row is still as read (revoked or not).

    Two officials revoking (or reinstating) the same certificate at once: on PostgreSQL the
    second UPDATE waits for the first and then matches no row, so it is refused instead of
    writing a second event; the object is left as stored, with nothing for the flush to write.
    """
    state = col(Certificate.revoked_on).is_not(None) if revoked else col(Certificate.revoked_on).is_(None)
    written = session.exec(
        update(Certificate)
        .where(col(Certificate.id) == pk(certificate), state)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if written.rowcount != 1:
        raise PublishError(
            gettext("This certificate is not revoked.")
            if revoked
            else gettext("This certificate is already revoked.")
        )
    for key, value in values.items():
        set_committed_value(certificate, key, value)


def revoke_certificate(
    session: Session,
    *,
    actor: Actor,
    certificate: Certificate,
    reason: str,
    reference: str,
    on: date | None = None,
    decision_id: int | None = None,
) -> CertificateEvent:
    """Revoke with a reason and the reference of the revoking decision; shown on every page at once.

    ``decision_id`` names the decision record when many certificates are revoked together
    (:mod:`catalogue.decisions`); the rule for each certificate is this one.
    """
    require_certificate(session, actor, "revoke", certificate)
    reason, reference = nfc(reason), nfc(reference)
    if not reason or not reference:
        raise PublishError(gettext("Give both the reason and the reference of the revocation decision."))
    if certificate.revoked_on is not None:
        raise PublishError(gettext("This certificate is already revoked."))
    on = on or today()
    problem = effective_date_problem(session, certificate, revoking=True, on=on)
    if problem:
        raise PublishError(problem)
    before = {
        "revoked_on": None,
        "revoked_reason": certificate.revoked_reason,
        "revoked_reference": certificate.revoked_reference,
    }
    _swap_revocation(
        session,
        certificate,
        revoked=False,
        values={"revoked_on": on, "revoked_reason": reason, "revoked_reference": reference[:200],
                "updated_at": utcnow()},
    )  # fmt: skip
    event = CertificateEvent(
        certificate_id=pk(certificate),
        kind="revoked",
        effective_on=on,
        actor_id=_actor_id(actor),
        reason=reason,
        reference=reference[:200],
        decision_id=decision_id,
    )
    session.add(event)
    audit.record(
        session,
        **audit_actor(actor),
        action="revoke",
        entity_type="certificate",
        entity_id=certificate.id,
        summary=f"{certificate.number or ''} — {reason}"[:500],
        changes=audit.diff(
            before, {"revoked_on": on, "revoked_reason": reason, "revoked_reference": reference}
        ),
        province_id=Provinces.load(session).current_id(certificate.province_id),
    )
    audit.enqueue_reindex(
        session, certificate.product_id, kind=ChangeKind.REVOKED, certificate_id=certificate.id
    )
    session.flush()
    return event


def reinstate_certificate(
    session: Session,
    *,
    actor: Actor,
    certificate: Certificate,
    reason: str,
    reference: str | None = None,
    on: date | None = None,
    decision_id: int | None = None,
) -> CertificateEvent:
    """Undo a revocation (made in error, or withdrawn by a decision: its ``reference``, ``on`` and
    ``decision_id``); the history keeps both events."""
    require_certificate(session, actor, "revoke", certificate)
    if certificate.revoked_on is None:
        raise PublishError(gettext("This certificate is not revoked."))
    if not nfc(reason):
        raise PublishError(gettext("Say why the revocation is withdrawn."))
    on = on or today()
    problem = effective_date_problem(session, certificate, revoking=False, on=on)
    if problem:
        raise PublishError(problem)
    before = {
        "revoked_on": certificate.revoked_on,
        "revoked_reason": certificate.revoked_reason,
        "revoked_reference": certificate.revoked_reference,
    }
    _swap_revocation(
        session,
        certificate,
        revoked=True,
        values={"revoked_on": None, "revoked_reason": None, "revoked_reference": None},
    )
    event = CertificateEvent(
        certificate_id=pk(certificate),
        kind="reinstated",
        effective_on=on,
        actor_id=_actor_id(actor),
        reason=nfc(reason),
        reference=nfc(reference or "")[:200] or None,
        decision_id=decision_id,
    )
    session.add(event)
    audit.record(
        session,
        **audit_actor(actor),
        action="reinstate",
        entity_type="certificate",
        entity_id=certificate.id,
        summary=nfc(reason)[:500],
        changes=audit.diff(before, dict.fromkeys(before)),
        province_id=Provinces.load(session).current_id(certificate.province_id),
    )
    audit.enqueue_reindex(
        session, certificate.product_id, kind=ChangeKind.REINSTATED, certificate_id=certificate.id
    )
    session.flush()
    return event


def add_certificate(
    session: Session,
    *,
    actor: Actor,
    product: Product,
    level: Level,
    year: int,
    number: str,
    region: Any = None,
    issued_on: date | None = None,
    expires_on: date | None = None,
    decision_number: str | None = None,
    decision_date: date | None = None,
    config: Mapping[str, Any] | None = None,
) -> Certificate:
    """A new certificate for an existing product, through the same write path as imports."""
    province = session.get(Province, product.province_id) if product.province_id else None
    require(actor, "publish", province=province, level=level)
    if province is None:
        raise PublishError(gettext("Give the product a province first."))
    absent = level.absence(issued_on, year)
    if absent:
        raise PublishError(absent)
    if level.has_region and region is None:
        raise PublishError(gettext("A regional certificate needs its region."))
    producer = session.get(Producer, product.producer_id) if product.producer_id else None
    exists = certificate_clash(
        session, Provinces.load(session), number=number, level=level, year=year, province_id=province.id
    )
    if exists is not None:
        raise PublishError(
            gettext("Another certificate of this level already has the number %(n)s.", n=nfc(number))
        )
    rec = RecordInput(
        product=product.name,
        province=province,
        level=level,
        year=year,
        producer=producer.name if producer else None,
        locality=product.locality,
        region=region if level.has_region else None,
        certificate_number=nfc(number),
        issued_on=issued_on,
        expires_on=expires_on,
        decision_number=nfc(decision_number) or None,
        decision_date=decision_date,
        group=None,
        product_id=product.id,
    )
    outcome = upsert_record(session, rec, write_context(session, actor, None, config))
    return outcome.certificate
