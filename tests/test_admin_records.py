"""Workspace record editing: corrections as certificate events, revocation, producers,
products, rounds, fairs and exhibitors — each change in the audit log with before/after."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from catalogue.accounts.models import User
from catalogue.audit.models import AuditEntry
from catalogue.db import get_engine
from catalogue.fairs.models import Event, Exhibit
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.registry.models import Certificate, CertificateEvent, Producer, Product
from tests.fixtures.workspace import login, make_user, post, province, row, xlsx_bytes


def _db(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


@pytest.fixture
def setup(seeded_app: Flask) -> dict[str, Any]:
    make_user(seeded_app, "hue@so.gov.vn", "province", "Huế")
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    with seeded_app.test_request_context("/?lang=en"), Session(get_engine()) as s:
        user = s.exec(select(User).where(User.email == "hue@so.gov.vn")).one()
        batch, _ = importing.stage_batch(
            s,
            actor=user,
            filename="hue.xlsx",
            data=xlsx_bytes([row(1, province="Huế"), row(2, province="Huế")]),
        )
        publishing.publish_batch(s, actor=user, batch=batch)
        s.commit()
        cert = s.exec(select(Certificate).where(Certificate.number == "TEST-00001/GCN-SCT")).one()
        hue_id = province(s, "Huế").id
    client = seeded_app.test_client()
    login(client, "hue@so.gov.vn")
    ministry = seeded_app.test_client()
    login(ministry, "cuc@moit.gov.vn")
    return {
        "client": client,
        "ministry": ministry,
        "cert_id": cert.id,
        "product_id": cert.product_id,
        "hue_id": hue_id,
    }


def _province_id(app: Flask, name: str) -> int:
    with _db(app) as s:
        return province(s, name).id  # type: ignore[return-value]


def _audit(app: Flask, **where: Any) -> list[AuditEntry]:
    with _db(app) as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        return list(s.exec(query).all())


def test_correction_is_a_certificate_event_with_before_and_after(seeded_app: Flask, setup: dict) -> None:
    client, cert_id = setup["client"], setup["cert_id"]
    url = f"/admin/certificates/{cert_id}"
    response = post(
        client,
        url,
        {
            "number": "TEST-00001/GCN-SCT-A",
            "issued_on": "2025-08-16",
            "expires_on": "",
            "prize": "",
            "source": "",
            "reason": "typo in the decision list",
        },
        token_from=url,
    )
    assert response.status_code == 302
    with _db(seeded_app) as s:
        cert = s.get(Certificate, cert_id)
        assert cert.number == "TEST-00001/GCN-SCT-A" and str(cert.issued_on) == "2025-08-16"
        # No expiry in the decision: none stored; the registry's assumed validity is worked out when read.
        assert cert.expires_on is None
        event = s.exec(
            select(CertificateEvent).where(
                CertificateEvent.certificate_id == cert_id, CertificateEvent.kind == "corrected"
            )
        ).one()
        assert event.reason == "typo in the decision list"
        assert event.changes["number"] == ["TEST-00001/GCN-SCT", "TEST-00001/GCN-SCT-A"]
    entry = _audit(seeded_app, action="correct")[-1]
    assert entry.actor_label == "hue@so.gov.vn" and entry.province_id == setup["hue_id"]
    assert entry.changes["issued_on"] == ["2025-08-15", "2025-08-16"]
    page = client.get(url + "?lang=en").get_data(as_text=True)
    assert "typo in the decision list" in page


def test_correction_cannot_take_another_certificates_number(seeded_app: Flask, setup: dict) -> None:
    url = f"/admin/certificates/{setup['cert_id']}"
    response = post(
        setup["client"],
        url + "?lang=en",
        {"number": "TEST-00002/GCN-SCT"},
        token_from=url,
        follow_redirects=True,
    )
    assert "already has the number TEST-00002/GCN-SCT" in response.get_data(as_text=True)


def test_revocation_with_reason_and_reference_shows_publicly(seeded_app: Flask, setup: dict) -> None:
    client, cert_id = setup["client"], setup["cert_id"]
    url = f"/admin/certificates/{cert_id}"
    response = post(
        client,
        url + "/revoke?lang=en",
        {"reason": "", "reference": ""},
        token_from=url,
        follow_redirects=True,
    )
    assert "This field is required." in response.get_data(as_text=True)
    post(
        client,
        url + "/revoke",
        {"reason": "Sản phẩm không còn đạt tiêu chí", "reference": "77/QĐ-SCT", "on": "2025-10-01"},
        token_from=url,
    )
    with _db(seeded_app) as s:
        cert = s.get(Certificate, cert_id)
        assert str(cert.revoked_on) == "2025-10-01" and cert.revoked_reference == "77/QĐ-SCT"
        event = s.exec(
            select(CertificateEvent).where(
                CertificateEvent.certificate_id == cert_id, CertificateEvent.kind == "revoked"
            )
        ).one()
        assert event.reason == "Sản phẩm không còn đạt tiêu chí"
        slug = s.get(Product, cert.product_id).slug
    assert _audit(seeded_app, action="revoke")[-1].changes["revoked_reference"] == [None, "77/QĐ-SCT"]
    page = seeded_app.test_client().get(f"/products/{slug}").get_data(as_text=True)
    assert "77/QĐ-SCT" in page and "Sản phẩm không còn đạt tiêu chí" in page
    # Withdrawn by mistake: the history keeps both events.
    post(client, url + "/reinstate", {"reason": "revoked the wrong certificate"}, token_from=url)
    with _db(seeded_app) as s:
        assert s.get(Certificate, cert_id).revoked_on is None
        kinds = s.exec(select(CertificateEvent.kind).where(CertificateEvent.certificate_id == cert_id)).all()
    assert sorted(kinds) == ["issued", "reinstated", "revoked"]


def test_producer_create_and_edit_with_public_contacts(seeded_app: Flask, setup: dict) -> None:
    client = setup["client"]
    response = post(
        client,
        "/admin/producers/new",
        {
            "name": "HTX Gốm Phước Tích",
            "kind": "htx",
            "province_id": setup["hue_id"],
            "phone": "0234 000 000",
            "contacts_public": "y",
        },
        token_from="/admin/producers/new",
    )
    assert response.status_code == 302
    with _db(seeded_app) as s:
        producer = s.exec(select(Producer).where(Producer.name == "HTX Gốm Phước Tích")).one()
        assert producer.contacts_public and producer.kind == "htx"
    url = f"/admin/producers/{producer.id}"
    post(
        client,
        url,
        {
            "name": "HTX Gốm Phước Tích",
            "kind": "htx",
            "province_id": setup["hue_id"],
            "phone": "0234 111 111",
        },
        token_from=url,
    )
    entry = _audit(seeded_app, entity_type="producer", entity_id=producer.id, action="update")[-1]
    assert entry.changes["phone"] == ["0234 000 000", "0234 111 111"]
    assert entry.changes["contacts_public"] == [True, False]
    # Contacts are published as links: what is not one is refused with a message, and nothing changes.
    for field, value, message in (
        ("website", "javascript:alert(1)//.vn", "Write the web address as example.vn"),
        ("email", "x@y.vn?subject=<b>", "This is not an e-mail address."),
        ("phone", "=1+2 0912 345 678", "Write the phone number with digits"),
    ):
        bad = {"name": "HTX Gốm Phước Tích", "kind": "htx", "province_id": setup["hue_id"], field: value}
        page = post(client, url + "?lang=en", bad, token_from=url).get_data(as_text=True)
        assert message in page, field
    with _db(seeded_app) as s:
        kept = s.get(Producer, producer.id)
        assert kept is not None and (kept.website, kept.email, kept.phone) == (None, None, "0234 111 111")
    # A provincial official cannot move a producer into another province.
    other = _province_id(seeded_app, "Lào Cai")
    assert post(client, url, {"name": "X", "province_id": other}, token_from=url).status_code == 403


def test_product_edit_is_audited_and_queued_for_search(seeded_app: Flask, setup: dict) -> None:
    from catalogue.audit.models import OutboxEvent

    url = f"/admin/products/{setup['product_id']}"
    with _db(seeded_app) as s:
        queued = len(s.exec(select(OutboxEvent).where(OutboxEvent.product_id == setup["product_id"])).all())
    post(
        setup["client"],
        url,
        {
            "name": "Chè Shan tuyết Huế",
            "group": "che_bien_nong_lam_thuy_san_thuc_pham",
            "province_id": setup["hue_id"],
            "description": "Mô tả",
        },
        token_from=url,
    )
    with _db(seeded_app) as s:
        assert s.get(Product, setup["product_id"]).name == "Chè Shan tuyết Huế"
        assert (
            len(s.exec(select(OutboxEvent).where(OutboxEvent.product_id == setup["product_id"])).all())
            > queued
        )
    entry = _audit(seeded_app, entity_type="product", action="update")[-1]
    assert entry.changes["name"] == ["Chè Shan tuyết thử nghiệm 1", "Chè Shan tuyết Huế"]


def test_new_certificate_for_a_product_and_level_rules(seeded_app: Flask, setup: dict) -> None:
    url = f"/admin/products/{setup['product_id']}/certificates/new"
    response = post(
        setup["client"],
        url + "?lang=en",
        {"level": "huyen", "year": 2025, "number": "H-1", "issued_on": "2025-09-01"},
        token_from=url,
        follow_redirects=True,
    )
    assert "did not exist on 01/09/2025" in response.get_data(as_text=True)
    response = post(
        setup["client"], url, {"level": "tinh", "year": 2026, "number": "T-2026-1"}, token_from=url
    )
    assert response.status_code == 302
    # The ministry level is not offered to a provincial official and is refused if forced.
    assert (
        post(
            setup["client"], url, {"level": "quoc_gia", "year": 2026, "number": "Q-1"}, token_from=url
        ).status_code
        == 403
    )
    with _db(seeded_app) as s:
        assert (
            s.exec(select(Certificate).where(Certificate.number == "T-2026-1")).one().product_id
            == setup["product_id"]
        )


def test_round_edit(seeded_app: Flask, setup: dict) -> None:
    with _db(seeded_app) as s:
        round_id = s.get(Certificate, setup["cert_id"]).round_id
    url = f"/admin/rounds/{round_id}"
    response = post(
        setup["client"],
        url,
        {
            "level": "tinh",
            "year": 2025,
            "province_id": setup["hue_id"],
            "edition": "lần thứ III",
            "decision_number": "123/QĐ-UBND",
            "decision_date": "2025-08-01",
        },
        token_from=url,
    )
    assert response.status_code == 302
    entry = _audit(seeded_app, entity_type="selection_round")[-1]
    assert entry.changes["edition"] == [None, "lần thứ III"]


def test_ministry_manages_fairs_and_exhibitors(seeded_app: Flask, setup: dict) -> None:
    ministry = setup["ministry"]
    response = post(
        ministry,
        "/admin/events/new",
        {
            "kind": "fair",
            "name": "Hội chợ CNNT tiêu biểu thử nghiệm",
            "start_date": "2025-11-01",
            "end_date": "2025-11-05",
            "province_id": setup["hue_id"],
        },
        token_from="/admin/events/new",
    )
    assert response.status_code == 302
    with _db(seeded_app) as s:
        event = s.exec(select(Event).where(Event.name == "Hội chợ CNNT tiêu biểu thử nghiệm")).one()
        producer_id = s.get(Product, setup["product_id"]).producer_id
    url = f"/admin/events/{event.id}"
    post(
        ministry,
        url + "/exhibitors",
        {"producer": producer_id, "booth": "B12", "products": str(setup["product_id"])},
        token_from=url,
    )
    with _db(seeded_app) as s:
        shown = s.exec(select(Exhibit.product_id)).all()
    assert setup["product_id"] in shown
    public = seeded_app.test_client().get(f"/events/{event.slug}").get_data(as_text=True)
    assert "B12" in public
    bad = post(
        ministry, url + "/exhibitors?lang=en", {"producer": 999999}, token_from=url, follow_redirects=True
    )
    assert "Choose the producer from the names found." in bad.get_data(as_text=True)
    response = post(
        ministry,
        url + "?lang=en",
        {"kind": "fair", "name": "X", "start_date": "2025-11-05", "end_date": "2025-11-01"},
        token_from=url,
    )
    assert "The last day comes before the first day." in response.get_data(as_text=True)
    assert [e.action for e in _audit(seeded_app, entity_type="event")] == ["create", "add_exhibitor"]


def test_audit_page_filters_by_person_province_and_date(seeded_app: Flask, setup: dict) -> None:
    ministry, client = setup["ministry"], setup["client"]
    page = ministry.get("/admin/audit?person=hue@so.gov.vn").get_data(as_text=True)
    assert "hue@so.gov.vn" in page and "cuc@moit.gov.vn" not in page.split("<table")[1]
    page = ministry.get(f"/admin/audit?province_id={setup['hue_id']}").get_data(as_text=True)
    assert "TEST-00001" in page or "Chè Shan tuyết thử nghiệm 1" in page
    page = ministry.get("/admin/audit?start=2000-01-01&end=2000-12-31&lang=en").get_data(as_text=True)
    assert "No entries." in page
    # A provincial official sees only their own province, whatever the URL asks.
    lao_cai = _province_id(seeded_app, "Lào Cai")
    page = client.get(f"/admin/audit?province_id={lao_cai}&lang=en").get_data(as_text=True)
    assert "hue@so.gov.vn" in page


def test_every_workspace_change_left_an_audit_entry(seeded_app: Flask, setup: dict) -> None:
    with _db(seeded_app) as s:
        certs = s.exec(select(Certificate.id).where(Certificate.number.startswith("TEST-"))).all()
        audited = set(
            s.exec(select(AuditEntry.entity_id).where(AuditEntry.entity_type == "certificate")).all()
        )
    assert set(certs) <= audited


def test_product_form_offers_the_officials_own_producers_by_name(seeded_app: Flask) -> None:
    make_user(seeded_app, "sct@danang.gov.vn", "province", "Đà Nẵng")
    client = seeded_app.test_client()
    login(client, "sct@danang.gov.vn")
    page = client.get("/admin/products/new?lang=en").get_data(as_text=True)
    # Quảng Nam's producers belong to Đà Nẵng now; Lâm Đồng's are not offered.
    assert "Công ty TNHH Mộc Mỹ nghệ Nguyễn Văn Tiếp" in page
    assert "Công ty TNHH Tâm Châu" not in page
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        name = "Công ty TNHH Mộc Mỹ nghệ Nguyễn Văn Tiếp"
        maker = s.exec(select(Producer).where(Producer.name == name)).one()
        da_nang = province(s, "Đà Nẵng")
    response = post(client, "/admin/products/new", {
        "name": "Khay trà mẫu mới", "producer_id": str(maker.id), "province_id": str(da_nang.id),
        "group": "", "locality": "",
    }, token_from="/admin/products/new")  # fmt: skip
    assert response.status_code == 302
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        saved = s.exec(select(Product).where(Product.name == "Khay trà mẫu mới")).one()
        assert saved.producer_id == maker.id


def test_audit_log_reads_in_the_officials_language(seeded_app: Flask) -> None:
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    client = seeded_app.test_client()
    login(client, "cuc@moit.gov.vn")
    page = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "signed in" in page and "Certificate #" in page


def test_product_form_refuses_another_provinces_producer(seeded_app: Flask) -> None:
    make_user(seeded_app, "sct@danang.gov.vn", "province", "Đà Nẵng")
    client = seeded_app.test_client()
    login(client, "sct@danang.gov.vn")
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        outsider = s.exec(select(Producer).where(Producer.name == "Công ty TNHH Tâm Châu")).one()  # Lâm Đồng
        da_nang = province(s, "Đà Nẵng")
    response = post(client, "/admin/products/new?lang=en", {
        "name": "Sản phẩm gắn nhầm cơ sở", "producer_id": str(outsider.id), "province_id": str(da_nang.id),
        "group": "", "locality": "",
    }, token_from="/admin/products/new")  # fmt: skip
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        assert s.exec(select(Product).where(Product.name == "Sản phẩm gắn nhầm cơ sở")).first() is None


def test_form_validation_messages_are_in_the_officials_language(seeded_app: Flask) -> None:
    # WTForms ships no Vietnamese: its messages come from the registry's own catalogue.
    make_user(seeded_app, "sct@danang.gov.vn", "province", "Đà Nẵng")
    client = seeded_app.test_client()
    login(client, "sct@danang.gov.vn")
    for lang, message in (("vi", "Trường này là bắt buộc."), ("en", "This field is required.")):
        path = f"/admin/products/new?lang={lang}"
        response = post(client, path, {"name": ""}, token_from="/admin/products/new")
        assert response.status_code == 200 and message in response.get_data(as_text=True)
