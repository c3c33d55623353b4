"""Language: explicit choice (remembered), else Accept-Language, else Vietnamese;
dates, numbers and the programme's vocabulary in the visitor's language."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from catalogue.i18n import fmt_date, fmt_number, safe_next
from catalogue.vocab import CertificateStatus, Level, ProductGroup, Region


def lang_of(client: FlaskClient, url: str = "/", **kwargs: object) -> str:
    body = client.get(url, **kwargs).get_data(as_text=True)  # type: ignore[arg-type]
    return body.split('<html lang="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("vi-VN,vi;q=0.9,en;q=0.5", "vi"),
        ("fr-FR,fr", "vi"),
        (None, "vi"),
    ],
)
def test_accept_language_picks_the_page_language(
    client: FlaskClient, header: str | None, expected: str
) -> None:
    headers = {"Accept-Language": header} if header else {}
    assert lang_of(client, headers=headers) == expected


def test_accept_language_en_gives_an_english_page(seeded_client: FlaskClient) -> None:
    response = seeded_client.get("/products/khay-tra-tien-vua", headers={"Accept-Language": "en"})
    body = response.get_data(as_text=True)
    assert '<html lang="en">' in body
    assert "Certificate number" in body and "National level" in body and "Verify a certificate" in body


def test_lang_in_the_url_beats_the_header_and_the_cookie(client: FlaskClient) -> None:
    client.get("/lang/vi?next=/")
    assert lang_of(client, "/?lang=en", headers={"Accept-Language": "vi"}) == "en"
    assert lang_of(client, "/") == "vi"  # ?lang= is for that page only


def test_the_switch_is_remembered_across_pages(client: FlaskClient) -> None:
    response = client.get("/lang/en?next=/provinces")
    assert response.status_code == 302 and response.headers["Location"] == "/provinces"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en" and cookie.http_only
    # Remembered over the browser's Vietnamese Accept-Language, on any page.
    assert lang_of(client, "/provinces", headers={"Accept-Language": "vi"}) == "en"
    assert lang_of(client, "/events") == "en"
    client.get("/lang/vi?next=/")
    assert lang_of(client, "/events", headers={"Accept-Language": "en"}) == "vi"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "http:/evil", "javascript:alert(1)", "evil.example", ""],
)
def test_the_switch_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert safe_next(target) == "/"


def test_an_unknown_language_is_not_remembered(client: FlaskClient) -> None:
    client.get("/lang/fr?next=/")
    assert client.get_cookie("lang") is None
    assert lang_of(client) == "vi"


def test_switch_links_return_to_the_same_page_without_a_stale_lang(seeded_client: FlaskClient) -> None:
    body = seeded_client.get("/provinces/da-nang?page=1&lang=vi").get_data(as_text=True)
    assert 'href="/lang/en?next=/provinces/da-nang?page%3D1"' in body
    assert 'href="/lang/vi' not in body  # the current language is not a link


def test_the_verify_pages_switch_follows_the_same_rule(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    """The verify page has a layout of its own; its switch links are built by the same helper."""
    code = seeded_codes[0]
    body = seeded_client.get(f"/v/{code}?lang=en").get_data(as_text=True)
    assert f'href="/lang/vi?next=/v/{code}"' in body  # back to this page, without the stale ?lang=en
    assert 'href="/lang/en' not in body


def test_dates_and_numbers_follow_the_locale(app: Flask) -> None:
    day = date(2021, 8, 23)
    with app.test_request_context():
        with force_locale("vi"):
            assert fmt_date(day) == "23/08/2021"
            assert fmt_number(12345) == "12.345"
        with force_locale("en"):
            assert fmt_date(day) == "Aug 23, 2021"
            assert fmt_number(12345) == "12,345"
            assert fmt_date(None) == "unknown"


def test_vocabulary_labels_are_english_msgids_translated_per_locale(app: Flask) -> None:
    with app.test_request_context(), force_locale("en"):
        assert Level.QUOC_GIA.label == "National level"
        assert Region.MIEN_TRUNG_TAY_NGUYEN.label == "Central and Central Highlands region"
        assert ProductGroup.CHE_BIEN.label.startswith("Processed agricultural")
        assert CertificateStatus.REVOKED.label == "Revoked"


def test_english_dates_on_a_page(seeded_client: FlaskClient) -> None:
    en = seeded_client.get("/rounds/quoc-gia-quoc-gia-2021?lang=en").get_data(as_text=True)
    vi = seeded_client.get("/rounds/quoc-gia-quoc-gia-2021?lang=vi").get_data(as_text=True)
    assert "Aug 23, 2021" in en and "23/08/2021" in vi
