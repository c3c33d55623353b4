"""Reports of fakes say where the product was bought, and officials read them grouped by
certificate and label run, beside the checks of the reported codes."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask import Flask
from PIL import Image
from sqlmodel import Session, select
from time_machine import Traveller

from catalogue.db import get_engine
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate
from catalogue.verification.models import FakeReport
from tests.conftest import FROZEN
from tests.fixtures.workspace import signed_in

EN = {"Accept-Language": "en"}
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _province_id(app: Flask, name: str) -> int:
    with app.app_context(), Session(get_engine()) as session:
        found = Provinces.load(session).match(name)
        assert found is not None and found.id is not None
        return found.id


def _reports(app: Flask) -> list[FakeReport]:
    with app.app_context(), Session(get_engine()) as session:
        return list(session.exec(select(FakeReport).order_by(FakeReport.id)).all())  # type: ignore[arg-type]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 30)).save(out, format="JPEG")
    return out.getvalue()


def _send(
    app: Flask, code: str, given: dict[str, str] | None = None, photo: bool = False, **fields: str
) -> tuple[int, str]:
    """Fill in the report form of ``code`` as a shopper would; (status, page)."""
    client = app.test_client()
    path = f"/v/{code}/report"
    form = client.get(path, headers=EN)
    token = _TOKEN.search(form.get_data(as_text=True))
    assert token is not None
    data: dict[str, object] = {"csrf_token": token.group(1), "what": "Nhãn in mờ", **(given or {}), **fields}
    if photo:
        data["photo"] = (io.BytesIO(_jpeg()), "nhan.jpg")
    response = client.post(path, data=data, content_type="multipart/form-data", headers=EN)
    return response.status_code, response.get_data(as_text=True)


def _check(app: Flask, code: str, agent: str) -> None:
    """Scan ``code`` from a phone told apart by its User-Agent (each its own device)."""
    response = app.test_client().get(f"/v/{code}", headers={**EN, "User-Agent": agent})
    assert response.status_code == 200


def _certificate(make_certificate: Callable[..., str], name: str) -> str:
    return make_certificate(product=name, producer=f"HTX {name}", certificate_number=f"{name[-2:]}/GCN-SCT",
                            year=2025, issued_on=date(2025, 8, 15), expires_on=date(2028, 8, 14))  # fmt: skip


def _section(page: str, heading: str) -> str:
    """The report group whose heading holds ``heading`` (up to the next group)."""
    for part in page.split('<section class="report-group"')[1:]:
        if heading in part.split("</h2>")[0]:
            return part.split("</section>")[0]
    raise AssertionError(f"no group headed {heading!r}")


# ----------------------------------------------------------------------------- the form


def test_a_report_keeps_where_it_was_bought_its_province_and_photo(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = _certificate(make_certificate, "Chè Shan tuyết nơi mua 01")
    form = seeded_app.test_client().get(f"/v/{code}/report", headers=EN).get_data(as_text=True)
    assert "Shop, market or website where you bought it" in form and "Province where you bought it" in form
    assert "officials should follow up" not in form  # a known code goes to its certificate's province
    ha_noi = _province_id(seeded_app, "Hà Nội")
    status, _ = _send(
        seeded_app, code, photo=True, where="Chợ Đồng Xuân, sạp 12", bought_province=str(ha_noi)
    )
    assert status == 302
    (report,) = _reports(seeded_app)
    assert report.where == "Chợ Đồng Xuân, sạp 12" and report.bought_province_id == ha_noi
    assert report.province_id == _province_id(seeded_app, "Lào Cai")  # still the certificate's officials
    assert report.photo_key and report.label_run_id is None and report.code == code


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"bought_province": "999999"}, "Choose a province from the list, or leave it empty."),
        ({"bought_province": "Hà Nội"}, "Choose a province from the list, or leave it empty."),
        ({"where": "Chợ " * 200}, "Please keep the place to 500 characters."),
        ({"what": "giả " * 600}, "Please keep it to 2000 characters."),
    ],
)
def test_a_bad_province_or_too_long_text_is_refused_and_nothing_is_stored(
    seeded_app: Flask, make_certificate: Callable[..., str], fields: dict[str, str], message: str
) -> None:
    code = _certificate(make_certificate, "Chè Shan tuyết sai 02")
    status, page = _send(seeded_app, code, fields)
    assert status == 400 and message in page and 'aria-invalid="true"' in page
    assert _reports(seeded_app) == []


def test_a_former_province_is_not_offered_and_is_refused(seeded_app: Flask) -> None:
    quang_nam = _province_id(seeded_app, "Quảng Nam")  # part of Đà Nẵng since 1/7/2025
    status, page = _send(seeded_app, "KHONGCOTHAT123", bought_province=str(quang_nam))
    assert status == 400 and "Choose a province from the list" in page
    status, page = _send(seeded_app, "KHONGCOTHAT123", province=str(quang_nam))
    assert status == 400 and "Choose a province from the list" in page
    assert _reports(seeded_app) == []


def test_an_unrecognised_code_goes_to_the_province_where_it_was_bought_unless_another_is_named(
    seeded_app: Flask,
) -> None:
    lao_cai, ha_noi = _province_id(seeded_app, "Lào Cai"), _province_id(seeded_app, "Hà Nội")
    assert _send(seeded_app, "KHONGCOTHAT123", where="Chợ Bắc Hà", bought_province=str(lao_cai))[0] == 302
    assert _send(seeded_app, "KHONGCOTHAT456", bought_province=str(lao_cai), province=str(ha_noi))[0] == 302
    first, second = _reports(seeded_app)
    assert first.province_id == lao_cai and first.bought_province_id == lao_cai
    assert second.province_id == ha_noi and second.bought_province_id == lao_cai


# ----------------------------------------------------------------------------- officials' list


def _numbers(section: str) -> str:
    """The section's text with tags and runs of spaces squeezed, for reading numbers as a person would."""
    return " ".join(re.sub(r"<[^>]+>", " ", section).split())


