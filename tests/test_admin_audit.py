"""The workspace trail reads in plain words (issue 11, findings 5 and 9).

Audit entries name fields and records as people do, in the official's language
and in Vietnam time, with filters and pages; rounds are named as people say
them; a certificate's history is dated by each event's own day.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlmodel import Session, select

from catalogue.accounts.models import User
from catalogue.audit import services as audit
from catalogue.audit import trail as audit_trail
from catalogue.db import get_engine
from catalogue.places.models import Province
from catalogue.registry import editing
from catalogue.registry.certificates import correct_certificate, revoke_certificate
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound
from catalogue.registry.product_photos import add_photo
from catalogue.registry.round_names import round_label
from tests.fixtures.workspace import get_user, login, make_user, province

LAO_CAI_PRODUCT = "Chè Shan tuyết nhật ký"


def _db(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def _text(fragment: str) -> str:
    """HTML as a reader sees it: tags dropped, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).replace(" :", ":")


def _table(page: str) -> str:
    """The audit table's text."""
    return _text(page.split("<table", 1)[1].split("</table>", 1)[0])


def _rows(page: str) -> list[str]:
    part = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [_text(r) for r in part.split("<tr>")[1:]]


def _signed_in(app: Flask, email: str, role: str, where: str | None = None) -> FlaskClient:
    make_user(app, email, role, where)
    client = app.test_client()
    login(client, email)
    return client


@pytest.fixture
def ministry(seeded_app: Flask) -> FlaskClient:
    return _signed_in(seeded_app, "cuc@moit.gov.vn", "ministry")


def _certify(make: Callable[..., str], number: str, **facts: Any) -> None:
    """A Lào Cai provincial certificate through the real write path (synthetic test data)."""
    make(**{"product": LAO_CAI_PRODUCT, "producer": "HTX Nhật ký", "certificate_number": number,
            "year": 2025, **facts})  # fmt: skip


def _record(app: Flask, count: int = 1, **fields: Any) -> None:
    """Write audit entries through the one write call, as services do."""
    with _db(app) as s:
        for n in range(count):
            at = fields.get("at")
            values = {k: v for k, v in fields.items() if k != "at"}
            if "summary" in values:
                values["summary"] = f"{values['summary']} {n + 1:03d}"
            entry = audit.record(s, actor=None, actor_label="system", **values)
            if at is not None:
                entry.at = at
        s.commit()


# ----------------------------------------------------------------------------- labels and names


def test_a_moved_product_reads_with_field_labels_and_province_names(
    seeded_app: Flask, ministry: FlaskClient, make_certificate: Callable[..., str]
) -> None:
    _certify(make_certificate, "NK-1/GCN")
    with seeded_app.test_request_context("/"), _db(seeded_app) as s:
        me = get_user(s, "cuc@moit.gov.vn")
        product = s.exec(select(Product).where(Product.name == LAO_CAI_PRODUCT)).one()
        other_maker = s.exec(select(Producer).where(Producer.name != "HTX Nhật ký")).first()
        hue = province(s, "Huế")
        editing.save_product(s, actor=me, product=product, values={
            "name": LAO_CAI_PRODUCT, "province_id": hue.id, "producer_id": other_maker.id,
        })  # fmt: skip
        image = io.BytesIO()
        Image.new("RGB", (400, 300), (30, 120, 60)).save(image, "JPEG")
        add_photo(s, actor=me, product=product, data=image.getvalue(),
                             media_dir=seeded_app.config["MEDIA_DIR"])  # fmt: skip
        s.commit()
        maker_name = other_maker.name
    english = ministry.get("/admin/audit?lang=en").get_data(as_text=True)
    table = _table(english)
    assert "Province: Lào Cai → Huế" in table
    assert f"Producer: HTX Nhật ký → {maker_name}" in table
    assert "Photo file:" in table
    assert LAO_CAI_PRODUCT in table  # the record by name, not only its number
    for raw in ("province_id", "producer_id", "file_key", "product_id"):
        assert raw not in table, raw
    vietnamese = _table(ministry.get("/admin/audit?lang=vi").get_data(as_text=True))
    assert "Tỉnh/thành phố: Lào Cai → Huế" in vietnamese
    assert "province_id" not in vietnamese and "file_key" not in vietnamese


def test_dates_and_booleans_read_per_locale(seeded_app: Flask, ministry: FlaskClient) -> None:
    _record(seeded_app, action="revoke", entity_type="certificate", entity_id=None,
            changes={"revoked_on": [None, "2025-10-01"], "expires_from_policy": [True, False]})  # fmt: skip
    table = _table(ministry.get("/admin/audit?lang=vi").get_data(as_text=True))
    assert "— → 01/10/2025" in table
    assert "revoked_on" not in table and "expires_from_policy" not in table
    english = _table(ministry.get("/admin/audit?lang=en").get_data(as_text=True))
    assert "Revoked on: — → Oct 1, 2025" in english
    assert "Expiry set by the registry's policy: yes → no" in english


