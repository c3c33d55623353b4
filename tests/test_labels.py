"""Label sheets and QR zips (issue 11, finding 4): never a label for a revoked
certificate; an expired one is marked."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Any

from flask import Flask
from sqlmodel import Session, select

from catalogue.accounts.models import User
from catalogue.db import get_engine
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate, ImportBatch, SelectionRound
from tests.fixtures.workspace import login, make_user, row, xlsx_bytes

EN = {"Accept-Language": "en"}


def _publish_three(app: Flask) -> dict[str, Certificate]:
    """Three Lào Cai 2024 certificates: one revoked, one past its stated expiry, one valid."""
    make_user(app, "laocai@so.gov.vn", "province", "Lào Cai")
    rows = [
        row(1, year="2024", issued="01/03/2024", number="L-REVOKED"),
        row(2, year="2024", issued="01/03/2024", expires="01/03/2025", number="L-EXPIRED"),
        row(3, year="2024", issued="01/03/2024", expires="01/03/2030", number="L-VALID"),
    ]
    with app.test_request_context("/?lang=en"), Session(get_engine(), expire_on_commit=False) as s:
        user = s.exec(select(User).where(User.email == "laocai@so.gov.vn")).one()
        batch, report = importing.stage_batch(s, actor=user, filename="qd.xlsx", data=xlsx_bytes(rows))
        assert batch is not None and report.ok
        publishing.publish_batch(s, actor=user, batch=batch)
        certs = {c.number: c for c in s.exec(select(Certificate).where(Certificate.batch_id == batch.id))}
        revoke_certificate(
            s, actor=user, certificate=certs["L-REVOKED"], reason="Vi phạm", reference="12/QĐ-UBND",
            on=date(2026, 1, 5),
        )  # fmt: skip
        s.commit()
        return certs


def test_round_sheet_leaves_out_revoked_and_marks_expired(seeded_app: Flask) -> None:
    certs = _publish_three(seeded_app)
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        slug = s.get(SelectionRound, certs["L-VALID"].round_id).slug  # type: ignore[union-attr]
    client = seeded_app.test_client()
    login(client, "laocai@so.gov.vn")
    sheet = client.get(f"/labels/rounds/{slug}", headers=EN).get_data(as_text=True)
    assert certs["L-VALID"].verify_code in sheet and certs["L-EXPIRED"].verify_code in sheet
    assert certs["L-REVOKED"].verify_code not in sheet
    assert "1 revoked certificate has no label" in sheet
    assert "EXPIRED on" in sheet and sheet.count("EXPIRED on") == 1
    assert "Provincial · Lào Cai · 2024" in sheet  # named as people say it, not by slug
    single = client.get(f"/labels/certificates/{certs['L-REVOKED'].id}", headers=EN).get_data(as_text=True)
    assert certs["L-REVOKED"].verify_code not in single and "revoked" in single


def test_a_large_rounds_labels_come_a_page_at_a_time(seeded_app: Flask, monkeypatch: Any) -> None:
    """However large a round, one request renders a bounded number of labels (QR codes)."""
    from catalogue.verification import labels

    certs = _publish_three(seeded_app)  # two printable labels, one revoked
    monkeypatch.setattr(labels, "LABELS_PER_PAGE", 1)
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        slug = s.get(SelectionRound, certs["L-VALID"].round_id).slug  # type: ignore[union-attr]
    client = seeded_app.test_client()
    login(client, "laocai@so.gov.vn")
    pages = [client.get(f"/labels/rounds/{slug}?page={n}", headers=EN).get_data(as_text=True) for n in (1, 2)]
    printable = [certs["L-VALID"].verify_code, certs["L-EXPIRED"].verify_code]
    assert [sum(code in page for code in printable) for page in pages] == [1, 1]  # one label a page
    assert all(code in "".join(pages) for code in printable)  # together: every label
    assert (
        "Labels 1–1 of 2" in pages[0]
        and "Page 1 of 2" in pages[0]
        and f"/labels/rounds/{slug}?page=2" in pages[0]
    )
    assert "Labels 2–2 of 2" in pages[1]
    assert "1 revoked certificate has no label" in pages[1]
    last = client.get(f"/labels/rounds/{slug}?page=99", headers=EN).get_data(as_text=True)
    assert "Labels 2–2 of 2" in last  # a page past the end is the last page


def test_batch_qr_zip_leaves_out_revoked_and_marks_expired(seeded_app: Flask) -> None:
    certs = _publish_three(seeded_app)
    client = seeded_app.test_client()
    login(client, "laocai@so.gov.vn")
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        batch_id = s.exec(select(ImportBatch.id)).one()
    response = client.get(f"/admin/imports/{batch_id}/qr.zip", headers=EN)
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    pngs = [n for n in names if n.endswith(".png")]
    assert len(pngs) == 2
    assert not any(certs["L-REVOKED"].verify_code in n for n in names)
    expired = [n for n in pngs if certs["L-EXPIRED"].verify_code in n]
    assert expired and expired[0].startswith("HET-HIEU-LUC-")
    valid = [n for n in pngs if certs["L-VALID"].verify_code in n]
    assert len(valid) == 1 and not valid[0].startswith("HET-HIEU-LUC-")
    note = zipfile.ZipFile(io.BytesIO(response.data)).read("KHONG-IN-thu-hoi.txt").decode()
    assert "L-REVOKED" in note
