"""Revocation by decision (issue 15, item 4): many certificates revoked or reinstated at once under
one decision number, date and reason, after a dry run that writes nothing, all or nothing."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import text
from sqlmodel import Session, col, select

from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.db import get_engine
from catalogue.decisions.models import RevocationDecision
from catalogue.registry.models import Certificate, CertificateEvent
from catalogue.vocab import Level
from tests.fixtures.workspace import login, make_user, post

NEW = "/admin/decisions/new"
#: Every table a decision writes.
TABLES = ("certificate", "certificate_event", "audit_entry", "revocation_decision", "search_outbox")
REASON = "Cơ sở ngừng sản xuất sản phẩm"


def _db(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def snapshot(app: Flask) -> dict[tuple[str, int], dict[str, Any]]:
    """Every row a decision could write, column by column."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    with app.app_context(), get_engine().connect() as conn:
        for table in TABLES:
            for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings():
                if table != "audit_entry" or r["action"] != "sign_in":  # signing in is not a change
                    out[(table, r["id"])] = dict(r)
    return out


def _cert(n: int, **over: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "product": f"Chè Shan tuyết quyết định {n}", "producer": f"HTX Quyết định {n}",
        "certificate_number": f"QD-{n:02d}/GCN-SCT", "year": 2025, "issued_on": date(2025, 8, 15),
        "expires_on": date(2028, 8, 14),
    }  # fmt: skip
    facts.update(over)
    return facts


@pytest.fixture
def world(seeded_app: Flask, make_certificate: Callable[..., str]) -> dict[str, Any]:
    """Twenty of Lào Cai's provincial certificates, one of Đà Nẵng's and one national one."""
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    make_user(seeded_app, "danang@so.gov.vn", "province", "Đà Nẵng")
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    codes = [make_certificate(**_cert(n)) for n in range(1, 21)]
    other = make_certificate(**_cert(21, province="Đà Nẵng", certificate_number="DN-QD-21/GCN-SCT"))
    national = make_certificate(**_cert(22, level=Level.QUOC_GIA, certificate_number="QG-QD-22/BCT"))
    with _db(seeded_app) as s:
        by_code = {c.verify_code: c for c in s.exec(select(Certificate)).all()}
    return {
        "codes": codes,
        "ids": [by_code[c].id for c in codes],
        "numbers": [by_code[c].number for c in codes],
        "other": by_code[other],
        "national": by_code[national],
    }


def client_for(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def dry_run(client: FlaskClient, **fields: Any) -> Any:
    data = {"action": "revoke", "number": "88/QĐ-SCT", "decided_on": "2026-06-01", "reason": REASON}
    data.update(fields)
    return post(client, NEW + "?lang=en", data, token_from=NEW, content_type="multipart/form-data")


_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def confirm_fields(page: str) -> dict[str, str]:
    """The confirmation form's hidden fields, as the browser would send them back."""
    form = page.split('action="/admin/decisions/apply"', 1)
    assert len(form) == 2, "no confirmation form on the dry run page"
    body = form[1].split("</form>", 1)[0]
    fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(body)}
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
    assert token
    return {**fields, "csrf_token": token.group(1)}


def apply(client: FlaskClient, fields: dict[str, str]) -> Any:
    return client.post("/admin/decisions/apply?lang=en", data=fields)


def _rows(app: Flask, ids: list[int]) -> list[Certificate]:
    with _db(app) as s:
        return list(s.exec(select(Certificate).where(col(Certificate.id).in_(ids))).all())


# ----------------------------------------------------------------------------- the whole path


