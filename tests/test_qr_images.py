"""QR images: decoded by a real decoder (zbar), for every seeded certificate."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from catalogue.registry.codes import parse_code
from catalogue.verification import qr
from tests import seeddata
from tests.conftest import REQUIRE_BROWSER, VERIFY_KEYS

try:
    from pyzbar.pyzbar import ZBarSymbol, decode
except ImportError as exc:  # libzbar0 missing: skip on a laptop, fail in CI
    if REQUIRE_BROWSER:
        raise
    pytest.skip(f"zbar decoder not installed ({exc})", allow_module_level=True)

BASE = "http://registry.test"


def _decoded(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [s.data.decode() for s in decode(image, symbols=[ZBarSymbol.QRCODE])]


def test_every_seeded_certificate_png_decodes_to_its_verification_url(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    assert len(seeded_codes) == seeddata.certificates()
    for code in seeded_codes:
        response = seeded_client.get(f"/v/{code}/qr.png?size=256")
        assert response.status_code == 200, code
        assert response.mimetype == "image/png"
        assert _decoded(response.data) == [f"{BASE}/v/{code}"], code


def test_decoded_url_opens_the_certificate_page(seeded_client: FlaskClient, seeded_codes: list[str]) -> None:
    png = seeded_client.get(f"/v/{seeded_codes[0]}/qr.png").data
    (url,) = _decoded(png)
    page = seeded_client.get(url.removeprefix(BASE))
    assert page.status_code == 200
    assert seeded_codes[0] in page.get_data(as_text=True)


def test_svg_is_a_vector_qr_that_decodes_when_rasterised(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    code = seeded_codes[3]
    response = seeded_client.get(f"/v/{code}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    n = int(root.get("viewBox", "").split()[2])
    assert root.get("width") == f"{n * qr.MODULE_MM:g}mm"  # a nominal print size in mm
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    # Rasterise the path's runs ourselves (no SVG renderer needed) and decode the result.
    scale = 6
    image = Image.new("L", (n * scale, n * scale), 255)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)", path.get("d", "")):
        x0, y0 = int(x) * scale, int(y) * scale
        image.paste(0, (x0, y0, x0 + int(w) * scale, y0 + scale))
    assert [s.data.decode() for s in decode(image)] == [f"{BASE}/v/{code}"]
    assert len(response.data) < 6000  # compact: runs, not one element per module


def test_qr_keeps_a_four_module_quiet_zone_and_uses_level_q() -> None:
    url = f"{BASE}/v/ABCDEFGHJKMNPQRST"
    rows = qr.matrix(url)
    n = len(rows)
    border = [rows[y][x] for y in range(n) for x in range(n)
              if min(x, y, n - 1 - x, n - 1 - y) < qr.QUIET_ZONE]  # fmt: skip
    assert qr.QUIET_ZONE == 4 and len(border) == n * n - (n - 8) ** 2
    assert not any(border)
    assert rows[qr.QUIET_ZONE][qr.QUIET_ZONE]  # the finder pattern starts right after it
    # The error-correction level is the top two format bits, stored (XOR-masked with
    # 0b10101…) in column 8 at the bottom of the symbol: L=01, M=00, Q=11, H=10.
    inner, qz = n - 2 * qr.QUIET_ZONE, qr.QUIET_ZONE
    bit14, bit13 = rows[qz + inner - 1][qz + 8], rows[qz + inner - 2][qz + 8]
    assert ((int(bit14) ^ 1) << 1 | (int(bit13) ^ 0)) == 0b11


def test_code_travels_in_alphanumeric_mode_so_the_symbol_is_smaller() -> None:
    url = "https://registry.example.vn/v/ABCDEFGHJKMNPQRST"
    import qrcode
    from qrcode.constants import ERROR_CORRECT_Q

    plain = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4)
    plain.add_data(url, optimize=0)
    plain.make(fit=True)
    assert len(qr.matrix(url)) < len(plain.get_matrix())


@pytest.mark.parametrize(("asked", "max_edge"), [("10", 64), ("300", 300), ("99999", 2048), ("abc", 512)])
def test_png_size_is_bounded(
    seeded_client: FlaskClient, seeded_codes: list[str], asked: str, max_edge: int
) -> None:
    response = seeded_client.get(f"/v/{seeded_codes[0]}/qr.png?size={asked}")
    assert response.status_code == 200
    width, height = Image.open(io.BytesIO(response.data)).size
    assert width == height and width <= max_edge and width > max_edge * 0.8 - 41


def test_qr_images_are_cached_for_a_year_and_stored_once(
    seeded_app: Flask, seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    response = seeded_client.get(f"/v/{seeded_codes[0]}/qr.svg")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers.get("ETag")
    again = seeded_client.get(
        f"/v/{seeded_codes[0]}/qr.svg", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    stored = list((seeded_app.config["MEDIA_DIR"] / "qr").glob("*.svg"))
    assert len(stored) == 1 and stored[0].read_bytes() == response.data


@pytest.mark.parametrize("suffix", ["qr.svg", "qr.png"])
def test_qr_for_an_unknown_or_forged_code_is_404(seeded_client: FlaskClient, suffix: str) -> None:
    forged = "A" + "0" * 16
    assert parse_code(forged, VERIFY_KEYS) is None
    assert seeded_client.get(f"/v/{forged}/{suffix}").status_code == 404
    # Well-formed and correctly signed, but never issued.
    from catalogue.registry.codes import new_code

    unissued = new_code(VERIFY_KEYS, "a")
    assert seeded_client.get(f"/v/{unissued}/{suffix}").status_code == 404
