"""The real seed data loads through the import path and can be loaded again."""

from __future__ import annotations

from sqlmodel import Session, func, select

from catalogue.audit.models import AuditEntry
from catalogue.fairs.models import Event
from catalogue.places.models import Province
from catalogue.registry.models import Certificate, Producer, Product
from catalogue.seeding import seed_all
from tests import seeddata
from tests.conftest import VERIFY_KEYS


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: session.exec(select(func.count()).select_from(model)).one()
        for model in (Product, Certificate, Producer, Province, Event, AuditEntry)
    }


def test_seed_holds_every_source_row(db_session: Session) -> None:
    counts = _counts(db_session)
    assert counts["Product"] == seeddata.products()
    assert counts["Certificate"] == seeddata.certificates()
    assert counts["Province"] == seeddata.current_provinces() + seeddata.former_provinces() == 34 + 63
    assert counts["Event"] == seeddata.events()


def test_seed_is_idempotent(db_session: Session) -> None:
    before = _counts(db_session)
    report = seed_all(db_session, validity_years=3, verify_keys=VERIFY_KEYS, verify_key_id="a")
    db_session.commit()
    assert report.created == 0 and report.changed == 0
    assert _counts(db_session) == before


def test_unknown_facts_stay_unknown(db_session: Session) -> None:
    # Bình Thuận 2024 rows name no producer and no certificate number: nothing is invented.
    product = db_session.exec(select(Product).where(Product.name == "Nước ép thanh long Bảo Long")).one()
    cert = db_session.exec(select(Certificate).where(Certificate.product_id == product.id)).one()
    assert product.producer_id is None
    assert cert.number is None and cert.issued_on is None
    assert cert.expires_on is None  # the decision states none; the registry's assumption is never stored
    assert cert.source == "https://baobinhthuan.com.vn/print/124855.html"


def test_group_assigned_by_editors_is_marked(db_session: Session) -> None:
    tea = db_session.exec(select(Product).where(Product.name == "Hương sơn trà")).one()
    assert tea.group == "che_bien_nong_lam_thuy_san_thuc_pham" and tea.group_assigned
    sedge = db_session.exec(select(Product).where(Product.name == "Sản phẩm đan cỏ bàng")).one()
    assert sedge.group == "thu_cong_my_nghe" and not sedge.group_assigned
    spray = db_session.exec(select(Product).where(Product.name == "Xịt đuổi muỗi Antimos")).one()
    assert spray.group is None
