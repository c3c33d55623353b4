"""The scan page: counting, caching, size, language, look-ups, fake reports, labels, rate limits."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import text
from sqlmodel import Session, select

from catalogue.clock import utcnow
from catalogue.db import get_engine
from catalogue.verification import counting
from catalogue.verification.models import FakeReport
from tests import seeddata
from tests.conftest import phone
from tests.fixtures.workspace import login, make_user

EN = {"Accept-Language": "en"}
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _row(app: Flask, sql: str, **params: object) -> Any:
    """One row, read in its own app context (a long-lived one would share ``g`` across requests)."""
    with app.app_context(), get_engine().connect() as conn:
        return conn.execute(text(sql), params).one()


def _reports(app: Flask) -> list[FakeReport]:
    with app.app_context(), Session(get_engine()) as session:
        return list(session.exec(select(FakeReport)).all())


def _count(app: Flask, code: str) -> int:
    """The stored count: checks before the check log (``certificate.check_count``) plus the log's."""
    with app.app_context(), get_engine().connect() as conn:
        before = int(conn.execute(text("SELECT check_count FROM certificate WHERE verify_code = :c"),
                                  {"c": code}).scalar_one())  # fmt: skip
        tally = counting.tally(code)
    assert tally is not None
    return before + tally.count


# ----------------------------------------------------------------------------- counting and caching


def test_the_page_counts_devices_per_day_not_page_loads(seeded_app: Flask, seeded_codes: list[str]) -> None:
    code = seeded_codes[1]
    client = seeded_app.test_client()
    assert _count(seeded_app, code) == 0
    first = client.get(f"/v/{code}", headers=phone(1))
    assert "1 time since" in first.get_data(as_text=True) and _count(seeded_app, code) == 1
    for n in range(2, 6):
        html = seeded_app.test_client().get(f"/v/{code}", headers=phone(n)).get_data(as_text=True)
        assert f"{n} times since" in html and "each phone or computer counts once a day" in html
    # One device reloading 100 times adds one device-day (its loads are still logged).
    for _ in range(100):
        html = seeded_app.test_client().get(f"/v/{code}", headers=phone(6)).get_data(as_text=True)
    assert "6 times since" in html and _count(seeded_app, code) == 105
    api = client.get(f"/api/v1/verify/{code}", headers=phone(6)).get_json()
    assert api["device_days"] == 6 and api["check_count"] == 106


def test_link_preview_fetchers_are_never_counted(seeded_app: Flask, seeded_codes: list[str]) -> None:
    code = seeded_codes[1]
    client = seeded_app.test_client()
    for agent in ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
                  "TelegramBot (like TwitterBot)", "WhatsApp/2.23.20.0 A", "Zalo", "Twitterbot/1.0",
                  "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", ""):  # fmt: skip
        page = client.get(f"/v/{code}", headers={**EN, "User-Agent": agent})
        assert page.status_code == 200 and 'class="verdict v-' in page.get_data(as_text=True)
        assert client.get(f"/api/v1/verify/{code}", headers={"User-Agent": agent}).status_code == 200
    assert _count(seeded_app, code) == 0
    # A person who scanned with Zalo's own scanner opens Zalo's in-app browser: counted.
    zalo_browser = (
        "Mozilla/5.0 (Linux; Android 12; SM-A125F) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Mobile Safari/537.36 Zalo android/12100 ZaloTheme/light ZaloLanguage/vn"
    )
    client.get(f"/v/{code}", headers={**EN, "User-Agent": zalo_browser})
    # … and so does a phone whose brand ends in "bot" (Cubot makes budget Android phones).
    cubot = "Mozilla/5.0 (Linux; Android 11; CUBOT X30) AppleWebKit/537.36 Chrome/119 Mobile Safari/537.36"
    client.get(f"/v/{code}", headers={**EN, "User-Agent": cubot})
    assert _count(seeded_app, code) == 2