def test_times_are_vietnam_time(seeded_app: Flask, ministry: FlaskClient) -> None:
    _record(seeded_app, action="update", entity_type="import_batch", entity_id=None,
            summary="late-evening-utc", at=datetime(2026, 6, 10, 20, 0, tzinfo=UTC))  # fmt: skip
    rows = _rows(ministry.get("/admin/audit?lang=vi&record=late-evening-utc").get_data(as_text=True))
    assert len(rows) == 1
    assert "11/06/2026 03:00" in rows[0]
    assert "20:00" not in rows[0] and "UTC" not in rows[0]
    # The date filter is a Vietnam day too: the entry belongs to 11 June, not 10 June.
    on_11th = ministry.get("/admin/audit?lang=vi&start=2026-06-11&end=2026-06-11").get_data(as_text=True)
    on_10th = ministry.get("/admin/audit?lang=vi&start=2026-06-10&end=2026-06-10").get_data(as_text=True)
    assert "late-evening-utc" in _table(on_11th) and "late-evening-utc" not in _table(on_10th)


# ----------------------------------------------------------------------------- filters and pages


def test_sign_ins_are_hidden_unless_asked_for(seeded_app: Flask, ministry: FlaskClient) -> None:
    page = ministry.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "signed in" not in _table(page)
    only = _rows(ministry.get("/admin/audit?lang=en&action=sign_in").get_data(as_text=True))
    assert only and all("signed in" in r for r in only)
    everything = _table(ministry.get("/admin/audit?lang=en&action=all").get_data(as_text=True))
    assert "signed in" in everything and "created" in everything


def test_filter_by_action_and_by_kind_of_record(
    seeded_app: Flask, ministry: FlaskClient, make_certificate: Callable[..., str]
) -> None:
    _certify(make_certificate, "NK-2/GCN")
    certificates = _rows(ministry.get("/admin/audit?lang=en&entity_type=certificate").get_data(as_text=True))
    assert certificates and all(" Certificate #" in r for r in certificates)
    assert any("NK-2/GCN" in r for r in certificates)
    created = _rows(ministry.get("/admin/audit?lang=en&action=create&entity_type=producer").get_data(
        as_text=True))  # fmt: skip
    assert created and all(" created " in r and " Producer #" in r for r in created)
    assert any("HTX Nhật ký" in r for r in created)
    by_text = _rows(ministry.get("/admin/audit?lang=en&record=NK-2").get_data(as_text=True))
    assert by_text and all("NK-2/GCN" in r for r in by_text)
    with _db(seeded_app) as s:
        cert_id = s.exec(select(Certificate.id).where(Certificate.number == "NK-2/GCN")).one()
    by_number = _rows(ministry.get(f"/admin/audit?lang=en&entity_type=certificate&record={cert_id}")
                      .get_data(as_text=True))  # fmt: skip
    assert len(by_number) == 1 and f"Certificate #{cert_id}" in by_number[0]


def test_pages_of_fifty_keep_the_filters(seeded_app: Flask, ministry: FlaskClient) -> None:
    extra = 7
    _record(seeded_app, count=audit_trail.PAGE_SIZE + extra, action="upload", entity_type="import_batch",
            entity_id=None, summary="paging-probe")  # fmt: skip
    _record(seeded_app, count=3, action="discard", entity_type="import_batch", entity_id=None,
            summary="paging-probe")  # fmt: skip
    first = ministry.get("/admin/audit?lang=en&action=upload&record=paging-probe").get_data(as_text=True)
    assert len(_rows(first)) == audit_trail.PAGE_SIZE
    assert "Page 1 of 2" in first
    link = re.search(r'rel="next" href="([^"]+)"', first)
    assert link is not None
    target = html.unescape(link.group(1))
    assert "action=upload" in target and "record=paging-probe" in target and "page=2" in target
    second = _rows(ministry.get(target).get_data(as_text=True))
    assert len(second) == extra and all("paging-probe" in r and "discarded" not in r for r in second)
    shown = {m for r in _rows(first) + second for m in re.findall(r"paging-probe \d+", r)}
    assert len(shown) == audit_trail.PAGE_SIZE + extra  # every entry once, none twice


@pytest.mark.parametrize("page", ["abc", "-1", "0", "1.5", "99999999999999999999", "", "２"])
def test_a_bad_page_number_shows_the_first_page(seeded_app: Flask, ministry: FlaskClient, page: str) -> None:
    response = ministry.get(f"/admin/audit?lang=en&action=all&page={page}")
    assert response.status_code == 200
    assert "Page 1 of" in response.get_data(as_text=True) or "Page " not in response.get_data(as_text=True)


