"""Verdicts today and on a past day (``?as_of=``), from the certificate's dates and history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.clock import today
from catalogue.db import get_engine
from catalogue.registry.certificates import reinstate_certificate, revoke_certificate
from catalogue.registry.models import Certificate, SelectionRound
from catalogue.registry.status import current_policy, standing

EN = {"Accept-Language": "en"}


def _revoke(app: Flask, code: str, on: date, reason: str = "Sản phẩm không còn đạt tiêu chí") -> None:
    with app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        cert = session.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        revoke_certificate(
            session, actor=SYSTEM, certificate=cert, reason=reason, reference="QĐ 99/QĐ-SCT", on=on
        )
        session.commit()


def _reinstate(app: Flask, code: str) -> None:
    with app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        cert = session.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        reinstate_certificate(session, actor=SYSTEM, certificate=cert, reason="Thu hồi nhầm")
        session.commit()


@pytest.fixture
def dated(make_certificate: Callable[..., str]) -> str:
    """Issued 15/03/2024, expiring 14/03/2025 (the decision's own expiry)."""
    return make_certificate(certificate_number="07/GCN-SCT", year=2024, issued_on=date(2024, 3, 15),
                            expires_on=date(2025, 3, 14))  # fmt: skip


def _as_of(client: FlaskClient, code: str, day: str) -> tuple[int, str, dict]:
    page = client.get(f"/v/{code}?as_of={day}", headers=EN)
    api = client.get(f"/api/v1/verify/{code}?as_of={day}").get_json()
    return page.status_code, page.get_data(as_text=True), api


def test_before_issue_it_was_not_yet_certified(seeded_app: Flask, dated: str) -> None:
    status, html, api = _as_of(seeded_app.test_client(), dated, "2024-03-14")
    assert status == 200
    assert "Not yet certified on Mar 14, 2024" in html and "issued later, on Mar 15, 2024" in html
    assert api["as_of"] == {"date": "2024-03-14", "status": "not_yet_issued", "issue_day_unknown": False}


def test_on_the_issue_day_and_on_the_expiry_day_it_was_valid(seeded_app: Flask, dated: str) -> None:
    client = seeded_app.test_client()
    for day, shown in (("2024-03-15", "Mar 15, 2024"), ("2025-03-14", "Mar 14, 2025")):
        status, html, api = _as_of(client, dated, day)
        assert status == 200 and f"Valid on {shown}" in html and 'class="verdict v-ok"' in html
        assert api["as_of"]["status"] == "valid"


def test_the_day_after_expiry_it_was_expired(seeded_app: Flask, dated: str) -> None:
    status, html, api = _as_of(seeded_app.test_client(), dated, "2025-03-15")
    assert "Not valid on Mar 15, 2025" in html and "It had expired on Mar 14, 2025" in html
    assert 'class="verdict v-expired"' in html
    assert api["as_of"]["status"] == "expired" and api["status"] == "expired"


def test_revocation_applies_from_its_day_only(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(certificate_number="11/GCN-SCT", year=2024, issued_on=date(2024, 1, 10),
                            expires_on=date(2099, 1, 9))  # fmt: skip
    _revoke(seeded_app, code, date(2025, 6, 1))
    client = seeded_app.test_client()
    assert _as_of(client, code, "2025-05-31")[2]["as_of"]["status"] == "valid"
    status, html, api = _as_of(client, code, "2025-06-01")
    assert "It was revoked on Jun 1, 2025 because: Sản phẩm không còn đạt tiêu chí" in html
    assert api["as_of"]["status"] == "revoked"
    today_page = client.get(f"/v/{code}", headers=EN).get_data(as_text=True)
    assert "Revoked on Jun 1, 2025" in today_page and 'class="verdict v-revoked"' in today_page
    assert "Because: Sản phẩm không còn đạt tiêu chí (QĐ 99/QĐ-SCT)" in today_page
    data = client.get(f"/api/v1/verify/{code}").get_json()
    assert data["status"] == "revoked" and data["certificate"]["revoked_reference"] == "QĐ 99/QĐ-SCT"


def test_a_revocation_withdrawn_as_an_error_never_applied(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(certificate_number="12/GCN-SCT", year=2024, issued_on=date(2024, 1, 10),
                            expires_on=date(2099, 1, 9))  # fmt: skip
    _revoke(seeded_app, code, date(2025, 6, 1))
    _reinstate(seeded_app, code)
    client = seeded_app.test_client()
    assert _as_of(client, code, "2025-07-01")[2]["as_of"]["status"] == "valid"
    assert client.get(f"/api/v1/verify/{code}").get_json()["status"] == "valid"


def test_revocation_shows_at_once_on_an_already_rendered_page(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(certificate_number="13/GCN-SCT", year=2024, issued_on=date(2024, 2, 1),
                            expires_on=date(2099, 1, 31))  # fmt: skip
    client = seeded_app.test_client()
    assert 'class="verdict v-ok"' in client.get(f"/v/{code}").get_data(as_text=True)
    _revoke(seeded_app, code, date(2025, 1, 2))
    assert 'class="verdict v-revoked"' in client.get(f"/v/{code}").get_data(as_text=True)


def test_only_the_year_known_gives_an_honest_answer(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(year=2023, product="Mật ong kiểm thử")
    client = seeded_app.test_client()
    _, html, api = _as_of(client, code, "2023-05-05")
    assert "Certified in 2023" in html and "cannot tell whether it was already valid" in html
    assert api["as_of"]["issue_day_unknown"] is True
    assert _as_of(client, code, "2022-12-31")[2]["as_of"]["status"] == "not_yet_issued"
    assert _as_of(client, code, "2024-05-05")[2]["as_of"] == {
        "date": "2024-05-05", "status": "valid", "issue_day_unknown": False,
        "expires_on": "2026-12-31", "expiry_basis": "policy",
    }  # fmt: skip


def test_policy_expiry_is_labelled_as_such(seeded_app: Flask, make_certificate: Callable[..., str]) -> None:
    code = make_certificate(certificate_number="20/GCN-SCT", year=2025, issued_on=date(2025, 8, 15))
    html = seeded_app.test_client().get(f"/v/{code}", headers=EN).get_data(as_text=True)
    assert "Aug 15, 2028" in html and "the decision states no expiry; standard validity 3 years" in html
    decided = make_certificate(certificate_number="21/GCN-SCT", year=2025, issued_on=date(2025, 8, 15),
                               expires_on=date(2027, 8, 14), product="Trà kiểm thử")  # fmt: skip
    html = seeded_app.test_client().get(f"/v/{decided}", headers=EN).get_data(as_text=True)
    assert "Aug 14, 2027" in html and "as stated in the decision" in html
    assert "the decision states no expiry" not in html


@pytest.mark.parametrize(
    ("value", "message"),
    [("2025-02-30", "year-month-day"), ("14/03/2025", "year-month-day"), ("yesterday", "year-month-day"),
     ("2999-01-01", "in the future")],
)  # fmt: skip
def test_a_bad_as_of_date_is_a_clear_400(seeded_client: FlaskClient, seeded_codes: list[str],
                                         value: str, message: str) -> None:  # fmt: skip
    page = seeded_client.get(f"/v/{seeded_codes[0]}?as_of={value}", headers=EN)
    assert page.status_code == 400
    assert message in page.get_data(as_text=True)
    assert seeded_client.get(f"/api/v1/verify/{seeded_codes[0]}?as_of={value}").status_code == 400


def test_every_seeded_verdict_matches_its_dates(seeded_app: Flask, seeded_codes: list[str]) -> None:
    client = seeded_app.test_client()
    with seeded_app.app_context(), Session(get_engine()) as session:
        certs = {c.verify_code: (c, r) for c, r in session.exec(
            select(Certificate, SelectionRound).join(SelectionRound)).all()}  # fmt: skip
        policy = current_policy(session)
    seen = set()
    for code in seeded_codes:
        cert, round_ = certs[code]
        expected = standing(
            today(),
            level=round_.level,
            year=round_.year,
            issued_on=cert.issued_on,
            expires_on=cert.expires_on,
            revoked_on=cert.revoked_on,
            policy=policy,
        ).status
        assert client.get(f"/api/v1/verify/{code}").get_json()["status"] == expected.value
        seen.add(expected.value)
    assert seen == {"valid", "expired"}  # the real data holds both
