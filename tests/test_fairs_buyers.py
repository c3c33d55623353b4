"""Fairs that buyers can use (issue 17): the calendar of every fair, exhibitors chosen by name in
the workspace, and the printable buyer catalogue whose QR codes open each product's page."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from sqlalchemy import func
from sqlmodel import Session, col, select

from catalogue.accounts.models import User
from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine, pk
from catalogue.fairs import services as fairs
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.registry.catalog import load_summaries
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate, Producer, Product
from catalogue.text import fold
from tests.conftest import REQUIRE_BROWSER
from tests.fixtures.workspace import make_user, post, signed_in
from tests.test_public_pages import t

BASE = "http://registry.test"  # PUBLIC_BASE_URL in tests/conftest.py


def _session(app: Flask) -> Session:
    with app.app_context():
        return Session(get_engine(), expire_on_commit=False)


def _fair(app: Flask) -> Event:
    with _session(app) as s:
        return s.exec(select(Event).where(Event.kind == "fair").order_by(col(Event.id))).first()  # type: ignore[return-value]


def _producer_with_products(app: Flask, at_least: int = 2) -> tuple[Producer, list[Product]]:
    """A seeded producer with several certified products (found in the database, never assumed)."""
    with _session(app) as s:
        counted = (
            select(Product.producer_id, func.count(func.distinct(Product.id)))
            .join(Certificate, col(Certificate.product_id) == Product.id)
            .where(col(Product.producer_id).is_not(None))
            .group_by(col(Product.producer_id))
            .having(func.count(func.distinct(Product.id)) >= at_least)
            .order_by(col(Product.producer_id))
        )
        producer_id = s.exec(counted).first()[0]  # type: ignore[index]
        producer = s.get(Producer, producer_id)
        assert producer is not None
        return producer, fairs.certified_products(s, producer)


def _exhibitors(app: Flask, event: Event) -> list[tuple[Exhibitor, list[int]]]:
    with _session(app) as s:
        rows = s.exec(
            select(Exhibitor).where(Exhibitor.event_id == event.id).order_by(col(Exhibitor.id))
        ).all()
        return [
            (ex, list(s.exec(select(Exhibit.product_id).where(Exhibit.exhibitor_id == ex.id)).all()))
            for ex in rows
        ]


# ----------------------------------------------------------------------------- /events.ics


def test_the_calendar_of_all_fairs_holds_every_dated_fair_and_parses(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    response = client.get("/events.ics?lang=en")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    parsed = icalendar.Calendar.from_ical(body)
    assert str(parsed["X-WR-CALNAME"]) == "Fairs of certified rural industrial products"
    entries = parsed.walk("VEVENT")
    with _session(seeded_app) as s:
        events = s.exec(select(Event)).all()
    dated = {e.slug: e for e in events if e.kind == "fair" and e.start_date is not None}
    assert dated, "the seed has dated fairs"
    urls = {str(entry["URL"]): entry for entry in entries}
    # Every dated fair, past and upcoming, once; no showroom and no undated fair.
    assert sorted(urls) == sorted(f"{BASE}/events/{slug}" for slug in dated)
    for slug, event in dated.items():
        entry = urls[f"{BASE}/events/{slug}"]
        assert str(entry["SUMMARY"]) == event.name
        assert entry.decoded("DTSTART") == event.start_date
        if event.venue:
            assert str(entry["LOCATION"]).startswith(event.venue)
        assert entry.decoded("DTSTAMP").tzinfo is not None
    # Lines are CRLF and folded at 75 octets.
    assert body.endswith("END:VCALENDAR\r\n") and all(len(x.encode()) <= 75 for x in body.split("\r\n"))


def test_calendar_uids_are_stable_and_shared_with_each_fairs_own_file(seeded_app: Flask) -> None:
    client = seeded_app.test_client()

    def uids(path: str) -> dict[str, str]:
        parsed = icalendar.Calendar.from_ical(client.get(path).get_data(as_text=True))
        return {str(e["URL"]): str(e["UID"]) for e in parsed.walk("VEVENT")}

    first, again = uids("/events.ics"), uids("/events.ics?lang=en")
    assert first == again and len(set(first.values())) == len(first)
    url, uid = next(iter(first.items()))
    assert uids(url.removeprefix(BASE) + ".ics") == {url: uid}
    assert uid.endswith("@registry.test")


def test_the_calendar_is_named_in_the_visitors_language(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    for locale in ("vi", "en"):
        body = client.get(f"/events.ics?lang={locale}").get_data(as_text=True)
        name = str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"])
        assert name == t(seeded_app, locale, "Fairs of certified rural industrial products")


def test_the_fairs_page_offers_the_subscription(seeded_client: FlaskClient) -> None:
    page = seeded_client.get("/events?lang=en").get_data(as_text=True)
    assert '<a href="webcal://registry.test/events.ics">Subscribe to all fairs</a>' in page
    assert f'href="{BASE}/events.ics"' in page


# ----------------------------------------------------------------------------- exhibitors by name


@pytest.fixture
def ministry(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, "cuc@moit.gov.vn", "ministry")


def test_an_official_adds_an_exhibitor_by_typing_its_name(seeded_app: Flask, ministry: FlaskClient) -> None:
    fair = _fair(seeded_app)
    producer, products = _producer_with_products(seeded_app)
    search = f"/admin/events/{fair.id}/exhibitors"
    # The fair's page offers the search; no number is asked for.
    form_page = ministry.get(f"/admin/events/{fair.id}?lang=en").get_data(as_text=True)
    assert f'action="{search}"' in form_page and "Producer number" not in form_page
    # Typed without diacritics and in lower case, the name still finds the producer and its products.
    page = ministry.get(search, query_string={"q": fold(producer.name), "lang": "en"}).get_data(as_text=True)
    assert producer.name in page
    for product in products:
        assert f'name="products" value="{product.id}"' in page and product.name in page
    assert page.count("checked") >= len(products)  # every certified product ticked at first
    # Choose it, at booth B12, showing all but its last product.
    shown = products[:-1]
    response = post(
        ministry,
        search,
        {"producer": str(producer.id), "booth": "B12", "products": [str(p.id) for p in shown]},
        token_from=f"{search}?q={fold(producer.name)}",
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/events/{fair.id}")
    ((exhibitor, product_ids),) = [
        x for x in _exhibitors(seeded_app, fair) if x[0].producer_id == producer.id
    ]
    assert exhibitor.booth == "B12" and sorted(product_ids) == sorted(pk(p) for p in shown)
    # The public page lists the exhibitor at its booth with the products it shows.
    public = seeded_app.test_client().get(f"/events/{fair.slug}?lang=en").get_data(as_text=True)
    assert producer.name in public and "booth B12" in public
    assert all(p.name in public for p in shown) and products[-1].name not in public
    # Added twice: refused with a message, nothing doubled.
    again = post(ministry, search + "?lang=en", {"producer": str(producer.id), "booth": "C1",
                 "products": [str(products[-1].id)]}, follow_redirects=True, token_from=search)  # fmt: skip
    assert "already exhibits here" in again.get_data(as_text=True)
    assert len([x for x in _exhibitors(seeded_app, fair) if x[0].producer_id == producer.id]) == 1


def test_a_name_that_matches_nothing_says_so_and_changes_nothing(
    seeded_app: Flask, ministry: FlaskClient
) -> None:
    fair = _fair(seeded_app)
    before = _exhibitors(seeded_app, fair)
    response = ministry.get(
        f"/admin/events/{fair.id}/exhibitors", query_string={"q": "zzqx khong co", "lang": "en"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No producer's name matches “zzqx khong co”" in page
    assert 'name="producer"' not in page
    assert _exhibitors(seeded_app, fair) == before


def test_odd_producer_numbers_and_huge_ids_are_refused_not_errors(
    seeded_app: Flask, ministry: FlaskClient
) -> None:
    fair = _fair(seeded_app)
    search = f"/admin/events/{fair.id}/exhibitors"
    before = _exhibitors(seeded_app, fair)
    for odd in ("²", "99999999999999999999", "-1"):
        response = post(
            ministry, search + "?lang=en", {"producer": odd}, token_from=search, follow_redirects=True
        )
        assert (
            response.status_code == 200
            and "Choose the producer from the names found." in response.get_data(as_text=True)
        )
    assert _exhibitors(seeded_app, fair) == before
    for path in ("/admin/events/99999999999999999999", "/admin/products/99999999999999999999"):
        assert ministry.get(path).status_code == 404


def test_unticking_every_product_is_refused(seeded_app: Flask, ministry: FlaskClient) -> None:
    fair = _fair(seeded_app)
    producer, _products = _producer_with_products(seeded_app)
    search = f"/admin/events/{fair.id}/exhibitors"
    response = post(ministry, search + "?lang=en", {"producer": str(producer.id), "booth": "A"},
                    token_from=search, follow_redirects=True)  # fmt: skip
    assert "Tick at least one of the producer" in response.get_data(as_text=True)
    assert not [x for x in _exhibitors(seeded_app, fair) if x[0].producer_id == producer.id]


def test_a_product_of_another_producer_cannot_be_slipped_in(seeded_app: Flask, ministry: FlaskClient) -> None:
    fair = _fair(seeded_app)
    producer, _products = _producer_with_products(seeded_app)
    with _session(seeded_app) as s:
        other = s.exec(select(Product).where(Product.producer_id != producer.id)).first()
    assert other is not None
    search = f"/admin/events/{fair.id}/exhibitors"
    response = post(
        ministry, search, {"producer": str(producer.id), "products": [str(other.id)]}, token_from=search
    )
    assert response.status_code == 302
    assert not [x for x in _exhibitors(seeded_app, fair) if x[0].producer_id == producer.id]


def test_a_provincial_official_cannot_add_exhibitors(seeded_app: Flask) -> None:
    """Fairs are the ministry's (permissions: ``manage_events``): a Sở official is refused both steps."""
    fair = _fair(seeded_app)
    producer, products = _producer_with_products(seeded_app)
    with _session(seeded_app) as s:
        province = s.exec(select(Producer.province_id).where(Producer.id == producer.id)).one()
        from catalogue.places.services import Provinces

        known = Provinces.load(s)
        home = known.current_of(known.get(province))
        assert home is not None
    for name in (home.short_name, "Lào Cai" if home.short_name != "Lào Cai" else "Huế"):
        client = signed_in(seeded_app, f"so-{fold(name).replace(' ', '')}@so.gov.vn", "province", name)
        search = f"/admin/events/{fair.id}/exhibitors"
        assert client.get(search, query_string={"q": producer.name}).status_code == 403
        response = post(
            client, search, {"producer": str(producer.id), "products": [str(p.id) for p in products]}
        )
        assert response.status_code == 403
    assert not [x for x in _exhibitors(seeded_app, fair) if x[0].producer_id == producer.id]