def test_reports_are_grouped_by_certificate_beside_the_codes_real_check_history(
    seeded_app: Flask, make_certificate: Callable[..., str], clock: Traveller
) -> None:
    code = _certificate(make_certificate, "Chè Shan tuyết lịch sử 03")
    clock.move_to(FROZEN - timedelta(days=2))
    _check(seeded_app, code, "Phone A")
    clock.move_to(FROZEN)
    for agent in ("Phone A", "Phone B", "Phone B", "Phone C"):  # the same phone twice: one device-day
        _check(seeded_app, code, agent)
    lao_cai = _province_id(seeded_app, "Lào Cai")
    assert _send(seeded_app, code, where="Chợ Cốc Lếu", bought_province=str(lao_cai))[0] == 302
    assert _send(seeded_app, code, where="shopee.vn")[0] == 302
    assert _send(seeded_app, "KHONGCOTHAT789", bought_province=str(lao_cai))[0] == 302

    official = signed_in(seeded_app, "sct@laocai.gov.vn", "province", "Lào Cai")
    page = official.get("/admin/reports?lang=en").get_data(as_text=True)
    group = _numbers(_section(page, "Chè Shan tuyết lịch sử 03"))
    assert "Certificate-level code (2 reports)" in group
    assert "Checks so far: 5 · Device-days: 4" in group  # A two days ago; A, B, C today
    days = re.search(r"Device-days per day, last 14 days Day (.*?) Device-days ((?:\d+ ){14})", group + " ")
    assert days is not None
    assert days.group(2).split()[-3:] == ["1", "0", "3"]  # two days ago, yesterday, today
    assert "Chợ Cốc Lếu Lào Cai" in group and "shopee.vn" in group
    assert "HTX Chè Shan tuyết lịch sử 03" in group and "/admin/records?producer=" in _section(
        page, "lịch sử 03"
    )
    unknown = _numbers(_section(page, "Unrecognised codes"))
    assert "KHONGCOTHAT789" in unknown and "Sent to: Lào Cai" in unknown

    elsewhere = signed_in(seeded_app, "sct@danang.gov.vn", "province", "Đà Nẵng")
    other = elsewhere.get("/admin/reports?lang=en").get_data(as_text=True)
    assert "Chè Shan tuyết lịch sử 03" not in other and "KHONGCOTHAT789" not in other


