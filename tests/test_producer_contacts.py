"""Producers buyers can reach (issue 17, item 7): public contacts on the producer page, every
product listed there with its status, and "Contact the producer" only where contacts are public."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from catalogue.db import get_engine
from catalogue.registry.models import Producer, Product

PRODUCER = "Công ty TNHH Mộc Mỹ nghệ Nguyễn Văn Tiếp"
PHONE, EMAIL, WEBSITE = "0235 3 123 456", "lienhe@moc-tiep.example", "moc-tiep.example"


def html(client: FlaskClient, url: str, **args: str) -> str:
    response = client.get(url, query_string=args or None)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def set_contacts(app: Flask, public: bool) -> tuple[Producer, list[Product]]:
    """Give the producer phone, e-mail and website, shown publicly or not; returns it and its products."""
    with app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        producer = session.exec(select(Producer).where(Producer.name == PRODUCER)).one()
        producer.phone, producer.email, producer.website = PHONE, EMAIL, WEBSITE
        producer.contacts_public = public
        session.add(producer)
        session.commit()
        products = list(session.exec(select(Product).where(Product.producer_id == producer.id)
                                     .order_by(col(Product.id))).all())  # fmt: skip
    assert products
    return producer, products


def test_private_contacts_are_hidden_everywhere(seeded_app: Flask) -> None:
    producer, products = set_contacts(seeded_app, public=False)
    client = seeded_app.test_client()
    page = html(client, f"/producers/{producer.slug}?lang=en")
    for detail in (PHONE, EMAIL, WEBSITE, "tel:", "mailto:"):
        assert detail not in page
    assert "Contact details are not published for this producer." in page
    product = html(client, f"/products/{products[0].slug}?lang=en")
    results = html(client, "/search", q=products[0].name, status="all", lang="en")
    for body in (product, results):
        assert "Contact the producer" not in body and f"/producers/{producer.slug}#contact" not in body


def test_public_contacts_are_links_and_offered_from_product_and_search(seeded_app: Flask) -> None:
    producer, products = set_contacts(seeded_app, public=True)
    client = seeded_app.test_client()
    page = html(client, f"/producers/{producer.slug}?lang=en")
    contact = page[page.index('id="contact"') :]
    assert 'href="tel:02353123456"' in contact and PHONE in contact
    assert f'href="mailto:{EMAIL}"' in contact
    assert f'href="https://{WEBSITE}"' in contact
    assert "not published" not in contact[: contact.index("</section>")]
    link = f'href="/producers/{producer.slug}#contact"'
    assert link in html(client, f"/products/{products[0].slug}?lang=en")
    results = html(client, "/search", q=products[0].name, status="all", lang="en")
    item = results[results.index(f'href="/products/{products[0].slug}"') :]
    assert link in item[: item.index("</li>")]


def test_producer_page_lists_every_product_with_its_status(seeded_app: Flask, make_certificate: Any) -> None:
    for name, year, issued, expires in (
        ("Hộp gỗ kiểm thử đã hết hạn", 2020, date(2020, 3, 1), date(2023, 3, 1)),
        ("Hộp gỗ kiểm thử còn hiệu lực", 2025, date(2025, 9, 1), date(2028, 9, 1)),
    ):
        make_certificate(product=name, producer=PRODUCER, province="Quảng Nam", year=year,
                         issued_on=issued, expires_on=expires)  # fmt: skip
    producer, products = set_contacts(seeded_app, public=False)
    assert len(products) >= 2
    page = html(seeded_app.test_client(), f"/producers/{producer.slug}?lang=en")
    listed = page[page.index("Certified products") :]
    for product in products:
        assert f'href="/products/{product.slug}"' in listed
    assert listed.count('class="badge badge-') == len(products)
    assert 'class="badge badge-expired">Expired<' in listed and 'class="badge badge-valid">Valid<' in listed
