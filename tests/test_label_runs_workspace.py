"""The officials' label-run pages: issue a run, download its codes and sheets, withdraw labels.

Jobs run inline in tests, so a run's CSV is ready by the time the job page opens.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from importlib.util import find_spec
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import Session, col, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.audit.models import AuditEntry
from catalogue.db import get_engine
from catalogue.jobs import service as jobs
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate
from catalogue.verification.models import LabelRun, LabelWithdrawal
from catalogue.vocab import Level
from tests.fixtures.workspace import post, signed_in

VALID = {"year": 2025, "issued_on": date(2025, 8, 15), "expires_on": date(2028, 8, 14)}
_JOB = re.compile(r"/admin/jobs/(\d+)$")


def _english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _official(app: Flask, email: str, province: str | None = "Lào Cai") -> FlaskClient:
    role = "province" if province else "ministry"
    return _english(signed_in(app, email, role, province))


def _cert_id(app: Flask, code: str) -> int:
    with app.app_context(), Session(get_engine()) as s:
        cert = s.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        return int(cert.id)  # type: ignore[arg-type]


def _runs(app: Flask, cert_id: int) -> list[LabelRun]:
    with app.app_context(), Session(get_engine()) as s:
        return list(s.exec(select(LabelRun).where(LabelRun.certificate_id == cert_id)).all())


def _issue(client: FlaskClient, cert_id: int, count: Any, note: str = "") -> Any:
    path = f"/admin/certificates/{cert_id}/labels"
    return post(client, path, {"count": count, "note": note}, token_from="/admin/")


def _job_id(response: Any) -> int:
    assert response.status_code == 302, response.status_code
    match = _JOB.search(response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _csv_rows(client: FlaskClient, job_id: int) -> list[dict[str, str]]:
    page = client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert "Label codes ready" in page and f"/admin/jobs/{job_id}/download" in page
    download = client.get(f"/admin/jobs/{job_id}/download")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))


@pytest.fixture
def valid_cert(seeded_app: Flask, make_certificate: Callable[..., str]) -> int:
    return _cert_id(seeded_app, make_certificate(certificate_number="NHAN-01/GCN-SCT", **VALID))


def test_an_official_issues_a_run_and_downloads_one_working_code_per_package(
    seeded_app: Flask, valid_cert: int
) -> None:
    client = _official(seeded_app, "lc.labels@so.gov.vn")
    certificate_page = client.get(f"/admin/certificates/{valid_cert}").get_data(as_text=True)
    assert "Label runs (one code per package)" in certificate_page

    job_id = _job_id(_issue(client, valid_cert, 12, note="Đơn hàng tháng 6"))
    rows = _csv_rows(client, job_id)
    assert [int(r["serial"]) for r in rows] == list(range(1, 13))
    codes = [r["code"] for r in rows]
    assert len(set(codes)) == 12
    assert all(r["url"].endswith(f"/v/{r['code']}") for r in rows)
    for code in codes:
        assert client.get(f"/v/{code}").status_code == 200, code

    (run,) = _runs(seeded_app, valid_cert)
    assert run.count == 12 and run.note == "Đơn hàng tháng 6"
    with seeded_app.app_context(), Session(get_engine()) as s:
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "issue_labels")).all()
        assert [a.entity_id for a in audited] == [run.id]
    # The pages show serials and ranges, never a code: only the downloaded file carries them.
    listing = client.get(f"/admin/certificates/{valid_cert}/labels").get_data(as_text=True)
    run_page = client.get(f"/admin/label-runs/{run.id}").get_data(as_text=True)
    assert f"Run #{run.id}" in listing and "Đơn hàng tháng 6" in listing
    assert "1–12" in run_page and "Label sheets (PDF)" in run_page
    assert not any(code in listing or code in run_page for code in codes)


def test_another_office_may_not_issue_and_nothing_is_written(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    other = _cert_id(seeded_app, make_certificate(
        product="Mắm thử Đà Nẵng", producer="HTX Thử Đà Nẵng", province="Đà Nẵng",
        certificate_number="DN-NHAN/GCN-SCT", **VALID,
    ))  # fmt: skip
    national = _cert_id(seeded_app, make_certificate(
        product="Chè quốc gia thử", producer="HTX Quốc gia thử", level=Level.QUOC_GIA,
        certificate_number="QG-NHAN/BCT", **VALID,
    ))  # fmt: skip
    client = _official(seeded_app, "lc.other@so.gov.vn")
    for cert_id in (other, national):
        assert client.get(f"/admin/certificates/{cert_id}/labels").status_code == 403
        assert _issue(client, cert_id, 10).status_code == 403
        assert _runs(seeded_app, cert_id) == []
    ministry = _official(seeded_app, "cuc.labels@moit.gov.vn", province=None)
    assert ministry.get(f"/admin/certificates/{other}/labels").status_code == 403
    assert _job_id(_issue(ministry, national, 3))  # the national certificate is the ministry's


def test_a_certificate_not_valid_today_gets_no_run(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    expired = _cert_id(seeded_app, make_certificate(
        product="Chè hết hạn thử", producer="HTX Hết hạn thử", certificate_number="HH-NHAN/GCN-SCT",
        year=2022, issued_on=date(2022, 3, 1), expires_on=date(2025, 3, 1),
    ))  # fmt: skip
    revoked = _cert_id(seeded_app, make_certificate(
        product="Chè thu hồi thử", producer="HTX Thu hồi thử", certificate_number="TH-NHAN/GCN-SCT", **VALID,
    ))  # fmt: skip
    with seeded_app.test_request_context("/"), Session(get_engine()) as s:
        revoke_certificate(s, actor=SYSTEM, certificate=s.get_one(Certificate, revoked),
                           reason="Không còn đạt", reference="9/QĐ-SCT", on=date(2026, 1, 5))  # fmt: skip
        s.commit()
    client = _official(seeded_app, "lc.expired@so.gov.vn")
    for cert_id in (expired, revoked):
        page = client.get(f"/admin/certificates/{cert_id}/labels").get_data(as_text=True)
        assert "Issue the codes" not in page
        refused = _issue(client, cert_id, 10)
        assert refused.status_code == 200
        assert "Labels are issued only for a certificate that is valid today." in refused.get_data(
            as_text=True
        )
        assert _runs(seeded_app, cert_id) == []


@pytest.mark.parametrize("count", [0, 1_000_001])
def test_a_count_outside_one_to_a_million_is_refused(seeded_app: Flask, valid_cert: int, count: int) -> None:
    client = _official(seeded_app, "lc.count@so.gov.vn")
    refused = _issue(client, valid_cert, count)
    assert refused.status_code == 200
    assert "A label run holds from 1 to 1,000,000 codes." in refused.get_data(as_text=True)
    assert _runs(seeded_app, valid_cert) == []


def _certificate_row(app: Flask, cert_id: int) -> dict[str, Any]:
    with app.app_context(), get_engine().connect() as conn:
        return dict(
            conn.execute(text("SELECT * FROM certificate WHERE id = :id"), {"id": cert_id}).mappings().one()
        )


def test_withdrawing_serials_leaves_the_certificate_exactly_as_it_was(
    seeded_app: Flask, valid_cert: int
) -> None:
    client = _official(seeded_app, "lc.withdraw@so.gov.vn")
    codes = [r["code"] for r in _csv_rows(client, _job_id(_issue(client, valid_cert, 12)))]
    (run,) = _runs(seeded_app, valid_cert)
    before = _certificate_row(seeded_app, valid_cert)
    page = f"/admin/label-runs/{run.id}"
    form = {"first": 3, "last": 5, "reason": "Mất một cuộn nhãn"}
    unconfirmed = post(client, page, form, token_from=page)
    assert unconfirmed.status_code == 200
    done = post(client, page, {**form, "confirm": "y"}, token_from=page)
    assert done.status_code == 302

    with seeded_app.app_context(), Session(get_engine()) as s:
        (withdrawal,) = s.exec(select(LabelWithdrawal).where(LabelWithdrawal.run_id == run.id)).all()
        assert (withdrawal.first_serial, withdrawal.last_serial) == (3, 5)
        assert withdrawal.reason == "Mất một cuộn nhãn"
        audited = s.exec(select(AuditEntry).where(col(AuditEntry.action) == "withdraw_labels")).all()
        assert [a.entity_id for a in audited] == [run.id]
    assert _certificate_row(seeded_app, valid_cert) == before
    shown = client.get(page).get_data(as_text=True)
    assert "3–5" in shown and "Mất một cuộn nhãn" in shown
    assert "Label withdrawn" in client.get(f"/v/{codes[3]}").get_data(as_text=True)  # serial 4
    assert "Label withdrawn" not in client.get(f"/v/{codes[1]}").get_data(as_text=True)

    # The lost serials are left out of a new download: they must never be printed again.
    rows = _csv_rows(client, _job_id(post(client, f"{page}/csv", token_from=page)))
    assert [int(r["serial"]) for r in rows] == [1, 2, *range(6, 13)]

    # A withdrawal made by mistake is undone (audited): its serials read the certificate again.
    undo = post(client, f"{page}/withdrawals/{withdrawal.id}/undo", token_from=page)
    assert undo.status_code == 302
    assert "read their certificate" in client.get(page).get_data(as_text=True)
    assert 'class="verdict v-ok"' in client.get(f"/v/{codes[3]}").get_data(as_text=True)
    with seeded_app.app_context(), Session(get_engine()) as s:
        assert s.exec(select(LabelWithdrawal)).all() == []
        undone = s.exec(select(AuditEntry).where(col(AuditEntry.action) == "undo_label_withdrawal")).one()
        assert undone.changes == {"first_serial": 3, "last_serial": 5, "reason": "Mất một cuộn nhãn"}
    assert _certificate_row(seeded_app, valid_cert) == before
    stranger = _official(seeded_app, "dn.undo@so.gov.vn", province="Đà Nẵng")
    assert post(stranger, f"{page}/withdrawals/{withdrawal.id}/undo", token_from="/admin/").status_code == 403


@pytest.mark.skipif(
    find_spec("catalogue.label_runs.sheets") is None,
    reason="catalogue/label_runs/sheets.py (write_sheets) is not written yet",
)
def test_the_sheets_job_makes_a_pdf_of_one_range(seeded_app: Flask, valid_cert: int) -> None:
    client = _official(seeded_app, "lc.sheets@so.gov.vn")
    _job_id(_issue(client, valid_cert, 30))
    (run,) = _runs(seeded_app, valid_cert)
    page = f"/admin/label-runs/{run.id}"
    job_id = _job_id(post(client, f"{page}/sheets", {"first": 1, "last": 30}, token_from=page))
    assert "Label sheets ready" in client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    pdf = client.get(f"/admin/jobs/{job_id}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    # A range longer than one sheet batch is not accepted.
    assert post(client, f"{page}/sheets", {"first": 1, "last": 5001}, token_from=page).status_code == 400


def test_label_jobs_and_their_downloads_stay_with_the_office(seeded_app: Flask, valid_cert: int) -> None:
    owner = _official(seeded_app, "lc.owner@so.gov.vn")
    job_id = _job_id(_issue(owner, valid_cert, 5))
    (run,) = _runs(seeded_app, valid_cert)
    stranger = _official(seeded_app, "dn.labels@so.gov.vn", province="Đà Nẵng")
    assert stranger.get(f"/admin/jobs/{job_id}").status_code in (403, 404)
    assert stranger.get(f"/admin/jobs/{job_id}/download").status_code in (403, 404)
    assert stranger.get(f"/admin/label-runs/{run.id}").status_code == 403
    page = f"/admin/label-runs/{run.id}"
    assert post(stranger, f"{page}/csv", token_from="/admin/").status_code == 403
    withdraw = {"first": 1, "last": 5, "reason": "x", "confirm": "y"}
    assert post(stranger, page, withdraw, token_from="/admin/").status_code == 403
    with seeded_app.app_context(), Session(get_engine()) as s:
        assert s.exec(select(LabelWithdrawal)).all() == []


def test_a_label_download_is_kept_a_week_then_made_again_from_the_run(
    seeded_app: Flask, valid_cert: int, clock: Any
) -> None:
    client = _official(seeded_app, "lc.prune@so.gov.vn")
    job_id = _job_id(_issue(client, valid_cert, 4))
    assert len(_csv_rows(client, job_id)) == 4
    clock.shift(timedelta(days=8))
    with seeded_app.app_context(), Session(get_engine()) as s:
        assert jobs.prune_downloads(s) == 1
    gone = client.get(f"/admin/jobs/{job_id}/download")
    assert gone.status_code == 410
    assert "make it again from the label run" in gone.get_data(as_text=True)


def test_the_ministry_sees_the_batch_of_a_province_yet_not_its_label_codes(
    seeded_app: Flask, valid_cert: int
) -> None:
    """Label files carry printable codes: only the office that issues the certificate's labels opens
    their jobs, though the ministry may open every province's other jobs."""
    job_id = _job_id(_issue(_official(seeded_app, "lc.codes@so.gov.vn"), valid_cert, 5))
    ministry = _official(seeded_app, "cuc.codes@moit.gov.vn", province=None)
    assert ministry.get(f"/admin/jobs/{job_id}").status_code == 403
    assert ministry.get(f"/admin/jobs/{job_id}/download").status_code == 403