def test_revalidation_qr_and_follow_up_questions_are_not_counted(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    code = seeded_codes[2]
    client = seeded_app.test_client()
    page = client.get(f"/v/{code}", headers=EN)
    assert _count(seeded_app, code) == 1
    assert page.headers["Cache-Control"] == "private, no-cache"
    assert page.headers["ETag"].startswith('W/"')
    assert {"Accept-Language", "Cookie"} <= set(page.vary)
    again = client.get(f"/v/{code}", headers={**EN, "If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    client.get(f"/v/{code}/qr.svg")
    client.get(f"/v/{code}/qr.png")
    client.get(f"/v/{code}/label")
    client.head(f"/v/{code}")
    client.get(f"/v/{code}?as_of=2024-01-01")
    assert _count(seeded_app, code) == 1
    # A stale validator (another language) is a new view: counted.
    client.get(f"/v/{code}", headers={"Accept-Language": "vi", "If-None-Match": page.headers["ETag"]})
    assert _count(seeded_app, code) == 2


def test_the_api_counts_like_a_scan_and_reports_the_count(seeded_app: Flask, seeded_codes: list[str]) -> None:
    code = seeded_codes[4]
    client = seeded_app.test_client()
    client.get(f"/v/{code}")
    data = client.get(f"/api/v1/verify/{code}").get_json()
    assert data["check_count"] == 2 and data["first_checked_at"]
    assert data["verify_url"] == f"http://registry.test/v/{code}"
    assert set(data) >= {"status", "product", "producer", "certificate", "province"}


def test_a_certificate_code_says_what_its_count_cannot_show(seeded_app: Flask, seeded_codes: list[str]
                                                            ) -> None:  # fmt: skip
    """Printed on every package, a certificate's code is checked often on a product that sells well:
    no count makes the page claim a copy; it says the code is shared, whatever the count."""
    code = seeded_codes[5]
    for n in range(60):
        html = seeded_app.test_client().get(f"/v/{code}", headers=phone(n)).get_data(as_text=True)
    assert "60 times" in html and "copied" not in html
    assert "the same on every package of this product" in html
    quiet = seeded_app.test_client().get(f"/v/{seeded_codes[6]}", headers=EN).get_data(as_text=True)
    assert "1 time" in quiet and "the same on every package of this product" in quiet


# ----------------------------------------------------------------------------- content


def test_page_shows_the_facts_and_stays_under_20_kb(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    assert len(seeded_codes) == seeddata.certificates() > 0
    for code in seeded_codes:
        page = seeded_client.get(f"/v/{code}", headers=EN)
        html = page.get_data(as_text=True)
        css_path = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert css_path is not None
        css = seeded_client.get(css_path.group(1)).data
        assert len(page.data) + len(css) <= 20 * 1024
        assert "<script" not in html and " style=" not in html
        for label in ("Producer", "Locality", "Level", "Selection round", "Certificate number",
                      "Issued", "Expires", "Checked", "Trust only pages on registry.test"):  # fmt: skip
            assert label in html, (code, label)
        assert re.search(r'<section class="verdict v-(ok|expired|revoked|lapsed)"', html)
        assert '<svg class="icon"' in html  # not colour alone


def test_unknown_facts_are_said_to_be_unpublished(seeded_app: Flask) -> None:
    # Bình Thuận 2024 rows name neither a producer nor a certificate number.
    sql = (
        "SELECT c.verify_code FROM certificate c JOIN product p ON p.id = c.product_id "
        "WHERE p.name = 'Nước ép thanh long Bảo Long'"
    )
    (code,) = _row(seeded_app, sql)
    html = seeded_app.test_client().get(f"/v/{code}", headers=EN).get_data(as_text=True)
    assert html.count("not published in the source") == 2
    assert "exact date not published (year 2024)" in html


TIEN_GIANG = (
    "SELECT c.id, r.slug, c.verify_code FROM certificate c JOIN selection_round r ON r.id = c.round_id "
    "JOIN province p ON p.id = c.province_id WHERE p.short_name = 'Tiền Giang' ORDER BY c.id LIMIT 1"
)
CURRENT = "SELECT id FROM province WHERE short_name = :name AND valid_to IS NULL"


def test_old_province_is_shown_with_the_unit_it_became_part_of(seeded_app: Flask) -> None:
    code = _row(seeded_app, TIEN_GIANG).verify_code
    html = seeded_app.test_client().get(f"/v/{code}", headers=EN).get_data(as_text=True)
    assert "Tiền Giang" in html and "now part of Tỉnh Đồng Tháp" in html


def test_language_follows_the_switch_and_accept_language(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    code = seeded_codes[0]
    vi = seeded_client.get(f"/v/{code}", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert '<html lang="vi">' in vi
    en = seeded_client.get(f"/v/{code}", headers=EN).get_data(as_text=True)
    assert '<html lang="en">' in en and "Trust only pages on" in en
    switch = re.search(r'href="(/lang/vi\?next=[^"]+)"', en)
    assert switch is not None
    seeded_client.get(switch.group(1).replace("&amp;", "&"))
    after = seeded_client.get(f"/v/{code}", headers=EN).get_data(as_text=True)
    assert '<html lang="vi">' in after


def test_photo_is_shown_when_the_product_has_one(seeded_app: Flask, seeded_codes: list[str]) -> None:
    code = seeded_codes[7]
    with seeded_app.app_context(), get_engine().begin() as conn:
        product_id = conn.execute(text("SELECT product_id FROM certificate WHERE verify_code = :c"),
                                  {"c": code}).scalar_one()  # fmt: skip
        insert = (
            "INSERT INTO photo (product_id, file_key, position, created_at) "
            "VALUES (:p, 'products/x/photo.jpg', 0, :at)"
        )
        conn.execute(text(insert), {"p": product_id, "at": utcnow()})
    html = seeded_app.test_client().get(f"/v/{code}").get_data(as_text=True)
    assert '<img class="photo" src="/media/products/x/photo.jpg"' in html


# ----------------------------------------------------------------------------- look-up by number


def test_lookup_by_number_shows_the_verdict_but_never_the_code(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(certificate_number="45/GCN-SCT", year=2025, issued_on=date(2025, 8, 15))
    client = seeded_app.test_client()
    page = client.get("/verify?number=%20%2045/gcn-sct ", headers=EN)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Chè Shan tuyết kiểm thử" in html and "Valid" in html
    assert code not in html
    api = client.get("/api/v1/verify?number=45/GCN-SCT").get_json()
    assert api["items"][0]["certificate"]["number"] == "45/GCN-SCT"
    assert "code" not in api["items"][0] and "verify_url" not in api["items"][0]
    assert _count(seeded_app, code) == 0


def test_unknown_number_is_a_clear_404(seeded_client: FlaskClient) -> None:
    page = seeded_client.get("/verify?number=999/XYZ", headers=EN)
    assert page.status_code == 404 and "No certificate with the number" in page.get_data(as_text=True)
    api = seeded_client.get("/api/v1/verify?number=999/XYZ")
    assert api.status_code == 404 and api.get_json()["status"] == "unknown"
    assert seeded_client.get("/api/v1/verify").status_code == 400
    assert seeded_client.get("/verify", headers=EN).status_code == 200


# ----------------------------------------------------------------------------- fake reports


def _token(client: FlaskClient, path: str) -> str:
    match = _TOKEN.search(client.get(path, headers=EN).get_data(as_text=True))
    assert match is not None
    return match.group(1)


def _jpeg(size: tuple[int, int] = (40, 30)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x9003] = "2025:06:01 10:00:00"  # DateTimeOriginal
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_a_fake_report_is_stored_for_the_current_provinces_officials(seeded_app: Flask) -> None:
    code = _row(seeded_app, TIEN_GIANG).verify_code
    client = seeded_app.test_client()
    path = f"/v/{code}/report"
    response = client.post(path, data={
        "csrf_token": _token(client, path), "what": "Nhãn in mờ, giá rẻ bất thường",
        "where": "Chợ Bến Thành", "photo": (io.BytesIO(_jpeg()), "nhan.jpg"),
    }, content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{path}/thanks")
    (report,) = _reports(seeded_app)
    assert report.what == "Nhãn in mờ, giá rẻ bất thường" and report.where == "Chợ Bến Thành"
    assert report.code == code and report.certificate_id is not None
    (dong_thap,) = _row(seeded_app, CURRENT, name="Đồng Tháp")
    assert report.province_id == dong_thap  # Tiền Giang is now part of Đồng Tháp
    stored = seeded_app.config["CATALOGUE_DATA_DIR"] / "reports" / str(report.photo_key)
    with Image.open(stored) as img:
        assert img.format == "WEBP" and not img.getexif()
    assert not (seeded_app.config["MEDIA_DIR"] / "reports").exists()  # never public


def test_a_report_needs_csrf_and_a_description_and_a_real_photo(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    client = seeded_app.test_client()
    path = f"/v/{seeded_codes[0]}/report"
    assert client.post(path, data={"what": "x"}, headers=EN).status_code == 400  # no CSRF token
    empty = client.post(path, data={"csrf_token": _token(client, path), "what": "  "}, headers=EN)
    assert empty.status_code == 400 and "Please say what looks wrong." in empty.get_data(as_text=True)
    not_image = client.post(path, data={
        "csrf_token": _token(client, path), "what": "Giả", "photo": (io.BytesIO(b"%PDF-1.4 ..."), "a.jpg"),
    }, content_type="multipart/form-data", headers=EN)  # fmt: skip
    assert not_image.status_code == 400 and "not a readable" in not_image.get_data(as_text=True)
    assert _reports(seeded_app) == []


def test_an_unrecognised_code_can_be_reported_with_a_province(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    path = "/v/KHONGCOTHAT123/report"
    form = client.get(path, headers=EN).get_data(as_text=True)
    assert "Province" in form and "<select" in form
    (lao_cai,) = _row(seeded_app, CURRENT, name="Lào Cai")
    response = client.post(path, data={"csrf_token": _token(client, path), "what": "Mã QR lạ",
                                       "province": str(lao_cai)})  # fmt: skip
    assert response.status_code == 302
    (report,) = _reports(seeded_app)
    assert report.certificate_id is None and report.code == "KHONGCOTHAT123" and report.province_id == lao_cai


# ----------------------------------------------------------------------------- labels


def test_label_by_code_is_printable_with_a_vector_qr(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    code = seeded_codes[0]
    html = seeded_client.get(f"/v/{code}/label", headers=EN).get_data(as_text=True)
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1
    assert f"registry.test/v/{code}" in html and "Certificate no. —" in html
    assert "National level · 2023" in html
    css = seeded_client.get("/static/css/verify-labels.css").get_data(as_text=True)
    assert "@page{size:A4" in css and "63.5mm" in css


def test_labels_by_id_and_by_round_are_for_officials_of_the_province(seeded_app: Flask) -> None:
    row = _row(seeded_app, TIEN_GIANG)
    client = seeded_app.test_client()
    anonymous = client.get(f"/labels/certificates/{row.id}")
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    assert client.get(f"/labels/rounds/{row.slug}").status_code == 302
    make_user(seeded_app, "bo@example.vn", "ministry")
    make_user(seeded_app, "lao-cai@example.vn", "province", "Lào Cai")
    make_user(seeded_app, "dong-thap@example.vn", "province", "Đồng Tháp")
    ministry = seeded_app.test_client()
    login(ministry, "bo@example.vn")
    sheet = ministry.get(f"/labels/rounds/{row.slug}", headers=EN).get_data(as_text=True)
    assert sheet.count("<svg") >= 2 and row.verify_code in sheet
    assert ministry.get(f"/labels/certificates/{row.id}").status_code == 200
    other = seeded_app.test_client()
    login(other, "lao-cai@example.vn")
    assert other.get(f"/labels/certificates/{row.id}").status_code == 403
    assert other.get(f"/labels/rounds/{row.slug}").status_code == 404  # none of theirs
    own = seeded_app.test_client()
    login(own, "dong-thap@example.vn")
    assert own.get(f"/labels/certificates/{row.id}").status_code == 200
    with seeded_app.test_request_context():
        from flask import url_for

        assert url_for("labels.certificate", cert_id=row.id) == f"/labels/certificates/{row.id}"
        assert url_for("labels.certificate", code=row.verify_code) == f"/v/{row.verify_code}/label"
        assert url_for("labels.round", slug=row.slug) == f"/labels/rounds/{row.slug}"


# ----------------------------------------------------------------------------- rate limiting


def test_too_many_checks_get_a_friendly_429(make_app: Callable[..., Flask]) -> None:
    app = make_app(seeded=True, RATELIMIT_ENABLED=True, VERIFY_RATE_LIMIT="3 per minute")
    client = app.test_client()
    (code,) = _row(app, "SELECT verify_code FROM certificate ORDER BY id LIMIT 1")
    for _ in range(3):
        assert client.get(f"/v/{code}").status_code == 200
    page = client.get(f"/v/{code}", headers=EN)
    assert page.status_code == 429 and "Please wait a moment" in page.get_data(as_text=True)
    assert page.headers["Retry-After"]
    assert _count(app, code) == 3
    api = client.get(f"/api/v1/verify/{code}")
    assert api.status_code == 429 and api.get_json()["error"]["code"] == "too_many_requests"
    assert api.headers["Retry-After"]
    # Another client is not affected.
    other = app.test_client()
    assert other.get(f"/v/{code}", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200


def test_api_answer_follows_the_published_openapi_schemas(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    spec = seeded_client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    data = seeded_client.get(f"/api/v1/verify/{seeded_codes[0]}").get_json()
    assert set(schemas["Verification"]["required"]) <= set(data)
    assert set(schemas["Certificate"]["required"]) <= set(data["certificate"])
    assert data["status"] in schemas["Status"]["enum"]
    assert "/api/v1/verify/{code}" in spec["paths"]
    # Both APIs name a certificate with the same documented fields, provenance included.
    products = seeded_client.get("/api/v1/products?status=all&per_page=1").get_json()
    listed = products["items"][0]["certificates"][0]
    documented = set(schemas["Certificate"]["properties"])
    provenance = {"decision", "decision_date", "office", "source", "source_note"}
    assert provenance <= documented
    assert provenance <= set(listed) and provenance <= set(data["certificate"])
    assert set(listed) <= documented


def test_concurrent_checks_are_all_counted(
    seeded_app: Flask, live_server: str, seeded_codes: list[str]
) -> None:
    import http.client
    import threading
    from urllib.parse import urlsplit

    code, host = seeded_codes[8], urlsplit(live_server)
    statuses: list[int] = []

    def scan(times: int) -> None:
        for _ in range(times):
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            conn.request("GET", f"/v/{code}", headers=phone(len(statuses)))
            statuses.append(conn.getresponse().status)
            conn.close()

    threads = [threading.Thread(target=scan, args=(15,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 90
    assert _count(seeded_app, code) == 90


def test_an_uploaded_photo_is_sent_at_phone_size(seeded_app: Flask, seeded_codes: list[str]) -> None:
    from catalogue.registry import photos as media

    code = seeded_codes[9]
    stored = media.ingest(_jpeg((1200, 900)), seeded_app.config["MEDIA_DIR"])
    with seeded_app.app_context(), get_engine().begin() as conn:
        (product_id,) = conn.execute(
            text("SELECT product_id FROM certificate WHERE verify_code = :c"), {"c": code}
        ).one()
        conn.execute(
            text("INSERT INTO photo (product_id, file_key, position, created_at) "
                 "VALUES (:p, :k, 0, :at)"),
            {"p": product_id, "k": stored.file_key, "at": utcnow()},
        )  # fmt: skip
    client = seeded_app.test_client()
    html = client.get(f"/v/{code}").get_data(as_text=True)
    small = re.search(r'<img class="photo" src="([^"]+)" srcset="[^"]+ 400w, [^"]+ 800w"', html)
    assert small is not None and small.group(1).endswith("-sm.webp")
    image = client.get(small.group(1))
    assert image.status_code == 200 and Image.open(io.BytesIO(image.data)).width == 400