def test_stray_url_options_are_not_kept_in_page_links(seeded_app: Flask, ministry: FlaskClient) -> None:
    response = ministry.get("/admin/audit?lang=en&action=all&_scheme=ftp&_external=1&_anchor=x")
    assert response.status_code == 200
    link = re.search(r'rel="next" href="([^"]+)"', response.get_data(as_text=True))
    assert link is not None and link.group(1).startswith("/admin/audit?") and "#" not in link.group(1)


def test_a_page_past_the_end_shows_the_last(seeded_app: Flask, ministry: FlaskClient) -> None:
    response = ministry.get("/admin/audit?lang=en&action=all&page=9999")
    assert response.status_code == 200 and "No entries." not in response.get_data(as_text=True)


def test_provincial_officials_still_see_only_their_province(seeded_app: Flask) -> None:
    hue = _signed_in(seeded_app, "hue@so.gov.vn", "province", "Huế")
    with _db(seeded_app) as s:
        lao_cai, hue_id = province(s, "Lào Cai").id, province(s, "Huế").id
    _record(seeded_app, action="update", entity_type="import_batch", entity_id=None,
            summary="lao-cai-only", province_id=lao_cai)  # fmt: skip
    _record(seeded_app, action="update", entity_type="import_batch", entity_id=None,
            summary="hue-only", province_id=hue_id)  # fmt: skip
    page = _table(hue.get(f"/admin/audit?lang=en&province_id={lao_cai}").get_data(as_text=True))
    assert "hue-only" in page and "lao-cai-only" not in page


# ----------------------------------------------------------------------------- round names


def _provinces(app: Flask) -> dict[int, Province]:
    with _db(app) as s:
        return {p.id: p for p in s.exec(select(Province)).all()}  # type: ignore[misc]


def _old_quang_nam(provinces: dict[int, Province]) -> Province:
    return next(p for p in provinces.values() if p.short_name == "Quảng Nam" and not p.is_current)


@pytest.mark.parametrize(
    ("lang", "values", "expected"),
    [
        ("en", {"level": "tinh", "year": 2024, "province": "Quảng Nam"}, "Provincial · Quảng Nam · 2024"),
        ("vi", {"level": "tinh", "year": 2024, "province": "Quảng Nam"}, "Cấp tỉnh · Quảng Nam · 2024"),
        ("en", {"level": "khu_vuc", "region": "phia_bac", "year": 2024}, "Northern region · 2024"),
        ("vi", {"level": "khu_vuc", "region": "phia_bac", "year": 2024}, "Khu vực phía Bắc · 2024"),
        ("en", {"level": "khu_vuc", "year": 2022}, "Regional · 2022"),
        ("en", {"level": "quoc_gia", "year": 2023}, "National · 2023"),
        ("vi", {"level": "quoc_gia", "year": 2023}, "Quốc gia · 2023"),
        (
            "en",
            {"level": "huyen", "year": 2023, "province": "Quảng Nam", "locality": "Điện Bàn"},
            "District · Điện Bàn · Quảng Nam · 2023",
        ),
        (
            "vi",
            {"level": "huyen", "year": 2023, "province": "Quảng Nam", "locality": "Điện Bàn"},
            "Cấp huyện · Điện Bàn · Quảng Nam · 2023",
        ),
        ("vi", {"level": "xa", "year": 2025, "locality": "Xã Tà Xùa"}, "Cấp xã · Xã Tà Xùa · 2025"),
        (
            "en",
            {"level": "tinh", "year": 2024, "province": "Quảng Nam", "edition": "đợt 2"},
            "Provincial · Quảng Nam · 2024 (đợt 2)",
        ),
    ],
)
def test_round_label(seeded_app: Flask, lang: str, values: dict[str, Any], expected: str) -> None:
    provinces = _provinces(seeded_app)
    where = values.pop("province", None)
    province_id = _old_quang_nam(provinces).id if where else None
    round_ = SelectionRound(slug="x", province_id=province_id, **values)
    with seeded_app.test_request_context(f"/?lang={lang}"):
        assert round_label(round_, provinces) == expected