def test_twenty_certificates_revoked_under_one_decision(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    before = snapshot(seeded_app)
    page = dry_run(client, numbers="\n".join(world["numbers"]))
    text_ = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ready to apply" in text_ and "20 certificates will be revoked under decision 88/QĐ-SCT" in text_
    assert "Chè Shan tuyết quyết định 17" in text_ and "HTX Quyết định 17" in text_
    assert snapshot(seeded_app) == before, "the dry run wrote something"

    done = apply(client, confirm_fields(text_))
    assert done.status_code == 302
    decision_page = client.get(done.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "20 certificates revoked under decision 88/QĐ-SCT" in decision_page
    assert all(n in decision_page for n in world["numbers"])

    for cert in _rows(seeded_app, world["ids"]):
        assert cert.revoked_on == date(2026, 6, 1) and cert.revoked_reference == "88/QĐ-SCT"
        assert cert.revoked_reason == REASON
    public = seeded_app.test_client()
    for code in world["codes"]:
        assert "88/QĐ-SCT" in public.get(f"/v/{code}?lang=en").get_data(as_text=True)
        answer = public.get(f"/api/v1/verify/{code}").get_json()
        assert answer["status"] == "revoked"
        assert answer["certificate"]["revoked_reference"] == "88/QĐ-SCT"

    with _db(seeded_app) as s:
        decision = s.exec(select(RevocationDecision)).one()
        assert (decision.number, decision.count, decision.action) == ("88/QĐ-SCT", 20, "revoke")
        events = s.exec(select(CertificateEvent).where(CertificateEvent.decision_id == decision.id)).all()
        assert sorted(e.certificate_id for e in events) == sorted(world["ids"])
        entry = s.exec(select(AuditEntry).where(AuditEntry.entity_type == "revocation_decision")).one()
        assert entry.entity_id == decision.id and entry.action == "revoke"
        assert all(n in entry.changes["certificates"][1] for n in world["numbers"])
        per_certificate = s.exec(
            select(AuditEntry).where(AuditEntry.entity_type == "certificate", AuditEntry.action == "revoke")
        ).all()
        assert {e.entity_id for e in per_certificate} >= set(world["ids"])
        assert len(s.exec(select(OutboxEvent)).all()) >= 20
    history = client.get(f"/admin/certificates/{world['ids'][4]}?lang=en").get_data(as_text=True)
    assert f'href="/admin/decisions/{decision.id}"' in history and "decision 88/QĐ-SCT" in history
    audit_page = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Revocation decision" in audit_page and "88/QĐ-SCT" in audit_page
    listing = client.get("/admin/decisions?lang=en").get_data(as_text=True)
    assert "88/QĐ-SCT" in listing


def test_any_problem_blocks_the_whole_decision(
    seeded_app: Flask, world: dict[str, Any], make_certificate: Callable[..., str]
) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    # One already revoked (by the single-certificate path), one number shared by two of Lào Cai's.
    already = world["ids"][1]
    url = f"/admin/certificates/{already}"
    post(
        client,
        url + "/revoke",
        {"reason": "sai", "reference": "1/QĐ-SCT", "on": "2026-01-05"},
        token_from=url,
    )
    make_certificate(**_cert(30, certificate_number="CHUNG-01", year=2024, issued_on=date(2024, 8, 15)))
    make_certificate(**_cert(31, certificate_number="CHUNG-01", year=2025))
    numbers = [*world["numbers"][:5], world["other"].number, "KHONG-CO/GCN", "chung-01", world["numbers"][0]]
    before = snapshot(seeded_app)
    page = dry_run(client, numbers=", ".join(numbers)).get_data(as_text=True)
    assert "Ready to apply" not in page and 'action="/admin/decisions/apply"' not in page
    assert "5 of 9 certificates have problems" in page
    assert "Nothing can be applied until every line is correct" in page
    assert "Already revoked on" in page and "1/QĐ-SCT" in page
    assert "only that office may change it" in page  # Đà Nẵng's certificate
    assert "No certificate has this number." in page
    assert "2 certificates you may change share this number" in page
    assert "Listed twice (also line 1)." in page
    # A forged confirmation for the same certificates is refused too.
    ids = [*world["ids"][:5], world["other"].id, already]
    forged = {"action": "revoke", "number": "88/QĐ-SCT", "decided_on": "2026-06-01", "reason": REASON,
              "ids": ",".join(map(str, ids)), "fingerprint": "0" * 64,
              "csrf_token": confirm_token(client)}  # fmt: skip
    refused = apply(client, forged)
    assert refused.status_code == 409
    assert "nothing was applied" in refused.get_data(as_text=True)
    assert snapshot(seeded_app) == before


def confirm_token(client: FlaskClient) -> str:
    page = client.get(NEW).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    return token.group(1)


def test_reinstate_by_decision(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    three = world["numbers"][:3]
    page = dry_run(client, numbers="\n".join(three)).get_data(as_text=True)
    assert apply(client, confirm_fields(page)).status_code == 302
    # Reinstating a certificate that is not revoked is a problem of its own.
    page = dry_run(client, action="reinstate", number="90/QĐ-SCT", reason="Thu hồi nhầm",
                   numbers="\n".join([*three, world["numbers"][5]])).get_data(as_text=True)  # fmt: skip
    assert "Not revoked: there is nothing to withdraw." in page
    page = dry_run(client, action="reinstate", number="90/QĐ-SCT", reason="Thu hồi nhầm",
                   decided_on="2026-06-10", numbers="\n".join(three)).get_data(as_text=True)  # fmt: skip
    assert "3 certificates will be reinstated under decision 90/QĐ-SCT" in page
    assert apply(client, confirm_fields(page)).status_code == 302
    assert all(c.revoked_on is None for c in _rows(seeded_app, world["ids"][:3]))
    with _db(seeded_app) as s:
        decision = s.exec(select(RevocationDecision).where(RevocationDecision.action == "reinstate")).one()
        events = s.exec(select(CertificateEvent).where(CertificateEvent.decision_id == decision.id)).all()
        assert {(e.kind, e.reference, e.effective_on) for e in events} == {
            ("reinstated", "90/QĐ-SCT", date(2026, 6, 10))
        }
    answer = seeded_app.test_client().get(f"/api/v1/verify/{world['codes'][0]}").get_json()
    assert answer["status"] == "valid"


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for r in rows:
        book.active.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["csv", "xlsx", "txt", "paste"])
def test_numbers_from_a_file_or_pasted(seeded_app: Flask, world: dict[str, Any], kind: str) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    wanted = world["numbers"][2:6]
    if kind == "csv":
        body = "STT,Tên sản phẩm,Số giấy chứng nhận\r\n" + "".join(
            f"{i},Chè,{n}\r\n" for i, n in enumerate(wanted, 1)
        )
        fields: dict[str, Any] = {"file": (io.BytesIO(body.encode("utf-8-sig")), "so.csv")}
    elif kind == "xlsx":
        data = _xlsx([["Danh sách thu hồi"], [], ["Số giấy chứng nhận"], *[[n] for n in wanted]])
        fields = {"file": (io.BytesIO(data), "so.xlsx")}
    elif kind == "txt":
        fields = {"file": (io.BytesIO("\n".join(wanted).encode()), "so.txt")}
    else:
        fields = {"numbers": " ;\n".join(wanted)}
    page = dry_run(client, **fields).get_data(as_text=True)
    assert "4 certificates will be revoked" in page, page
    assert apply(client, confirm_fields(page)).status_code == 302
    assert {c.number for c in _rows(seeded_app, world["ids"]) if c.revoked_on} == set(wanted)


def test_picked_in_the_records_list_and_a_stale_confirmation(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    picked = world["ids"][:5]
    form = client.get(NEW + "?lang=en&action=revoke&" + "&".join(f"certificate={i}" for i in picked))
    assert "5 certificates picked from the records list." in form.get_data(as_text=True)
    page = dry_run(client, ids=",".join(map(str, picked))).get_data(as_text=True)
    fields = confirm_fields(page)
    # Someone revokes one of them in between: the confirmation no longer matches the dry run.
    url = f"/admin/certificates/{picked[2]}"
    post(client, url + "/revoke", {"reason": "khác", "reference": "2/QĐ-SCT"}, token_from=url)
    before = snapshot(seeded_app)
    stale = apply(client, fields)
    body = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "Something changed since the dry run" in body and "Already revoked on" in body
    assert snapshot(seeded_app) == before
    assert [c.revoked_reference for c in _rows(seeded_app, picked) if c.revoked_on] == ["2/QĐ-SCT"]


# ----------------------------------------------------------------------------- permissions


def test_anonymous_is_sent_to_sign_in(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    for path in ("/admin/decisions", NEW, "/admin/decisions/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    response = client.post("/admin/decisions/apply", data={"ids": "1", "fingerprint": "x"})
    assert response.status_code in (302, 400)
    assert response.status_code == 400 or "/admin/login" in response.headers["Location"]


def test_permission_walk(seeded_app: Flask, world: dict[str, Any]) -> None:
    mine = world["numbers"][:2]
    before = snapshot(seeded_app)
    # Another province's official: every line refused, nothing changed.
    danang = client_for(seeded_app, "danang@so.gov.vn")
    page = dry_run(danang, numbers="\n".join(mine)).get_data(as_text=True)
    assert "2 of 2 certificates have problems" in page and "belongs to Sở Công Thương tỉnh Lào Cai" in page
    forged = {"action": "revoke", "number": "88/QĐ-SCT", "decided_on": "2026-06-01", "reason": REASON,
              "ids": ",".join(map(str, world["ids"][:2])), "fingerprint": "0" * 64,
              "csrf_token": confirm_token(danang)}  # fmt: skip
    assert apply(danang, forged).status_code == 409
    # The ministry: provincial certificates are not its own …
    cuc = client_for(seeded_app, "cuc@moit.gov.vn")
    page = dry_run(cuc, numbers="\n".join(mine)).get_data(as_text=True)
    assert "2 of 2 certificates have problems" in page
    assert snapshot(seeded_app) == before
    # … national ones are.
    page = dry_run(cuc, numbers=world["national"].number, number="5/QĐ-BCT").get_data(as_text=True)
    assert "1 certificate will be revoked under decision 5/QĐ-BCT" in page
    assert apply(cuc, confirm_fields(page)).status_code == 302
    # The owning province's official revokes its provincial ones, but not the national one.
    laocai = client_for(seeded_app, "laocai@so.gov.vn")
    page = dry_run(laocai, numbers="\n".join([*mine, world["other"].number])).get_data(as_text=True)
    assert "1 of 3 certificates have problems" in page
    page = dry_run(laocai, numbers="\n".join(mine)).get_data(as_text=True)
    assert apply(laocai, confirm_fields(page)).status_code == 302
    revoked = {c.id for c in _rows(seeded_app, [*world["ids"], world["national"].id, world["other"].id])
               if c.revoked_on}  # fmt: skip
    assert revoked == {*world["ids"][:2], world["national"].id}
    # Each office sees its own decisions; the ministry sees every one.
    with _db(seeded_app) as s:
        ministry_decision = s.exec(
            select(RevocationDecision).where(RevocationDecision.number == "5/QĐ-BCT")
        ).one()
    assert laocai.get(f"/admin/decisions/{ministry_decision.id}").status_code == 403
    assert "5/QĐ-BCT" not in laocai.get("/admin/decisions").get_data(as_text=True)
    assert "88/QĐ-SCT" in cuc.get("/admin/decisions").get_data(as_text=True)


# ----------------------------------------------------------------------------- bad input


def test_bad_input_gets_a_clear_message(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    before = snapshot(seeded_app)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"numbers": " \n , "}, "List the certificates"),
        ({"numbers": "\n".join(f"X-{i}" for i in range(501))}, "at most 500 certificates"),
        ({"file": (io.BytesIO(bytes(range(256)) * 40), "so.csv")}, "neither a spreadsheet"),
        (
            {"file": (io.BytesIO(b"PK\x03\x04garbage" * 50), "so.xlsx")},
            "looks like an XLSX file but is damaged",
        ),
        ({"file": (io.BytesIO(b"\n\n"), "so.txt")}, "The file is empty."),
        ({"numbers": world["numbers"][0], "number": ""}, "This field is required."),
        ({"numbers": world["numbers"][0], "decided_on": "tomorrow"}, "Not a valid date value."),
        ({"ids": "1,2", "action": "delete"}, "Not a valid choice."),
    ]
    for fields, message in cases:
        response = dry_run(client, **fields)
        assert response.status_code == 400, (fields, response.status_code)
        assert message in response.get_data(as_text=True), (fields, message)
    assert snapshot(seeded_app) == before


def test_a_number_typed_in_another_case_is_found_on_both_databases(
    seeded_app: Flask, world: dict[str, Any], make_certificate: Callable[..., str]
) -> None:
    """SQLite's lower() folds ASCII only: "12/gcn-đp" must still find "12/GCN-ĐP"."""
    make_certificate(**_cert(40, certificate_number="QD-40/GCN-ĐP"))
    client = client_for(seeded_app, "laocai@so.gov.vn")
    page = dry_run(client, numbers="qd-40/gcn-đp").get_data(as_text=True)
    assert "1 certificate will be revoked" in page, page
    assert "Chè Shan tuyết quyết định 40" in page


def test_a_decision_dated_before_its_certificates_is_refused_in_the_dry_run(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    client = client_for(seeded_app, "laocai@so.gov.vn")
    before = snapshot(seeded_app)
    page = dry_run(client, numbers=world["numbers"][0], decided_on="0202-01-01").get_data(as_text=True)
    assert "is before the certificate was issued (Aug 15, 2025)" in page
    assert 'action="/admin/decisions/apply"' not in page
    assert snapshot(seeded_app) == before
