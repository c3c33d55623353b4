"""Search engines and link previews (issue 17, deliverable 3): the sitemap lists every public
page with the time it last changed, robots.txt keeps crawlers out of the workspace and the
verification pages, every page names its canonical address and its other language, a shared
link shows the product's photo or a generated card, and the pages' JSON-LD states what a
search engine may show: a product's certifications, a producer, a fair, a showroom."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlmodel import Session, col, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine
from catalogue.fairs.models import Event
from catalogue.opendata import manifest, tasks
from catalogue.places.models import Province
from catalogue.registry import certificates, merging, product_photos
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound
from tests.fixtures.workspace import get_user, make_user

BASE = "http://registry.test"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def _db(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def _sitemap(client: FlaskClient, path: str = "/sitemap.xml") -> dict[str, str]:
    """``{address: lastmod}`` of one sitemap file."""
    answer = client.get(path)
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    root = ET.fromstring(answer.data)
    assert root.tag == f"{{{NS['sm']}}}urlset"
    out = {}
    for u in root.findall("sm:url", NS):
        loc = u.findtext("sm:loc", namespaces=NS) or ""
        # Each page by its canonical (Vietnamese) address, with its language alternates.
        assert loc.endswith("?lang=vi"), loc
        bare = loc.removesuffix("?lang=vi")
        links = {x.get("hreflang"): x.get("href") for x in u.findall("{http://www.w3.org/1999/xhtml}link")}
        assert links == {"vi": loc, "en": bare + "?lang=en", "x-default": bare}, loc
        out[bare] = u.findtext("sm:lastmod", namespaces=NS) or ""
    return out


def _public_pages(app: Flask) -> set[str]:
    """Every product, producer, province, round, fair and showroom page the database holds."""
    with _db(app) as s:
        kinds = [("products", Product.slug), ("producers", Producer.slug), ("provinces", Province.slug),
                 ("rounds", SelectionRound.slug), ("events", Event.slug)]  # fmt: skip
        return {
            f"{BASE}/{prefix}/{slug}" for prefix, column in kinds for slug in s.exec(select(column)).all()
        }


def _head(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    text = page.get_data(as_text=True)
    return text[: text.index("</head>")]


def _jsonld(client: FlaskClient, path: str) -> list[dict[str, Any]]:
    """Every JSON-LD block of a page, parsed as a search engine would."""
    page = client.get(path).get_data(as_text=True)
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert blocks, f"no JSON-LD on {path}"
    return [json.loads(b) for b in blocks]


def _meta(head: str, prop: str) -> str:
    match = re.search(rf'<meta property="{re.escape(prop)}" content="([^"]*)"', head)
    assert match, f"no {prop}"
    return match.group(1)


# ----------------------------------------------------------------------------- sitemap and robots


def test_sitemap_lists_every_public_page_with_lastmod(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    listed = _sitemap(client)
    expected = _public_pages(seeded_app)
    with _db(seeded_app) as s:
        kinds = {e.kind for e in s.exec(select(Event)).all()}
    assert kinds == {"fair", "showroom"}  # both kinds of event page are covered below
    assert expected <= set(listed), sorted(expected - set(listed))[:5]
    for fixed in ("/", "/provinces", "/rounds", "/events", "/status", "/search"):
        assert BASE + fixed in listed
    for address, lastmod in listed.items():
        assert address.startswith(BASE + "/")
        assert datetime.fromisoformat(lastmod).tzinfo is not None, address
        assert not address.startswith((f"{BASE}/admin", f"{BASE}/v/", f"{BASE}/verify")), address
    # Each listed page answers: the sitemap never sends a crawler to a missing page.
    for address in [a for a in listed if "/products/" in a][:5] + [a for a in listed if "/events/" in a]:
        assert client.get(address.removeprefix(BASE)).status_code == 200, address


def test_a_changed_product_gets_a_newer_lastmod(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    client = seeded_app.test_client()
    before = _sitemap(client)
    make_certificate(product="Chè Shan tuyết mới", certificate_number="LC-77/GCN", year=2026,
                     issued_on=date(2026, 5, 1))  # fmt: skip
    with _db(seeded_app) as s:
        product = s.exec(select(Product).where(Product.name == "Chè Shan tuyết mới")).one()
    after = _sitemap(client)
    address = f"{BASE}/products/{product.slug}"
    assert address not in before and address in after
    assert datetime.fromisoformat(after[address]) >= max(datetime.fromisoformat(v) for v in before.values())


def test_sitemap_leaves_out_merged_away_records(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    make_certificate(product="Chè Suối Giàng", producer="HTX Chè Suối Giàng", year=2024,
                     certificate_number="LC-1/GCN", issued_on=date(2024, 9, 10))  # fmt: skip
    make_certificate(product="Trà Suối Giàng", producer="Hợp tác xã Chè Suối Giàng", year=2025,
                     certificate_number="LC-2/GCN", issued_on=date(2025, 8, 20))  # fmt: skip
    with seeded_app.test_request_context("/"), _db(seeded_app) as s:
        actor = get_user(s, "laocai@so.gov.vn")
        kept = s.exec(select(Producer).where(Producer.name == "HTX Chè Suối Giàng")).one()
        dup = s.exec(select(Producer).where(Producer.name == "Hợp tác xã Chè Suối Giàng")).one()
        seen = merging.preview(s, actor=actor, kind="producer", survivor=kept, duplicate=dup)
        merging.merge(s, actor=actor, kind="producer", survivor=kept, duplicate=dup, token=seen.token,
                      fill_blanks=False)  # fmt: skip
        s.commit()
    client = seeded_app.test_client()
    listed = _sitemap(client)
    assert f"{BASE}/producers/{kept.slug}" in listed
    assert f"{BASE}/producers/{dup.slug}" not in listed
    assert client.get(f"/producers/{dup.slug}").status_code == 301  # the old address still leads somewhere
    assert set(listed) >= _public_pages(seeded_app)


def test_past_the_limit_the_sitemap_is_an_index_of_parts(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    whole = _sitemap(client)
    seeded_app.config["SITEMAP_MAX_URLS"] = 40
    answer = client.get("/sitemap.xml")
    root = ET.fromstring(answer.data)
    assert root.tag == f"{{{NS['sm']}}}sitemapindex"
    parts = [(e.findtext("sm:loc", namespaces=NS) or "", e.findtext("sm:lastmod", namespaces=NS) or "")
             for e in root.findall("sm:sitemap", NS)]  # fmt: skip
    assert len(parts) == -(-len(whole) // 40)
    union: dict[str, str] = {}
    for loc, lastmod in parts:
        assert loc.startswith(BASE + "/sitemap-") and datetime.fromisoformat(lastmod)
        chunk = _sitemap(client, loc.removeprefix(BASE))
        assert 0 < len(chunk) <= 40
        union.update(chunk)
    assert union == whole
    assert client.get(f"/sitemap-{len(parts) + 1}.xml").status_code == 404
    # Once the open-data generation wrote them, the same files are sent, not computed.
    tasks.regenerate(seeded_app, force=True)
    folder = manifest.live_folder(seeded_app)
    assert folder is not None and (folder / "sitemap" / "sitemap.xml").is_file()
    assert client.get("/sitemap.xml").data == (folder / "sitemap" / "sitemap.xml").read_bytes()
    assert _sitemap(client, "/sitemap-1.xml") == _sitemap(client, parts[0][0].removeprefix(BASE))
    assert client.get(f"/sitemap-{len(parts) + 1}.xml").status_code == 404


def test_the_sitemap_sent_is_the_latest_generations(seeded_app: Flask, clock: Any) -> None:
    """Computing it takes seconds at 100,000 products: a request sends what the background wrote."""
    client = seeded_app.test_client()
    tasks.regenerate(seeded_app, force=True)
    product = _a_product(seeded_app)
    with _db(seeded_app) as s:
        renamed = s.get(Product, product.id)
        assert renamed is not None
        renamed.slug = "da-doi-ten-kiem-thu"
        s.add(renamed)
        s.commit()
    assert f"{BASE}/products/da-doi-ten-kiem-thu" not in _sitemap(client)
    clock.shift(tasks.BATCH)
    tasks.regenerate(seeded_app, force=True)
    assert f"{BASE}/products/da-doi-ten-kiem-thu" in _sitemap(client)


def test_robots_txt_keeps_crawlers_out_of_the_workspace_and_verification(seeded_client: FlaskClient) -> None:
    answer = seeded_client.get("/robots.txt")
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    for path in ("/admin/", "/v/", "/verify"):
        assert f"Disallow: {path}" in lines
    assert "Disallow: /" not in lines  # the public pages stay open
    assert f"Sitemap: {BASE}/sitemap.xml" in lines


# ----------------------------------------------------------------------------- canonical and languages


def _a_product(app: Flask) -> Product:
    with _db(app) as s:
        product = s.exec(select(Product).order_by(col(Product.id))).first()
    assert product is not None
    return product


def test_a_product_page_names_its_canonical_address_and_both_languages(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    slug = _a_product(seeded_app).slug
    address = f"{BASE}/products/{slug}"
    for lang in ("vi", "en"):
        head = _head(client, f"/products/{slug}?lang={lang}&utm_source=x")
        assert f'<link rel="canonical" href="{address}?lang={lang}">' in head
        assert f'<link rel="alternate" hreflang="vi" href="{address}?lang=vi">' in head
        assert f'<link rel="alternate" hreflang="en" href="{address}?lang=en">' in head
        assert f'<link rel="alternate" hreflang="x-default" href="{address}">' in head
        assert _meta(head, "og:url") == f"{address}?lang={lang}"
        assert _meta(head, "og:locale") == {"vi": "vi_VN", "en": "en_GB"}[lang]
    # The language negotiated from the browser names itself too.
    head = client.get(f"/products/{slug}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'<link rel="canonical" href="{address}?lang=en">' in head
    # A later page of a list keeps its page number; the workspace is never indexed.
    province = client.get("/provinces").get_data(as_text=True)
    first = re.search(r'href="(/provinces/[^"]+)"', province)
    assert first
    head = _head(client, first.group(1) + "?page=2&lang=vi")
    assert f'href="{BASE}{first.group(1)}?page=2&amp;lang=vi"' in head
    login = client.get("/admin/login").get_data(as_text=True)
    assert 'rel="canonical"' not in login and '<meta name="robots" content="noindex">' in login
    # Pages whose view passes an empty ``error`` (search, statistics) are public pages all the same.
    for path in ("/search?q=gom", "/statistics", "/data/"):
        head = _head(client, path + ("&" if "?" in path else "?") + "lang=en")
        assert f'<link rel="canonical" href="{BASE}{path.split("?")[0]}?lang=en">' in head, path
        assert "noindex" not in head, path
        assert 'type="application/atom+xml"' in head, path


# ----------------------------------------------------------------------------- link previews


def _is_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.verify()
    return Image.open(io.BytesIO(data))


def test_a_product_without_photo_is_shared_with_a_generated_card(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_certificate(product="Miến dong không ảnh", certificate_number="LC-5/GCN", year=2025,
                     issued_on=date(2025, 9, 1))  # fmt: skip
    with _db(seeded_app) as s:
        product = s.exec(select(Product).where(Product.name == "Miến dong không ảnh")).one()
    client = seeded_app.test_client()
    head = _head(client, f"/products/{product.slug}?lang=en")
    image = _meta(head, "og:image")
    assert image.startswith(f"{BASE}/og/products/{product.slug}.png")
    card = client.get(image.removeprefix(BASE))
    assert card.status_code == 200 and card.mimetype == "image/png"
    assert _is_png(card.data).size == (1200, 630)
    # Drawn once, then served from the media folder; unknown products have no card.
    cached = list((seeded_app.config["MEDIA_DIR"] / "og").rglob("*.png"))
    assert len(cached) == 1
    assert client.get(image.removeprefix(BASE)).data == card.data
    assert client.get("/og/products/no-such-product.png").status_code == 404
    # Revoked, the card says so (a new card: what it says is its cache key).
    with seeded_app.test_request_context("/"), _db(seeded_app) as s:
        cert = s.exec(select(Certificate).where(Certificate.number == "LC-5/GCN")).one()
        revoke_certificate(s, actor=SYSTEM, certificate=cert, reason="Vi phạm", reference="2/QĐ")
        s.commit()
    revoked = client.get(image.removeprefix(BASE))
    assert revoked.status_code == 200 and revoked.data != card.data
    assert len(list((seeded_app.config["MEDIA_DIR"] / "og").rglob("*.png"))) == 2
    described = _meta(_head(client, f"/products/{product.slug}?lang=en"), "og:description")
    assert "Revoked" in described and "HTX Kiểm thử" in described


def test_a_product_with_a_photo_is_shared_with_its_photo(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    make_certificate(product="Mật ong bạc hà có ảnh", certificate_number="LC-6/GCN", year=2025,
                     issued_on=date(2025, 9, 1))  # fmt: skip
    photo = io.BytesIO()
    Image.new("RGB", (900, 600), "olive").save(photo, "PNG")
    with seeded_app.test_request_context("/"), _db(seeded_app) as s:
        product = s.exec(select(Product).where(Product.name == "Mật ong bạc hà có ảnh")).one()
        product_photos.add_photo(
            s, actor=get_user(s, "laocai@so.gov.vn"), product=product, data=photo.getvalue()
        )
        s.commit()
    client = seeded_app.test_client()
    image = _meta(_head(client, f"/products/{product.slug}"), "og:image")
    assert image.startswith(f"{BASE}/media/photos/") and image.endswith(".jpg")
    shown = client.get(image.removeprefix(BASE))
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(shown.data)).size[0] <= 800


# ----------------------------------------------------------------------------- JSON-LD


def _product_ld(client: FlaskClient, slug: str) -> dict[str, Any]:
    blocks = [b for b in _jsonld(client, f"/products/{slug}") if b.get("@type") == "Product"]
    assert len(blocks) == 1
    return blocks[0]


def _certification(product: dict[str, Any], number: str) -> dict[str, Any]:
    found = [c for c in product["hasCertification"] if c.get("certificationIdentification") == number]
    assert len(found) == 1, product["hasCertification"]
    return found[0]


def test_a_product_page_names_its_certifications_in_schema_org_terms(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    product_name = "Chè Shan tuyết chứng nhận"
    make_certificate(product=product_name, certificate_number="LC-10/GCN", year=2025,
                     issued_on=date(2025, 9, 1), expires_on=date(2028, 9, 1),
                     issuing_authority="UBND tỉnh Lào Cai thử")  # fmt: skip
    make_certificate(product=product_name, certificate_number="LC-11/GCN", year=2022,
                     issued_on=date(2022, 3, 1), expires_on=date(2025, 3, 1))  # fmt: skip
    make_certificate(product=product_name, certificate_number="LC-12/GCN", year=2024,
                     issued_on=date(2024, 6, 1))  # fmt: skip
    client = seeded_app.test_client()
    with _db(seeded_app) as s:
        product = s.exec(select(Product).where(Product.name == product_name)).one()
        producer = s.get(Producer, product.producer_id)
        assert producer is not None
        held = len(s.exec(select(Certificate).where(Certificate.product_id == product.id)).all())
    data = _product_ld(client, product.slug)
    assert data["@context"] == "https://schema.org"
    assert data["name"] == product_name and data["url"] == f"{BASE}/products/{product.slug}"
    assert data["manufacturer"]["name"] == producer.name
    assert len(data["hasCertification"]) == held
    valid = _certification(data, "LC-10/GCN")
    assert valid["@type"] == "Certification"
    assert valid["certificationStatus"] == "https://schema.org/CertificationActive"
    assert valid["validFrom"] == "2025-09-01" and valid["expires"] == "2028-09-01"
    assert valid["issuedBy"] == {"@type": "Organization", "name": "UBND tỉnh Lào Cai thử"}
    assert valid["about"]["@id"] == data["@id"]
    expired = _certification(data, "LC-11/GCN")
    assert expired["certificationStatus"] == "https://schema.org/CertificationInactive"
    # No expiry printed in the decision: none is stated, whatever the registry assumes.
    assumed = _certification(data, "LC-12/GCN")
    assert "expires" not in assumed and assumed["validFrom"] == "2024-06-01"
    assert assumed["certificationStatus"] == "https://schema.org/CertificationActive"

    with seeded_app.test_request_context("/"), _db(seeded_app) as s:
        cert = s.exec(select(Certificate).where(Certificate.number == "LC-10/GCN")).one()
        certificates.revoke_certificate(s, actor=get_user(s, "laocai@so.gov.vn"), certificate=cert,
                                        reason="Vi phạm chất lượng", reference="QĐ 9/QĐ-UBND")  # fmt: skip
        s.commit()
    revoked = _certification(_product_ld(client, product.slug), "LC-10/GCN")
    assert revoked["certificationStatus"] == "https://schema.org/CertificationInactive"


def test_json_ld_stays_data_whatever_a_name_holds(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    name = "Bánh </script><script>alert(1)</script> & 'quà'"
    make_certificate(product=name, certificate_number="LC-13/GCN", year=2025, issued_on=date(2025, 9, 1))
    with _db(seeded_app) as s:
        product = s.exec(select(Product).where(Product.name == name)).one()
    client = seeded_app.test_client()
    page = client.get(f"/products/{product.slug}").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert _product_ld(client, product.slug)["name"] == name


def test_producer_fair_and_showroom_pages_describe_themselves(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    with _db(seeded_app) as s:
        producer = s.exec(select(Producer).order_by(col(Producer.id))).first()
        fair = s.exec(select(Event).where(Event.kind == "fair", Event.start_date.is_not(None))).first()  # type: ignore[union-attr]
        showroom = s.exec(select(Event).where(Event.kind == "showroom")).first()
    assert producer and fair and showroom
    (org,) = _jsonld(client, f"/producers/{producer.slug}")
    assert org["@type"] == "Organization" and org["name"] == producer.name
    assert org["url"] == f"{BASE}/producers/{producer.slug}" and org["address"]["addressCountry"] == "VN"
    if not producer.contacts_public:
        assert "telephone" not in org and "email" not in org

    (event,) = _jsonld(client, f"/events/{fair.slug}")
    assert event["@type"] == "Event" and event["name"] == fair.name
    assert event["startDate"] == fair.start_date.isoformat()  # type: ignore[union-attr]
    assert event["location"]["@type"] == "Place"
    if fair.venue:
        assert event["location"]["name"] == fair.venue
    if fair.organiser:
        assert event["organizer"]["name"] == fair.organiser

    (store,) = _jsonld(client, f"/events/{showroom.slug}")
    assert store["@type"] == "Store" and store["name"] == showroom.name
    assert store["address"]["@type"] == "PostalAddress" and "startDate" not in store
