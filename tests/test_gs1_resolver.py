"""The GS1 Digital Link resolver (issue 18): a GTIN on a package leads to the product page and its
certificates; the linkset (RFC 9264); lot and serial; bad and unknown GTINs; the resolver's description."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate, Product
from tests.fixtures.workspace import post, row, signed_in, upload
from tests.test_gtins import A13, B13, C13, sheet

LINKSET = "application/linkset+json"
PIP, CERTIFICATION, DEFAULT = (
    "https://gs1.org/voc/pip", "https://gs1.org/voc/certificationInfo", "https://gs1.org/voc/defaultLink",
)  # fmt: skip


def _session(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def _product(app: Flask, name: str) -> Product:
    with _session(app) as s:
        return s.exec(select(Product).where(Product.name == name)).one()


@pytest.fixture
def imported(seeded_app: Flask) -> dict[str, Any]:
    """A product published through the workspace import with its GTIN-13 (certificate valid today)."""
    official = signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    response = upload(official, sheet([row(1, gtin=A13)]))
    batch_url = response.headers["Location"]
    assert post(official, batch_url + "/publish", {}, token_from=batch_url).status_code == 302
    product = _product(seeded_app, "Chè Shan tuyết thử nghiệm 1")
    with _session(seeded_app) as s:
        cert = s.exec(select(Certificate).where(Certificate.product_id == product.id)).one()
    base = seeded_app.config["PUBLIC_BASE_URL"]
    return {"product": product, "code": cert.verify_code, "base": base,
            "page": f"{base}/products/{product.slug}"}  # fmt: skip


def test_a_gtin_redirects_to_the_product_page_with_a_link_to_its_linkset(
    seeded_app: Flask, imported: dict[str, Any]
) -> None:
    answer = seeded_app.test_client().get(f"/01/{A13}")
    assert answer.status_code == 307
    assert answer.headers["Location"] == imported["page"]
    link = answer.headers["Link"]
    assert f"<{imported['base']}/01/0{A13}?linkType=linkset>" in link
    assert 'rel="linkset"' in link and f'type="{LINKSET}"' in link
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    # The page it leads to is the registry's verdict.
    page = seeded_app.test_client().get(answer.headers["Location"].removeprefix(imported["base"]))
    assert page.status_code == 200 and "Chè Shan tuyết thử nghiệm 1" in page.get_data(as_text=True)


def test_the_linkset_names_the_page_and_the_valid_certificate(
    seeded_app: Flask, imported: dict[str, Any]
) -> None:
    client = seeded_app.test_client()
    answer = client.get(f"/01/{A13}?linkType=linkset")
    assert answer.status_code == 200 and answer.mimetype == LINKSET
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Accept" in answer.headers["Vary"]
    (entry,) = answer.get_json()["linkset"]
    assert entry["anchor"] == f"{imported['base']}/01/0{A13}"
    assert [(p["href"], p["hreflang"], p["type"]) for p in entry[PIP]] == [
        (imported["page"] + "?lang=vi", ["vi"], "text/html"),
        (imported["page"] + "?lang=en", ["en"], "text/html"),
    ]
    assert entry[PIP][0]["title"] == "Chè Shan tuyết thử nghiệm 1"
    assert [d["href"] for d in entry[DEFAULT]] == [imported["page"]]
    (cert,) = entry[CERTIFICATION]
    assert cert["href"] == f"{imported['base']}/v/{imported['code']}"
    assert "2025" in cert["title"] and "TEST-00001/GCN-SCT" in cert["title"]
    # The same by content negotiation, and with linkType=all.
    for other in (
        client.get(f"/01/{A13}", headers={"Accept": LINKSET}),
        client.get(f"/01/{A13}?linkType=all"),
    ):
        assert other.status_code == 200 and other.get_json() == answer.get_json()
    # One link type: the certificate's verification page; one we lack: the default link.
    one = client.get(f"/01/{A13}?linkType=gs1:certificationInfo")
    assert one.status_code == 307 and one.headers["Location"] == cert["href"]
    full = client.get(f"/01/{A13}?linkType=https://gs1.org/voc/certificationInfo")
    assert full.headers["Location"] == cert["href"]
    lacking = client.get(f"/01/{A13}?linkType=gs1:recipeInfo")
    assert lacking.status_code == 307 and lacking.headers["Location"] == imported["page"]


def test_revoked_and_expired_certificates_are_not_certification_info(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    name = "Mắm thử nghiệm"
    make_certificate(product=name, certificate_number="GS1-1/GCN", year=2025, issued_on=date(2025, 8, 1),
                     gtins=("0" + B13,))  # fmt: skip
    make_certificate(product=name, certificate_number="GS1-2/GCN", year=2020, issued_on=date(2020, 8, 1),
                     expires_on=date(2023, 8, 1), gtins=(B13,))  # fmt: skip
    make_certificate(product=name, certificate_number="GS1-3/GCN", year=2024, issued_on=date(2024, 8, 1))
    client = seeded_app.test_client()
    entry = client.get(f"/01/{B13}?linkType=linkset").get_json()["linkset"][0]
    titles = [c["title"] for c in entry[CERTIFICATION]]
    assert len(titles) == 2
    assert any("GS1-1/GCN" in t for t in titles) and any("GS1-3/GCN" in t for t in titles)
    with _session(seeded_app) as s, seeded_app.test_request_context():
        for number in ("GS1-1/GCN", "GS1-3/GCN"):
            cert = s.exec(select(Certificate).where(Certificate.number == number)).one()
            revoke_certificate(s, actor=SYSTEM, certificate=cert, reason="Thử", reference="1/QĐ-THU",
                               on=date(2026, 6, 1))  # fmt: skip
        s.commit()
    entry = client.get(f"/01/{B13}?linkType=linkset").get_json()["linkset"][0]
    assert CERTIFICATION not in entry and entry[PIP]
    # Asked for the certificate without a valid one: the default link, never an error.
    answer = client.get(f"/01/{B13}?linkType=gs1:certificationInfo")
    assert answer.status_code == 307 and "/products/" in answer.headers["Location"]


def test_lot_and_serial_are_kept_in_the_anchor_and_change_nothing_else(
    seeded_app: Flask, imported: dict[str, Any]
) -> None:
    client = seeded_app.test_client()
    for path in (f"/01/{A13}/10/LOT-7", f"/01/{A13}/21/SN-42", f"/01/{A13}/10/L1/21/S2"):
        answer = client.get(path)
        assert answer.status_code == 307 and answer.headers["Location"] == imported["page"], path
    anchor = client.get(f"/01/{A13}/10/L1/21/S2?linkType=linkset").get_json()["linkset"][0]["anchor"]
    assert anchor == f"{imported['base']}/01/0{A13}/10/L1/21/S2"
    # A serial holding an encoded "/", as a server that keeps the raw path (gunicorn) hands it over.
    path = f"/01/{A13}/21/SN%2F42"
    answer = client.get(path + "?linkType=linkset", environ_overrides={"RAW_URI": path + "?linkType=linkset"})
    assert answer.get_json()["linkset"][0]["anchor"] == f"{imported['base']}/01/0{A13}/21/SN%2F42"


def test_gtin_13_and_gtin_14_name_the_same_product(seeded_app: Flask, imported: dict[str, Any]) -> None:
    client = seeded_app.test_client()
    first, second, slashed = client.get(f"/01/{A13}"), client.get(f"/01/0{A13}"), client.get(f"/01/{A13}/")
    assert first.status_code == second.status_code == slashed.status_code == 307
    assert first.headers["Location"] == second.headers["Location"] == imported["page"]
    # The query string is passed on (the page's language); HEAD and OPTIONS answer too.
    english = client.get(f"/01/{A13}?lang=en&linkType=gs1:pip")
    assert english.headers["Location"] == imported["page"] + "?lang=en"
    assert client.head(f"/01/{A13}").status_code == 307
    options = client.options(f"/01/{A13}")
    assert options.status_code == 200 and options.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/01/8939999000018", "check digit"),
        ("/01/89399990000A7", "digits only"),
        ("/01/123456789012345", "has 15"),
        (f"/01/{A13}/99/x", "not a GS1 Digital Link address"),
        (f"/01/{A13}/10/" + "L" * 21, "not a GS1 Digital Link address"),
        (
            "/01/%EF%BC%98%EF%BC%99%EF%BC%93%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%90%EF%BC%90%EF%BC%90"
            "%EF%BC%90%EF%BC%91%EF%BC%97",
            "digits only",
        ),  # full-width digits: never a second spelling
        (f"/01/{A13}.0", "digits only"),  # a spreadsheet's ".0" is read in cells, not in addresses
    ],
)
def test_a_malformed_address_is_400_json(app: Flask, path: str, words: str) -> None:
    answer = app.test_client().get(path + "?lang=en")
    assert answer.status_code == 400 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["error"]["code"] == "bad_request" and words in body["error"]["message"]
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_addresses_the_route_cannot_read_still_answer_json(app: Flask) -> None:
    client = app.test_client()
    for path in ("/01", "/01/", f"/01/{A13}/10/AB%0ACD"):
        answer = client.get(path)
        assert answer.status_code in (400, 404) and answer.mimetype == "application/json", path
        assert answer.get_json()["error"]["message"]


def test_a_lot_of_dots_is_no_path_step_and_q0_is_no_request(
    seeded_app: Flask, imported: dict[str, Any]
) -> None:
    client = seeded_app.test_client()
    linkset = client.get(f"/01/{A13}/10/..?linkType=linkset").get_json()
    assert linkset["linkset"][0]["anchor"].endswith(f"/01/0{A13}/10/%2E%2E")
    refused = client.get(f"/01/{A13}", headers={"Accept": f"{LINKSET};q=0, text/html"})
    assert refused.status_code == 307, "q=0 means not acceptable"
    assert client.get(f"/01/{A13}", headers={"Accept": "*/*"}).status_code == 307
    assert client.get(f"/01/{A13}", headers={"Accept": f"{LINKSET}"}).mimetype == LINKSET
    assert client.get(f"/01/{A13}", headers={"Accept": LINKSET.upper()}).mimetype == LINKSET


def test_an_unknown_gtin_is_404_json(app: Flask) -> None:
    answer = app.test_client().get(f"/01/{C13}?lang=en")
    assert answer.status_code == 404 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["error"]["code"] == "not_found" and f"0{C13}" in body["error"]["message"]


def test_the_resolver_describes_itself(app: Flask, client: FlaskClient) -> None:
    answer = client.get("/.well-known/gs1resolver")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["resolverRoot"] == app.config["PUBLIC_BASE_URL"]
    assert body["supportedPrimaryKeys"] == ["01"]
    assert {"namespace": "https://gs1.org/voc/", "prefix": "gs1:"} in body["supportedLinkType"]
    assert {t["linkType"] for t in body["linkTypes"]} >= {"gs1:pip", "gs1:certificationInfo"}
    assert body["linkTypeDefaultCanBeLinkset"] is False and body["name"]
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Cache-Control"].startswith("public, max-age=")