def test_no_label_file_is_made_once_the_certificate_is_revoked(seeded_app: Flask, valid_cert: int) -> None:
    from catalogue.accounts.permissions import SYSTEM
    from catalogue.jobs.models import Job
    from catalogue.registry.certificates import revoke_certificate

    client = _official(seeded_app, "lc.revoked@so.gov.vn")
    _job_id(_issue(client, valid_cert, 5))
    (run,) = _runs(seeded_app, valid_cert)
    with seeded_app.test_request_context(), Session(get_engine()) as s:
        cert = s.get(Certificate, valid_cert)
        assert cert is not None
        revoke_certificate(s, actor=SYSTEM, certificate=cert, reason="Vi phạm", reference="QĐ 1")
        s.commit()
    with seeded_app.app_context(), Session(get_engine()) as s:
        jobs_before = len(s.exec(select(Job)).all())
    page = client.get(f"/admin/label-runs/{run.id}").get_data(as_text=True)
    assert "no more label files are made" in page and "Label sheets (PDF)" not in page
    refused = post(client, f"/admin/label-runs/{run.id}/csv", token_from="/admin/")
    assert refused.status_code == 302 and refused.headers["Location"].endswith(f"/admin/label-runs/{run.id}")
    assert "valid today" in client.get(refused.headers["Location"]).get_data(as_text=True)
    with seeded_app.app_context(), Session(get_engine()) as s:
        assert len(s.exec(select(Job)).all()) == jobs_before
