"""Officials see consumers' reports of suspected fakes for their own province only."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import text

from catalogue.db import get_engine
from tests.fixtures.workspace import login, make_user

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _code(app: Flask, product: str) -> str:
    with app.app_context(), get_engine().connect() as conn:
        return conn.execute(text(
            "SELECT c.verify_code FROM certificate c JOIN product p ON p.id = c.product_id WHERE p.name = :n"
        ), {"n": product}).scalar_one()  # fmt: skip


def _report(app: Flask, code: str, what: str, photo: bool = False) -> None:
    client = app.test_client()
    path = f"/v/{code}/report"
    token = _TOKEN.search(client.get(path).get_data(as_text=True))
    assert token is not None
    data: dict[str, object] = {"csrf_token": token.group(1), "what": what, "where": "Chợ Hàn"}
    if photo:
        out = io.BytesIO()
        Image.new("RGB", (40, 30), (10, 120, 30)).save(out, format="JPEG")
        data["photo"] = (io.BytesIO(out.getvalue()), "nhan.jpg")
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 302


def _signed_in(app: Flask, email: str, role: str, province: str | None = None) -> FlaskClient:
    make_user(app, email, role, province)
    client = app.test_client()
    login(client, email)
    return client


def test_each_province_sees_its_own_reports_and_the_ministry_sees_all(seeded_app: Flask) -> None:
    # Khay trà tiến Vua was certified in Quảng Nam, now part of Đà Nẵng; Trà Oolong in Lâm Đồng.
    _report(seeded_app, _code(seeded_app, "Khay trà tiến Vua"), "Khay trà giả, nhãn mờ", photo=True)
    _report(seeded_app, _code(seeded_app, "Trà Oolong"), "Trà Oolong đóng gói lạ")

    da_nang = _signed_in(seeded_app, "sct@danang.gov.vn", "province", "Đà Nẵng")
    page = da_nang.get("/admin/reports?lang=en").get_data(as_text=True)
    assert "Khay trà giả, nhãn mờ" in page and "Khay trà tiến Vua" in page
    assert "Trà Oolong đóng gói lạ" not in page
    # In Vietnam time like every other page (the frozen clock is 09:00 there, 02:00 UTC).
    assert "2026 09:00" in page and "02:00" not in page and "UTC" not in page

    lam_dong = _signed_in(seeded_app, "sct@lamdong.gov.vn", "province", "Lâm Đồng")
    page = lam_dong.get("/admin/reports").get_data(as_text=True)
    assert "Trà Oolong đóng gói lạ" in page and "Khay trà giả" not in page

    ministry = _signed_in(seeded_app, "cuc@moit.gov.vn", "ministry")
    page = ministry.get("/admin/reports").get_data(as_text=True)
    assert "Khay trà giả, nhãn mờ" in page and "Trà Oolong đóng gói lạ" in page


def test_a_report_photo_is_shown_only_to_that_provinces_officials(seeded_app: Flask) -> None:
    _report(seeded_app, _code(seeded_app, "Khay trà tiến Vua"), "Khay trà giả", photo=True)
    da_nang = _signed_in(seeded_app, "sct@danang.gov.vn", "province", "Đà Nẵng")
    listing = da_nang.get("/admin/reports").get_data(as_text=True)
    link = re.search(r'href="(/admin/reports/\d+/photo)"', listing)
    assert link is not None
    photo = da_nang.get(link.group(1))
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert "private" in photo.headers["Cache-Control"]

    lam_dong = _signed_in(seeded_app, "sct@lamdong.gov.vn", "province", "Lâm Đồng")
    assert lam_dong.get(link.group(1)).status_code == 403
    anonymous = seeded_app.test_client().get(link.group(1))
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