def test_the_name_search_folds_diacritics_and_lists_only_matches(seeded_app: Flask) -> None:
    make_user(seeded_app, "cuc2@moit.gov.vn", "ministry")
    producer, _products = _producer_with_products(seeded_app)
    with _session(seeded_app) as s, seeded_app.test_request_context("/?lang=en"):
        actor = s.exec(select(User).where(User.email == "cuc2@moit.gov.vn")).one()
        upper = fairs.producer_matches(s, actor=actor, query=producer.name.upper())
        bare = fairs.producer_matches(s, actor=actor, query=fold(producer.name))
        assert producer.id in [m.producer.id for m in upper.items] == [m.producer.id for m in bare.items]
        words = fold(producer.name).split()
        assert all(all(w in fold(m.producer.name) for w in words) for m in bare.items)
        assert fairs.producer_matches(s, actor=actor, query="   ").items == []


# ----------------------------------------------------------------------------- the buyer catalogue


def _svg_to_image(svg: str, scale: int = 8) -> Image.Image:
    """Rasterise :func:`catalogue.verification.qr.render_svg`'s path of horizontal runs."""
    n = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    image = Image.new("L", (n * scale, n * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle([x0, y0, x0 + int(w) * scale - 1, y0 + scale - 1], fill=0)
    return image


def _decode(image: Image.Image) -> list[str]:
    try:
        from pyzbar.pyzbar import ZBarSymbol, decode
    except ImportError as exc:  # libzbar0 missing: skip on a laptop, fail in CI
        if REQUIRE_BROWSER:
            raise
        pytest.skip(f"zbar decoder not installed ({exc})")
    return [s.data.decode() for s in decode(image, symbols=[ZBarSymbol.QRCODE])]


def _exhibit(app: Flask, event: Event, booth: str = "A7") -> tuple[Producer, list[Product]]:
    """A seeded producer shows all its certified products at ``event`` (added through the service)."""
    producer, products = _producer_with_products(app)
    email = f"cuc-{event.id}@moit.gov.vn"
    make_user(app, email, "ministry")
    with _session(app) as s, app.test_request_context("/?lang=en"):
        actor = s.exec(select(User).where(User.email == email)).one()
        fairs.add_exhibitor(
            s, actor=actor, event=s.merge(event), producer=s.merge(producer), booth=booth,
            products=[s.merge(p) for p in products],
        )  # fmt: skip
        s.commit()
    return producer, products


def test_the_buyer_catalogue_lists_exhibitors_products_and_qr_codes_that_open_each_product(
    seeded_app: Flask,
) -> None:
    fair = _fair(seeded_app)
    producer, products = _exhibit(seeded_app, fair)
    client = seeded_app.test_client()
    assert f"/events/{fair.slug}/catalogue" in client.get(f"/events/{fair.slug}").get_data(as_text=True)
    response = client.get(f"/events/{fair.slug}/catalogue?lang=en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert producer.name in page and "booth A7" in page and "Print" in page
    assert "<script" not in page and 'style="' not in page and len(page.encode()) < 60 * 1024
    for product in products:
        url = f"{BASE}/products/{product.slug}"
        assert product.name in page and url in page
        src = f"/events/qr/{product.slug}.svg"
        assert f'src="{src}"' in page
        image = client.get(src)
        assert image.status_code == 200 and image.mimetype == "image/svg+xml"
        assert _decode(_svg_to_image(image.get_data(as_text=True))) == [url]
    # Each product's group, level, year and status, as the registry derives them today.
    with _session(seeded_app) as s, seeded_app.test_request_context("/?lang=en"):
        for summary in load_summaries(s, [pk(p) for p in products]):
            card = page[page.index(summary.product.name) :]
            card = card[: card.index("</li>")]
            assert summary.best is not None and summary.group is not None
            assert summary.group.label in card and summary.best.level.label in card
            assert str(summary.best.year) in card


def test_the_buyer_catalogue_without_exhibitors_and_for_unknown_slugs(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    with _session(seeded_app) as s:
        showroom = s.exec(select(Event).where(Event.kind == "showroom")).first()
    assert showroom is not None
    page = client.get(f"/events/{showroom.slug}/catalogue?lang=en").get_data(as_text=True)
    assert showroom.name in page and "No exhibitors have been recorded" in page
    assert client.get("/events/no-such-fair/catalogue").status_code == 404
    assert client.get("/events/qr/no-such-product.svg").status_code == 404


def test_the_buyer_catalogue_for_a_showroom_lists_its_exhibitors(seeded_app: Flask) -> None:
    with _session(seeded_app) as s:
        showroom = s.exec(select(Event).where(Event.kind == "showroom")).first()
    assert showroom is not None
    producer, products = _exhibit(seeded_app, showroom, booth="12")
    page = seeded_app.test_client().get(f"/events/{showroom.slug}/catalogue?lang=en").get_data(as_text=True)
    assert producer.name in page and "booth 12" in page and all(p.name in page for p in products)


@pytest.mark.browser
def test_the_printed_catalogue_in_chromium_shows_scannable_codes(
    seeded_app: Flask, live_server: str, browser: Any
) -> None:
    """Printed (print media, no JavaScript), the page drops the site's chrome and each QR decodes."""
    fair = _fair(seeded_app)
    producer, products = _exhibit(seeded_app, fair)
    context = browser.new_context(locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    try:
        page.emulate_media(media="print")
        assert page.goto(f"{live_server}/events/{fair.slug}/catalogue?lang=en").status == 200
        assert not page.locator(".site-header").is_visible() and not page.locator(".print-hint").is_visible()
        card = page.locator(".exhibitor-card", has_text=producer.name)
        assert card.evaluate("e => getComputedStyle(e).breakInside") == "avoid"
        codes = card.locator("img.qr")
        assert codes.count() == len(products)
        for i, product in enumerate(products):
            code = codes.nth(i)
            assert code.evaluate("e => e.complete && e.naturalWidth > 0")
            shot = Image.open(io.BytesIO(code.screenshot(scale="device"))).convert("L")
            enlarged = shot.resize((shot.width * 4, shot.height * 4), Image.Resampling.NEAREST)
            assert _decode(enlarged) == [f"{BASE}/products/{product.slug}"]
        assert page.pdf(format="A4").startswith(b"%PDF")
    finally:
        context.close()


def test_a_revoked_product_is_not_offered_to_show_at_a_fair(
    seeded_app: Flask, ministry: FlaskClient, make_certificate: Any
) -> None:
    for n, product in enumerate(("Nón lá kiểm thử còn hiệu lực", "Nón lá kiểm thử bị thu hồi")):
        make_certificate(product=product, producer="HTX Nón lá kiểm thử", certificate_number=f"{n}/NON",
                         year=2025, issued_on=date(2025, 6, 1))  # fmt: skip
    with seeded_app.test_request_context("/"), _session(seeded_app) as s:
        revoked = s.exec(select(Certificate).where(Certificate.number == "1/NON")).one()
        revoke_certificate(s, actor=SYSTEM, certificate=revoked, reason="Vi phạm", reference="1/QĐ")
        s.commit()
    fair = _fair(seeded_app)
    page = ministry.get(
        f"/admin/events/{fair.id}/exhibitors", query_string={"q": "non la kiem thu", "lang": "en"}
    )
    text = page.get_data(as_text=True)
    assert "Nón lá kiểm thử còn hiệu lực" in text and "Nón lá kiểm thử bị thu hồi" not in text
