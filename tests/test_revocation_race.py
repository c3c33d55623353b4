"""Two officials revoking (or reinstating) the same certificate at once: one wins, the other is refused.

Each read the certificate before the other wrote; the one rule for a certificate
(:mod:`catalogue.registry.certificates`) writes only if the row is still as read, so a
decision applied twice at once never records a second revocation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from sqlmodel import Session, func, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine
from catalogue.registry import certificates
from catalogue.registry.models import Certificate, CertificateEvent
from catalogue.registry.records import PublishError


def _certificate(session: Session, code: str) -> Certificate:
    return session.exec(select(Certificate).where(Certificate.verify_code == code)).one()


def _events(session: Session, certificate_id: int, kind: str) -> int:
    return session.exec(
        select(func.count())
        .select_from(CertificateEvent)
        .where(CertificateEvent.certificate_id == certificate_id, CertificateEvent.kind == kind)
    ).one()


@pytest.mark.parametrize("kind", ["revoked", "reinstated"])
def test_the_second_of_two_simultaneous_changes_is_refused(
    seeded_app: Flask, make_certificate: Callable[..., str], kind: str
) -> None:
    code = make_certificate(certificate_number="RACE-1/GCN", year=2024, issued_on=date(2024, 5, 2))
    with seeded_app.test_request_context("/?lang=en"):
        engine = get_engine()
        if kind == "reinstated":
            with Session(engine) as s:
                certificates.revoke_certificate(
                    s, actor=SYSTEM, certificate=_certificate(s, code), reason="Sai", reference="1/QĐ"
                )
                s.commit()

        def change(s: Session, cert: Certificate) -> None:
            if kind == "revoked":
                certificates.revoke_certificate(
                    s, actor=SYSTEM, certificate=cert, reason="Vi phạm", reference="9/QĐ"
                )
            else:
                certificates.reinstate_certificate(
                    s, actor=SYSTEM, certificate=cert, reason="Nhầm", reference="10/QĐ"
                )

        with Session(engine) as first, Session(engine) as second:
            mine, theirs = _certificate(first, code), _certificate(second, code)  # both read it as it is
            change(first, mine)
            first.commit()
            with pytest.raises(PublishError):
                change(second, theirs)
            second.rollback()
        with Session(engine) as s:
            cert = _certificate(s, code)
            assert _events(s, int(cert.id or 0), kind) == 1
            assert (cert.revoked_on is not None) == (kind == "revoked")


@pytest.mark.parametrize(
    "on, message",
    [
        (date(202, 1, 1), "is before the certificate was issued (May 2, 2024)"),  # a date picker's typo
        (date(2024, 5, 1), "is before the certificate was issued"),
        (date(2026, 6, 16), "is in the future"),  # the suite's clock stands on 15/06/2026
    ],
)
def test_a_revocation_cannot_take_effect_before_the_certificate_or_in_the_future(
    seeded_app: Flask, make_certificate: Callable[..., str], on: date, message: str
) -> None:
    code = make_certificate(certificate_number="DATE-1/GCN", year=2024, issued_on=date(2024, 5, 2))
    with seeded_app.test_request_context("/?lang=en"), Session(get_engine()) as s:
        cert = _certificate(s, code)
        with pytest.raises(PublishError, match=re.escape(message)):
            certificates.revoke_certificate(
                s, actor=SYSTEM, certificate=cert, reason="x", reference="1/QĐ", on=on
            )
        s.rollback()
        assert _certificate(s, code).revoked_on is None
        certificates.revoke_certificate(
            s, actor=SYSTEM, certificate=cert, reason="x", reference="1/QĐ", on=date(2026, 6, 15)
        )
        with pytest.raises(PublishError, match="before the revocation"):
            certificates.reinstate_certificate(
                s, actor=SYSTEM, certificate=cert, reason="y", on=date(2026, 6, 1)
            )