def test_officials_see_rounds_by_name_not_slug(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    _certify(make_certificate, "NK-3/GCN")
    client = _signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    with _db(seeded_app) as s:
        cert = s.exec(select(Certificate).where(Certificate.number == "NK-3/GCN")).one()
        slug = s.get(SelectionRound, cert.round_id).slug
    for url in (
        "/admin/rounds?lang=en",
        f"/admin/certificates/{cert.id}?lang=en",
        f"/admin/products/{cert.product_id}?lang=en",
        f"/admin/rounds/{cert.round_id}?lang=en",
    ):
        page = client.get(url).get_data(as_text=True)
        assert "Provincial · Lào Cai · 2025" in page, url
        assert f">{slug}<" not in page and f"{slug}</h1>" not in page, url


# ----------------------------------------------------------------------------- certificate history


def _history(page: str) -> list[str]:
    part = page.split('<ul class="history">', 1)[1].split("</ul>\n", 1)[0]
    items = re.split(r"<li[^>]*>", part)[1:]
    return [_text(li) for li in items]


def test_history_dates_the_issue_by_the_issue_date(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    _certify(make_certificate, "NK-4/GCN", year=2024, issued_on=date(2024, 3, 1))
    _certify(make_certificate, "NK-5/GCN", year=2023, product="Miến dong nhật ký")
    client = _signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    with _db(seeded_app) as s:
        known = s.exec(select(Certificate.id).where(Certificate.number == "NK-4/GCN")).one()
        unknown = s.exec(select(Certificate.id).where(Certificate.number == "NK-5/GCN")).one()
    events = _history(client.get(f"/admin/certificates/{known}?lang=en").get_data(as_text=True))
    issued = [e for e in events if "Certificate issued" in e]
    assert len(issued) == 1
    assert issued[0].strip().startswith("Mar 1, 2024 — Certificate issued")  # not the day it was published
    events = _history(client.get(f"/admin/certificates/{unknown}?lang=en").get_data(as_text=True))
    assert any("issue date unknown — recognised in 2023" in e for e in events)
    # Once the day is found and corrected, the issue is dated by it.
    with seeded_app.test_request_context("/"), _db(seeded_app) as s:
        correct_certificate(s, actor=get_user(s, "laocai@so.gov.vn"),
                                       certificate=s.get(Certificate, unknown),
                                       values={"issued_on": date(2023, 5, 2)}, reason="found")  # fmt: skip
        s.commit()
    events = _history(client.get(f"/admin/certificates/{unknown}?lang=en").get_data(as_text=True))
    assert events[0].strip().startswith("May 2, 2023 — Certificate issued")
    assert any("Issue date: — → May 2, 2023" in e for e in events)
    vietnamese = _history(client.get(f"/admin/certificates/{known}?lang=vi").get_data(as_text=True))
    assert vietnamese[0].strip().startswith("01/03/2024 — Cấp")
    assert "issued" not in " ".join(vietnamese)


def test_history_words_for_revocation_in_vietnamese(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    _certify(make_certificate, "NK-6/GCN", year=2024, issued_on=date(2024, 3, 1))
    with seeded_app.test_request_context("/"), _db(seeded_app) as s:
        cert = s.exec(select(Certificate).where(Certificate.number == "NK-6/GCN")).one()
        make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
        user = s.exec(select(User).where(User.email == "laocai@so.gov.vn")).one()
        revoke_certificate(s, actor=user, certificate=cert, reason="Không còn đạt tiêu chí",
                                      reference="9/QĐ-SCT", on=date(2025, 10, 1))  # fmt: skip
        s.commit()
        cert_id = cert.id
    client = seeded_app.test_client()
    login(client, "laocai@so.gov.vn")
    events = _history(client.get(f"/admin/certificates/{cert_id}?lang=vi").get_data(as_text=True))
    revoked = [e for e in events if "9/QĐ-SCT" in e]
    assert len(revoked) == 1 and revoked[0].strip().startswith("01/10/2025 — Thu hồi")
    assert "revoked" not in " ".join(events)


def test_the_log_links_only_to_pages_the_official_can_open(
    seeded_app: Flask, ministry: FlaskClient, make_certificate: Callable[..., str]
) -> None:
    """A province's certificate is named in the ministry's log, but its page (the issuing office's
    correction form) is not linked for the ministry; the province's own official gets the link."""
    _certify(make_certificate, "AUDIT-LINK-01")
    with _db(seeded_app) as s:
        cert_id = s.exec(select(Certificate.id).where(Certificate.number == "AUDIT-LINK-01")).one()
    lao_cai = _signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    link = f'href="/admin/certificates/{cert_id}"'
    for client, linked in ((lao_cai, True), (ministry, False)):
        page = client.get("/admin/audit?lang=en&entity_type=certificate").get_data(as_text=True)
        assert LAO_CAI_PRODUCT in _table(page)
        assert (link in page) is linked
        if linked:
            assert client.get(f"/admin/certificates/{cert_id}").status_code == 200
    assert ministry.get(f"/admin/certificates/{cert_id}").status_code == 403
