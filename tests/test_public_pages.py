"""Every public page in Vietnamese and English, with the facts a visitor relies on."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from sqlmodel import Session, func, select

from catalogue.db import get_engine
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Photo, Producer, Product, SelectionRound
from catalogue.registry.records import WriteContext, upsert_record
from catalogue.registry.rows import RecordInput
from catalogue.vocab import Level
from tests import seeddata
from tests.conftest import VERIFY_KEYS

KHAY = "/products/khay-tra-tien-vua"
KHAY_PRODUCER = "Công ty TNHH Mộc Mỹ nghệ Nguyễn Văn Tiếp"
# Event slugs are the seeded names, slugified and cut at 100 characters.
FAIR_2019 = (
    "trien-lam-hoi-cho-hang-cong-nghiep-nong-thon-tieu-bieu-nam-2019-kem-le-ton-vinh-san-pham-cnnt-tieu-b"
)
FAIR_2023 = (
    "hoi-cho-trien-lam-hang-cong-nghiep-nong-thon-tieu-bieu-nam-2023-kem-le-ton-vinh-san-pham-cnnt-tieu-b"
)
SHOWROOM = "trung-tam-trien-lam-gioi-thieu-trung-bay-san-pham-tra-my"


def t(app: Flask, locale: str, msgid: str, **kwargs: object) -> str:
    """``msgid`` as the ``locale`` catalogue renders it (translations are trusted markup in Jinja)."""
    with app.test_request_context(), force_locale(locale):
        return gettext(msgid, **kwargs)


def html(client: FlaskClient, url: str, **kwargs: object) -> str:
    response = client.get(url, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def session_of(app: Flask) -> Session:
    with app.app_context():
        return Session(get_engine(), expire_on_commit=False)


# (url, a label that page must show) — checked in both languages.
PAGES = [
    ("/", "By product group"),
    (KHAY, "Certificate number"),
    ("/producers/cong-ty-tnhh-moc-my-nghe-nguyen-van-tiep", "Certified products"),
    ("/provinces", "Provinces and cities"),
    ("/provinces/da-nang", "Products certified under these former provinces are included."),
    ("/provinces/quang-nam-truoc-2025", "until 30 June 2025"),
    ("/rounds", "Selection rounds"),
    ("/rounds/quoc-gia-quoc-gia-2021", "Issuing authority"),
    ("/events", "Past fairs"),
    (f"/events/{FAIR_2019}", "Exhibitors"),
    (f"/events/{SHOWROOM}", "Opening hours"),
    ("/api", "Open data API"),
    ("/api/shapes", "Data shapes"),
    ("/data/dictionary", "Data dictionary of the downloads"),
    ("/statistics", "Statistics"),
    (f"/events/{FAIR_2019}/catalogue", "Buyer catalogue"),
]


@pytest.mark.parametrize(("url", "label"), PAGES, ids=[p[0] for p in PAGES])
def test_every_public_page_in_vietnamese_and_english(seeded_app: Flask, url: str, label: str) -> None:
    client = seeded_app.test_client()
    for locale in ("vi", "en"):
        body = html(client, url, query_string={"lang": locale})
        assert f'<html lang="{locale}">' in body
        assert t(seeded_app, locale, label) in body, (locale, label)
        # One search box on every page, plain GET so it works without JavaScript.
        assert re.search(r'<form class="site-search" action="/search" method="get"', body)
        assert 'name="q"' in body
        # CSP forbids inline script and style (a JSON-LD data block is never executed); pages stay light.
        assert not re.search(r'<script(?! type="application/ld\+json">)', body) and 'style="' not in body
        assert len(body.encode()) < 60 * 1024
    assert t(seeded_app, "en", label) == label


def test_default_language_is_vietnamese(seeded_client: FlaskClient) -> None:
    assert '<html lang="vi">' in html(seeded_client, "/")


def test_khay_tra_names_its_producer_and_the_province_it_is_now_part_of(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    en = html(client, KHAY, headers={"Accept-Language": "en"})
    assert "Khay trà tiến Vua" in en and KHAY_PRODUCER in en
    assert 'href="/producers/cong-ty-tnhh-moc-my-nghe-nguyen-van-tiep"' in en
    assert "Quảng Nam — now part of Thành phố Đà Nẵng" in en
    vi = html(client, KHAY)
    now_part = t(seeded_app, "vi", "now part of %(province)s", province="Thành phố Đà Nẵng")
    assert "Quảng Nam — " + now_part in vi
    assert KHAY_PRODUCER in vi


def test_product_page_says_what_the_source_does_not_give(seeded_app: Flask) -> None:
    en = html(seeded_app.test_client(), KHAY, headers={"Accept-Language": "en"})
    assert "group assigned by the registry's editors" in en
    assert "not published" in en  # certificate number
    assert re.search(r"Issued on</dt>\s*<dd>unknown</dd>", en)
    # 2021 with no decision expiry: end of 2021 + 3 years, assumed by the registry, said so, and
    # past it reads in a neutral tone (finding 5), never the "Expired" badge of a decision's expiry.
    assert "Dec 31, 2024" in en and "the decision states no expiry; standard validity 3 years" in en
    assert 'class="badge badge-lapsed"' in en and "Recognised 2021 · past standard validity" in en
    assert "badge-expired" not in en and 'href="/status"' in en
    assert 'href="/rounds/quoc-gia-quoc-gia-2021"' in en


def test_a_product_with_no_named_producer_and_no_group(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    with session_of(seeded_app) as s:
        juice = s.exec(select(Product).where(Product.name == "Nước ép thanh long Bảo Long")).one()
        spray = s.exec(select(Product).where(Product.name == "Xịt đuổi muỗi Antimos")).one()
    body = html(client, f"/products/{juice.slug}?lang=en")
    assert "not named in the source" in body
    assert "baobinhthuan.com.vn" in body and 'href="https://baobinhthuan.com.vn/print/124855.html"' in body
    assert "Not yet classified" in html(client, f"/products/{spray.slug}?lang=en")


def _add_certificate(app: Flask, **changes: object) -> None:
    """Record a second certificate for Khay trà through the real write path."""
    with session_of(app) as s:
        provinces = Provinces.load(s)
        fields = {
            "product": "Khay trà tiến Vua", "producer": KHAY_PRODUCER,
            "province": provinces.match("Quảng Nam", on=date(2024, 5, 1)),
            "level": Level.TINH, "year": 2024, "issued_on": date(2024, 5, 10),
            "certificate_number": "45/GCN-UBND", "source": "https://example.gov.vn/qd-45",
        }  # fmt: skip
        fields.update(changes)
        ctx = WriteContext(provinces=provinces, validity_years=3, verify_keys=VERIFY_KEYS, verify_key_id="a")
        upsert_record(s, RecordInput(**fields), ctx)  # type: ignore[arg-type]
        s.commit()


def test_certificates_are_listed_highest_valid_level_first(seeded_app: Flask) -> None:
    _add_certificate(seeded_app)
    body = html(seeded_app.test_client(), KHAY + "?lang=en")
    provincial, national = body.index("Provincial level · 2024"), body.index("National level · 2021")
    assert provincial < national  # the valid provincial one outranks the expired national one
    assert "45/GCN-UBND" in body and "May 10, 2027" in body
    assert "Certificates (2)" in body


def test_a_revoked_certificate_says_when_and_why(seeded_app: Flask) -> None:
    _add_certificate(seeded_app)
    with session_of(seeded_app) as s:
        cert = s.exec(select(Certificate).where(Certificate.number == "45/GCN-UBND")).one()
        cert.revoked_on, cert.revoked_reason = date(2025, 3, 1), "Sản phẩm không còn sản xuất"
        s.add(cert)
        s.commit()
    body = html(seeded_app.test_client(), KHAY + "?lang=en")
    assert 'class="badge badge-revoked">Revoked<' in body
    assert "Mar 1, 2025" in body and "Sản phẩm không còn sản xuất" in body


def test_producer_contacts_are_shown_only_when_public(seeded_app: Flask) -> None:
    url = "/producers/cong-ty-tnhh-moc-my-nghe-nguyen-van-tiep?lang=en"
    with session_of(seeded_app) as s:
        producer = s.exec(select(Producer).where(Producer.name == KHAY_PRODUCER)).one()
        producer.phone, producer.contacts_public = "0235 3 123 456", False
        s.add(producer)
        s.commit()
        body = html(seeded_app.test_client(), url)
        assert "0235 3 123 456" not in body and "Contact details are not published" in body
        producer.contacts_public = True
        s.add(producer)
        s.commit()
    body = html(seeded_app.test_client(), url)
    assert "0235 3 123 456" in body and 'href="tel:02353123456"' in body
    assert "Khay trà tiến Vua" in body and "Company" in body


def test_current_province_page_lists_former_units_and_their_products(seeded_app: Flask) -> None:
    body = html(seeded_app.test_client(), "/provinces/da-nang?lang=en")
    assert "Thành phố Đà Nẵng" in body
    assert "formerly: Đà Nẵng, Quảng Nam" in body
    assert "Khay trà tiến Vua" in body  # certified under Quảng Nam
    assert 'href="/provinces/quang-nam-truoc-2025"' in body


def test_former_province_page_points_to_the_unit_it_became_part_of(seeded_app: Flask) -> None:
    body = html(seeded_app.test_client(), "/provinces/quang-nam-truoc-2025?lang=en")
    assert "it is now part of Thành phố Đà Nẵng" in body
    assert 'href="/provinces/da-nang"' in body and "Khay trà tiến Vua" in body


def test_province_list_has_the_34_current_units_with_counts(seeded_app: Flask) -> None:
    body = html(seeded_app.test_client(), "/provinces?lang=en")
    cards = re.findall(r'<h2 class="card-title"><a href="/provinces/([a-z-]+)">', body)
    assert len(cards) == 34 and not any(c.endswith("truoc-2025") for c in cards)
    da_nang = seeddata.products_now_in("Đà Nẵng")  # with those printed under Quảng Nam
    assert re.search(rf"Thành phố Đà Nẵng</a> <span class=\"n\">{da_nang} products", body)
    assert "formerly: Kiên Giang, An Giang" in body or "formerly: An Giang, Kiên Giang" in body


def test_round_page_shows_the_decision_and_its_products(seeded_app: Flask) -> None:
    body = html(seeded_app.test_client(), "/rounds/quoc-gia-quoc-gia-2021?lang=en")
    assert "QĐ 1997/QĐ-BCT" in body and "Aug 23, 2021" in body
    assert "lần thứ IV" in body and "Bộ trưởng Bộ Công Thương" in body
    national_2021 = seeddata.certificates_at("quốc gia", 2021)
    assert "Khay trà tiến Vua" in body and f"{national_2021} certified products" in body


def test_round_page_links_its_ceremony_and_the_fair_lists_the_round(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    body = html(client, "/rounds/quoc-gia-quoc-gia-2023?lang=en")
    assert f'href="/events/{FAIR_2023}"' in body
    assert "<dd>QĐ 3116/QĐ-BCT, dated unknown</dd>" in body  # the decision's date is not published
    fair = html(client, f"/events/{FAIR_2023}?lang=en")
    assert "Certificates presented here" in fair and 'href="/rounds/quoc-gia-quoc-gia-2023"' in fair


def test_events_page_separates_fairs_by_date_and_lists_showrooms(seeded_app: Flask) -> None:
    body = html(seeded_app.test_client(), "/events?lang=en")
    past = body.index("Past fairs")
    showrooms = body.index("<h2>Showrooms")
    undated = body.index("Fairs whose dates are not known")
    assert body.index(f'href="/events/{SHOWROOM}"') > showrooms
    assert past < body.index(f'href="/events/{FAIR_2019}"') < undated
    # Newest past fair first.
    assert body.index("khu vực phía Bắc năm 2024") < body.index("tiêu biểu năm 2019")
    assert "Sep 18, 2019 – Sep 22, 2019" in body
    assert "Dec 15, 2023 (end date unknown)" in body
    assert "until Dec 11, 2013 (start date unknown)" in body


def test_fair_page_shows_exhibitors_with_booths_and_their_certified_products(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    empty = html(client, f"/events/{FAIR_2019}?lang=en")
    assert "No exhibitors have been recorded for this event yet." in empty
    assert "Khu di tích Hoàng Thành Thăng Long" in empty and "Bộ Công Thương" in empty
    with session_of(seeded_app) as s:
        event = s.exec(select(Event).where(Event.slug == FAIR_2019)).one()
        khay = s.exec(select(Product).where(Product.slug == "khay-tra-tien-vua")).one()
        exhibitor = Exhibitor(event_id=event.id, producer_id=khay.producer_id, booth="B12")  # type: ignore[arg-type]
        s.add(exhibitor)
        s.flush()
        s.add(Exhibit(exhibitor_id=exhibitor.id, product_id=khay.id))  # type: ignore[arg-type]
        s.commit()
    body = html(client, f"/events/{FAIR_2019}?lang=en")
    assert KHAY_PRODUCER in body and "booth B12" in body and 'href="/products/khay-tra-tien-vua"' in body
    product = html(client, KHAY + "?lang=en")
    assert f'href="/events/{FAIR_2019}"' in product and "booth B12" in product


def test_home_counts_match_the_database(seeded_app: Flask) -> None:
    body = html(seeded_app.test_client(), "/?lang=en")
    with session_of(seeded_app) as s:
        products = s.exec(select(func.count()).select_from(Product)).one()
        national = s.exec(
            select(func.count())
            .select_from(Certificate)
            .join(SelectionRound, SelectionRound.id == Certificate.round_id)
            .where(SelectionRound.level == "quoc_gia")
        ).one()  # fmt: skip
        unclassified = s.exec(select(func.count()).select_from(Product).where(Product.group.is_(None))).one()  # type: ignore[union-attr]
    assert f"{products} products from" in body
    assert re.search(rf'level=quoc_gia&amp;status=all">{national}<', body)
    assert re.search(rf'Not yet classified</span> <span class="n">{unclassified}<', body)
    # Provinces link to the search filtered by the current province (Quảng Nam → Đà Nẵng).
    da_nang = seeddata.products_now_in("Đà Nẵng")
    link = r'href="/search\?province=da-nang&amp;status=all">Đà Nẵng</a>'
    assert re.search(rf'{link} <span class="n">{da_nang}<', body)
    assert "Latest certified (2025)" in body and 'href="/rounds/quoc-gia-quoc-gia-2025"' in body
    assert 'href="/events"' in body


@pytest.mark.parametrize(
    "url",
    ["/products/no-such-product", "/producers/nobody", "/provinces/atlantis", "/rounds/no-round",
     "/events/no-fair", "/events/no-fair.ics", "/no/such/page"],
)  # fmt: skip
def test_unknown_addresses_get_a_friendly_404(seeded_app: Flask, url: str) -> None:
    client = seeded_app.test_client()
    for locale in ("vi", "en"):
        response = client.get(url, query_string={"lang": locale})
        body = response.get_data(as_text=True)
        assert response.status_code == 404
        assert f'<html lang="{locale}">' in body and t(seeded_app, locale, "Page not found") in body
        assert 'action="/search"' in body and "Traceback" not in body


def test_a_crash_shows_a_translated_500_page_without_a_stack_trace(seeded_app: Flask) -> None:
    def boom() -> str:
        raise RuntimeError("secret internals")

    seeded_app.add_url_rule("/boom", "boom", boom)
    response = seeded_app.test_client().get("/boom", headers={"Accept-Language": "en"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in body and '<html lang="en">' in body
    assert "secret internals" not in body and "Traceback" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_are_cacheable_with_an_etag_and_vary_on_language(seeded_client: FlaskClient) -> None:
    response = seeded_client.get(KHAY)
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert {"Accept-Language", "Cookie"} <= set(response.vary)
    etag = response.headers["ETag"]
    again = seeded_client.get(KHAY, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert seeded_client.get(KHAY + "?lang=en").headers["ETag"] != etag


def test_a_fair_calendar_file_has_all_day_dates(seeded_client: FlaskClient) -> None:
    response = seeded_client.get(f"/events/{FAIR_2019}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert "DTSTART;VALUE=DATE:20190918\r\n" in body
    assert "DTEND;VALUE=DATE:20190923\r\n" in body  # exclusive: the day after 22/9
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_no_calendar_file_without_known_dates(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    with session_of(seeded_app) as s:
        undated = s.exec(select(Event).where(Event.kind == "fair", Event.start_date.is_(None))).first()  # type: ignore[union-attr]
    assert undated is not None
    for url in (f"/events/{undated.slug}.ics", f"/events/{SHOWROOM}.ics"):
        response = client.get(url + "?lang=en")
        assert response.status_code == 404 and "text/html" in response.content_type
        assert "No calendar file for this event" in response.get_data(as_text=True)
    page = html(client, f"/events/{undated.slug}?lang=en")
    assert ".ics" not in page and "dates unknown" in page


def test_product_photos_are_lazy_sized_and_served_from_media(seeded_app: Flask) -> None:
    media = seeded_app.config["MEDIA_DIR"]
    (media / "photos" / "ab").mkdir(parents=True)
    (media / "photos" / "ab" / "abc-md.webp").write_bytes(b"RIFF0000WEBPVP8 ")
    (media / "photos" / "ab" / "abc-md.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    with session_of(seeded_app) as s:
        khay = s.exec(select(Product).where(Product.slug == "khay-tra-tien-vua")).one()
        s.add(Photo(product_id=khay.id, file_key="photos/ab/abc-md.webp", width=800, height=533,  # type: ignore[arg-type]
                    alt="Khay trà chạm khắc"))  # fmt: skip
        s.commit()
    client = seeded_app.test_client()
    body = html(client, KHAY)
    assert '<source type="image/webp" srcset="/media/photos/ab/abc-md.webp">' in body
    assert re.search(r'<img src="/media/photos/ab/abc-md.jpg" alt="Khay trà chạm khắc"\s+loading="lazy"',
                     body)  # fmt: skip
    assert 'width="800" height="533"' in body
    response = client.get("/media/photos/ab/abc-md.webp")
    assert response.status_code == 200 and "max-age=31536000" in response.headers["Cache-Control"]
    assert client.get("/media/../catalogue.sqlite3").status_code == 404
    assert client.get("/media/photos/ab/missing.webp").status_code == 404


def test_a_page_showing_a_flashed_message_is_not_shared_by_caches(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    with client.session_transaction() as sess:
        sess["_flashes"] = [("message", "Đã lưu")]
    response = client.get("/provinces")
    assert "Đã lưu" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store" and "ETag" not in response.headers
    assert client.get("/provinces").headers["Cache-Control"] == "public, max-age=60"


def test_every_layout_names_an_icon_that_exists(seeded_client: FlaskClient, seeded_codes: list[str]) -> None:
    """Without one, every page load asks for /favicon.ico and logs a 404 in the visitor's console."""
    for path in ("/", f"/v/{seeded_codes[0]}"):
        page = seeded_client.get(path).get_data(as_text=True)
        icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
        assert icon, path
        assert seeded_client.get(icon.group(1)).status_code == 200