def test_the_newest_group_comes_first_and_groups_are_paged(
    seeded_app: Flask, make_certificate: Callable[..., str], clock: Traveller
) -> None:
    names = [f"Chè Shan tuyết trang {n:02d}" for n in range(11)]
    for name in names:
        assert _send(seeded_app, _certificate(make_certificate, name))[0] == 302
        clock.shift(timedelta(minutes=1))
    ministry = signed_in(seeded_app, "cuc@moit.gov.vn", "ministry")
    first = ministry.get("/admin/reports?lang=en").get_data(as_text=True)
    assert first.index(names[10]) < first.index(names[9]) and names[0] not in first
    second = ministry.get("/admin/reports?page=2&lang=en").get_data(as_text=True)
    assert names[0] in second and names[10] not in second


# ----------------------------------------------------------------------------- label runs


def test_reports_of_two_serials_of_one_run_are_grouped_under_that_run(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    from catalogue.accounts.permissions import SYSTEM
    from catalogue.label_runs.runs import issue_run
    from catalogue.verification import serial_codes as codes

    code = _certificate(make_certificate, "Chè Shan tuyết tem 04")
    with seeded_app.test_request_context("/"), Session(get_engine(), expire_on_commit=False) as session:
        cert = session.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        run = issue_run(session, actor=SYSTEM, certificate=cert, count=50)
        session.commit()
        assert run.id is not None
        run_id = run.id
        keys = seeded_app.config["VERIFY_KEYS"]
        second, third = (codes.serial_code(keys, run.key_id, run_id, n) for n in (2, 3))
    for agent in ("Phone A", "Phone B", "Phone C"):
        _check(seeded_app, second, agent)
    _check(seeded_app, third, "Phone A")
    assert _send(seeded_app, second, where="Chợ Bắc Hà")[0] == 302
    assert _send(seeded_app, third, where="Chợ Sa Pa")[0] == 302
    assert _send(seeded_app, code, where="Chợ Cốc Lếu")[0] == 302
    stored = {r.code: r for r in _reports(seeded_app)}
    assert stored[second].label_run_id == run_id and stored[third].label_run_id == run_id
    assert stored[code].label_run_id is None and len({r.certificate_id for r in stored.values()}) == 1

    official = signed_in(seeded_app, "sct@laocai.gov.vn", "province", "Lào Cai")
    page = official.get("/admin/reports?lang=en").get_data(as_text=True)
    group = _numbers(_section(page, "tem 04"))
    run_part = group.split(f"Label run #{run_id}")[1]
    assert run_part.strip().startswith("(2 reports)") and "Chợ Bắc Hà" in run_part and "Chợ Sa Pa" in run_part
    assert "Chợ Cốc Lếu" not in run_part and "Certificate-level code (1 report)" in group
    serials = run_part.split("Checks of the reported serial codes")[1]
    # package no., first, last, device-days, checks; a package's own code is printable: never shown
    assert re.search(r"Checks 2 [^:]+:\d\d [^:]+:\d\d 3 3 3 [^:]+:\d\d [^:]+:\d\d 1 1", serials) or re.search(
        r"Checks 3 [^:]+:\d\d [^:]+:\d\d 1 1 2 [^:]+:\d\d [^:]+:\d\d 3 3", serials
    )
    assert second not in page and third not in page and "Package no. 2" in run_part

    elsewhere = signed_in(seeded_app, "sct@danang.gov.vn", "province", "Đà Nẵng")
    assert "tem 04" not in elsewhere.get("/admin/reports?lang=en").get_data(as_text=True)
