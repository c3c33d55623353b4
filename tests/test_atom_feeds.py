"""Atom feeds of newly certified products and of revocations, all or per province, group and level."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from xml.etree import ElementTree

from flask import Flask
from sqlmodel import Session, col, select

from catalogue.db import get_engine
from catalogue.places.services import Provinces
from catalogue.registry import certificates
from catalogue.registry.models import Certificate, CertificateEvent, Product, SelectionRound
from catalogue.text import nfc
from tests.fixtures.workspace import get_user, make_user

ATOM = "{http://www.w3.org/2005/Atom}"
EN = {"Accept-Language": "en"}


def _entries(body: bytes) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}id") is not None and root.find(f"{ATOM}updated") is not None
    return root.findall(f"{ATOM}entry")


def _links(body: bytes) -> list[str]:
    return [e.find(f"{ATOM}link").get("href", "") for e in _entries(body)]  # type: ignore[union-attr]


def _titles(body: bytes) -> list[str]:
    return [e.findtext(f"{ATOM}title") or "" for e in _entries(body)]


def test_new_certificates_feed_lists_the_newest_first_with_links_to_product_pages(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_certificate(
        product="Miến dong kiểm thử", certificate_number="77/GCN", year=2026, issued_on=date(2026, 6, 1)
    )
    client = seeded_app.test_client()
    response = client.get("/feeds/certified.atom", headers=EN)
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    entries = _entries(response.data)
    first = entries[0]
    assert (first.findtext(f"{ATOM}title") or "").startswith("Miến dong kiểm thử")
    link = first.find(f"{ATOM}link")
    assert link is not None and link.get("href", "").startswith("http://registry.test/products/")
    assert client.get(link.get("href", "").removeprefix("http://registry.test")).status_code == 200
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(ids) == len(set(ids)) and all((i or "").startswith("tag:registry.test,") for i in ids)
    updated = [e.findtext(f"{ATOM}updated") or "" for e in entries]
    assert updated == sorted(updated, reverse=True)


def test_feeds_per_province_group_and_level_hold_only_their_certificates(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_certificate(product="Chè kiểm thử Lào Cai", certificate_number="81/GCN", year=2026,
                     issued_on=date(2026, 6, 1))  # fmt: skip
    make_certificate(product="Chè kiểm thử Yên Bái", province="Yên Bái", certificate_number="82/GCN",
                     year=2024, issued_on=date(2024, 6, 1))  # fmt: skip
    with seeded_app.app_context(), Session(get_engine()) as s:
        unsorted = s.exec(select(Product).where(Product.name == "Chè kiểm thử Yên Bái")).one()
        unsorted.group = None
        s.add(unsorted)
        s.commit()
    client = seeded_app.test_client()
    with seeded_app.app_context(), Session(get_engine()) as s:
        query = (
            select(Product, SelectionRound)
            .join(Certificate, col(Certificate.product_id) == Product.id)
            .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        )
        rows = s.exec(query).all()
    level = rows[0][1].level
    expected = {p.name for p, r in rows if r.level == level}
    names = {t.split(" — ")[0] for t in _titles(client.get(f"/feeds/certified.atom?level={level}").data)}
    assert names and names <= expected
    # A province by a pre-2025 name: its current unit's feed, titled so.
    body = client.get("/feeds/certified.atom?province=Yên Bái", headers=EN).data
    root = ElementTree.fromstring(body)
    assert "Lào Cai" in (root.findtext(f"{ATOM}title") or "")
    with seeded_app.app_context(), Session(get_engine()) as s:
        provinces = Provinces.load(s)
        lao_cai = provinces.match_current("Lào Cai")
        assert lao_cai is not None
        members = provinces.member_ids(lao_cai)
        slugs = {p.slug: p for p in s.exec(select(Product)).all()}
    shown = [slugs[link.rsplit("/", 1)[1]] for link in _links(body)]
    assert {"Chè kiểm thử Lào Cai", "Chè kiểm thử Yên Bái"} <= {p.name for p in shown}
    assert all(p.province_id in members for p in shown)
    unclassified = client.get("/feeds/certified.atom?group=unclassified", headers=EN)
    assert unclassified.status_code == 200
    shown = [slugs[link.rsplit("/", 1)[1]] for link in _links(unclassified.data)]
    assert "Chè kiểm thử Yên Bái" in {p.name for p in shown} and all(p.group is None for p in shown)
    bad = client.get("/feeds/certified.atom?province=Atlantis", headers=EN)
    assert bad.status_code == 400 and "Unknown province" in bad.get_data(as_text=True)
    assert client.get("/feeds/everything.atom").status_code == 404


def test_revocations_feed_has_each_revocation_and_its_withdrawal(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    make_certificate(
        product="Mật ong kiểm thử", certificate_number="78/GCN", year=2025, issued_on=date(2025, 6, 1)
    )
    client = seeded_app.test_client()
    with seeded_app.test_request_context("/"), Session(get_engine()) as s:
        user = get_user(s, "laocai@so.gov.vn")
        cert = s.exec(select(Certificate).where(Certificate.number == "78/GCN")).one()
        certificates.revoke_certificate(s, actor=user, certificate=cert, reason="Hàng giả", reference="5/QĐ",
                                        on=date(2026, 6, 1))  # fmt: skip
        s.commit()
        revoked = client.get("/feeds/revoked.atom?province=lao-cai", headers=EN).data
        certificates.reinstate_certificate(s, actor=user, certificate=cert, reason="Quyết định bị hủy",
                                           reference="6/QĐ")  # fmt: skip
        s.commit()
        events = s.exec(select(CertificateEvent).where(CertificateEvent.certificate_id == cert.id)).all()
    assert _titles(revoked)[0] == "Revoked: Mật ong kiểm thử — 78/GCN"
    assert "Hàng giả" in (_entries(revoked)[0].findtext(f"{ATOM}summary") or "")
    after = _titles(client.get("/feeds/revoked.atom", headers=EN).data)
    assert after[:2] == [
        "Revocation withdrawn: Mật ong kiểm thử — 78/GCN",
        "Revoked: Mật ong kiểm thử — 78/GCN",
    ]
    assert {e.kind for e in events} >= {"revoked", "reinstated"}
    # Another province's revocation feed does not carry it.
    elsewhere = _titles(client.get("/feeds/revoked.atom?province=hue", headers=EN).data)
    assert not any("Mật ong kiểm thử" in t for t in elsewhere)
    vietnamese = _titles(client.get("/feeds/revoked.atom?lang=vi").data)
    assert vietnamese[0] == "Đã hủy việc thu hồi: Mật ong kiểm thử — 78/GCN"


def test_a_control_character_stored_in_a_name_does_not_break_the_feeds(seeded_app: Flask) -> None:
    """Names typed before control characters were dropped at input still make a well-formed feed."""
    with seeded_app.app_context(), Session(get_engine()) as s:
        cert = s.exec(select(Certificate).order_by(col(Certificate.created_at).desc())).first()
        assert cert is not None
        product = s.get(Product, cert.product_id)
        assert product is not None
        product.name = "Bánh thử\x01 điều khiển"
        s.add(product)
        s.commit()
    titles = _titles(seeded_app.test_client().get("/feeds/certified.atom").data)
    assert any(t.startswith("Bánh thử điều khiển") for t in titles)


def test_names_lose_control_characters_at_input() -> None:
    assert nfc("HTX \x02 thử\x7f\tmới") == "HTX thử mới"
