"""Merging duplicates (issue 15, item 3): two spellings of one producer (or two records of one
product) become one, with a preview that changes nothing, old addresses redirecting to the
survivor, the search following, one audit entry, and an undo that puts back every row exactly."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import text
from sqlmodel import Session, select

from catalogue.accounts.models import User
from catalogue.audit.models import AuditEntry
from catalogue.db import get_engine
from catalogue.fairs import services as fairs
from catalogue.fairs.models import Event
from catalogue.registry import editing, merging, product_photos
from catalogue.registry.models import Certificate, MergeRecord, Producer, Product
from tests.fixtures.workspace import csrf_token, login, make_user

#: Every table a merge may touch, compared row by row before and after.
TABLES = ("producer", "product", "certificate", "certificate_event", "photo", "exhibitor", "exhibit",
          "slug_redirect")  # fmt: skip

SURVIVOR = "HTX Chè Shan tuyết Suối Giàng"
DUPLICATE = "Hợp tác xã chè Shan tuyết Suối Giàng"


def _db(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def snapshot(app: Flask) -> dict[str, dict[int, dict[str, Any]]]:
    """Every row of the touched tables, column by column, as the database holds it."""
    with app.app_context(), get_engine().connect() as conn:
        return {
            t: {r["id"]: dict(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id")).mappings()}
            for t in TABLES
        }


def _audit_count(app: Flask, action: str) -> int:
    with _db(app) as s:
        return len(s.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, "PNG")
    return out.getvalue()


def _user(s: Session, email: str) -> User:
    return s.exec(select(User).where(User.email == email)).one()


@pytest.fixture
def world(seeded_app: Flask, make_certificate: Callable[..., str]) -> dict[str, Any]:
    """Lào Cai's producer recorded twice (two spellings), each with a certified product; a Huế producer."""
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    make_user(seeded_app, "hue@so.gov.vn", "province", "Huế")
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    codes = {
        "kept": make_certificate(product="Chè Shan tuyết cổ thụ Suối Giàng", producer=SURVIVOR, year=2024,
                                 certificate_number="LC-101/GCN", issued_on=date(2024, 9, 10)),
        "dup": make_certificate(product="Trà xanh Suối Giàng", producer=DUPLICATE, year=2025,
                                certificate_number="LC-202/GCN", issued_on=date(2025, 8, 20)),
        "dup2": make_certificate(product="Hồng trà Suối Giàng", producer=DUPLICATE, year=2025,
                                 certificate_number="LC-203/GCN", issued_on=date(2025, 8, 20)),
        "hue": make_certificate(product="Mè xửng Huế thử", producer="Cơ sở Mè xửng thử", year=2024,
                                province="Huế", certificate_number="HUE-9/GCN", issued_on=date(2024, 5, 1)),
    }  # fmt: skip
    with seeded_app.test_request_context("/?lang=en"), _db(seeded_app) as s:
        laocai, ministry = _user(s, "laocai@so.gov.vn"), _user(s, "cuc@moit.gov.vn")
        kept = s.exec(select(Producer).where(Producer.name == SURVIVOR)).one()
        dup = s.exec(select(Producer).where(Producer.name == DUPLICATE)).one()
        hue = s.exec(select(Producer).where(Producer.name == "Cơ sở Mè xửng thử")).one()
        # The duplicate knows the phone and address the survivor lacks.
        editing.save_producer(s, actor=laocai, producer=dup,
                              values={"address": "Thôn Suối Giàng", "phone": "0216 3888 999"})  # fmt: skip
        dup_products = s.exec(select(Product).where(Product.producer_id == dup.id).order_by(Product.id)).all()
        product_photos.add_photo(s, actor=laocai, product=dup_products[0], data=_png())
        event = s.exec(select(Event)).first()
        assert event is not None
        fairs.add_exhibitor(
            s, actor=ministry, event=event, producer=dup, booth="B7", products=[dup_products[0]]
        )
        s.commit()
        return {
            "kept": kept.id, "dup": dup.id, "hue": hue.id, "kept_slug": kept.slug, "dup_slug": dup.slug,
            "dup_products": [p.id for p in dup_products], "codes": codes,
        }  # fmt: skip


def _signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _token(page: str) -> str:
    match = re.search(r'name="token" type="hidden" value="([^"]+)"', page)
    assert match, "no preview token on the page"
    return match.group(1)


def _preview(client: FlaskClient, path: str, duplicate: int) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, path), "duplicate_id": duplicate,
                                   "preview": "1"})  # fmt: skip


def _merge(client: FlaskClient, path: str, duplicate: int, fill: bool = True) -> Any:
    page = _preview(client, path, duplicate)
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_token(client, path), "duplicate_id": duplicate, "confirm": "1",
            "token": _token(page.get_data(as_text=True))}  # fmt: skip
    if fill:
        data["fill_blanks"] = "y"
    return client.post(path, data=data)


def _items(client: FlaskClient, q: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/products?q={q}&status=all&lang=en")
    assert answer.status_code == 200
    return list(answer.get_json()["items"])


# ----------------------------------------------------------------------------- producers


def test_two_spellings_of_one_producer_merge_and_the_undo_puts_every_row_back(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    path = f"/admin/producers/{world['kept']}/merge"
    before = snapshot(seeded_app)
    audits = _audit_count(seeded_app, "merge")

    # The workspace page of the producer offers the merge; the merge page offers the duplicate.
    assert path in client.get(f"/admin/producers/{world['kept']}").get_data(as_text=True)
    assert DUPLICATE in client.get(path).get_data(as_text=True)

    # The preview names what moves and changes nothing.
    page = _preview(client, path, world["dup"]).get_data(as_text=True)
    assert "Trà xanh Suối Giàng" in page and "Hồng trà Suối Giàng" in page
    assert "LC-202/GCN" in page and "0216 3888 999" in page
    assert snapshot(seeded_app) == before and _audit_count(seeded_app, "merge") == audits

    done = _merge(client, path, world["dup"])
    assert done.status_code == 302 and "/admin/merges/" in done.headers["Location"]
    assert "Undo this merge" in client.get(done.headers["Location"] + "?lang=en").get_data(as_text=True)

    with _db(seeded_app) as s:
        assert s.get(Producer, world["dup"]) is None
        kept = s.get(Producer, world["kept"])
        assert kept is not None and kept.phone == "0216 3888 999" and kept.address == "Thôn Suối Giàng"
        for pid in world["dup_products"]:
            assert s.get(Product, pid).producer_id == world["kept"]  # type: ignore[union-attr]
    assert _audit_count(seeded_app, "merge") == audits + 1
    log = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "duplicate merged in" in log and DUPLICATE in log

    # The old public address leads to the survivor, whose page lists every product.
    public = seeded_app.test_client()
    moved = public.get(f"/producers/{world['dup_slug']}")
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith(f"/producers/{world['kept_slug']}")
    survivor_page = public.get(f"/producers/{world['kept_slug']}").get_data(as_text=True)
    assert "Trà xanh Suối Giàng" in survivor_page and "Chè Shan tuyết cổ thụ Suối Giàng" in survivor_page

    # The search shows the moved products under the survivor's name.
    items = _items(public, "Trà xanh Suối Giàng")
    found = [i for i in items if i["name"] == "Trà xanh Suối Giàng"]
    assert found and found[0]["producer"]["name"] == SURVIVOR

    # Undo: every row as it was, the old address answers again, the search follows.
    record_id = int(done.headers["Location"].rsplit("/", 1)[1])
    undone = client.post(f"/admin/merges/{record_id}/undo", data={"csrf_token": csrf_token(client, path)})
    assert undone.status_code == 302
    assert snapshot(seeded_app) == before
    assert public.get(f"/producers/{world['dup_slug']}").status_code == 200
    found = [i for i in _items(public, "Trà xanh Suối Giàng") if i["name"] == "Trà xanh Suối Giàng"]
    assert found and found[0]["producer"]["name"] == DUPLICATE
    assert _audit_count(seeded_app, "unmerge") == 1
    # …and the list of merges says so; a second undo is refused and changes nothing.
    assert "undone" in client.get("/admin/merges?lang=en").get_data(as_text=True)
    again = client.post(
        f"/admin/merges/{record_id}/undo?lang=en",
        data={"csrf_token": csrf_token(client, path)},
        follow_redirects=True,
    )
    assert "already been undone" in again.get_data(as_text=True)
    assert snapshot(seeded_app) == before


def test_keeping_the_survivors_fields_leaves_them_blank(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert (
        _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"], fill=False).status_code == 302
    )
    with _db(seeded_app) as s:
        kept = s.get(Producer, world["kept"])
        assert kept is not None and kept.phone is None and kept.address is None


def test_a_chain_of_merges_leads_to_the_last_survivor(
    seeded_app: Flask, world: dict[str, Any], make_certificate: Callable[..., str]
) -> None:
    make_certificate(product="Chè búp Suối Giàng", producer="HTX chè Suối Giàng (cũ)", year=2024,
                     certificate_number="LC-303/GCN", issued_on=date(2024, 9, 10))  # fmt: skip
    with _db(seeded_app) as s:
        third = s.exec(select(Producer).where(Producer.name == "HTX chè Suối Giàng (cũ)")).one()
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert _merge(client, f"/admin/producers/{world['dup']}/merge", third.id).status_code == 302
    assert _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"]).status_code == 302
    public = seeded_app.test_client()
    for slug in (third.slug, world["dup_slug"]):
        answer = public.get(f"/producers/{slug}")
        assert answer.status_code == 301 and answer.headers["Location"].endswith(f"/{world['kept_slug']}")
    # Undoing the first merge waits for the later one.
    with _db(seeded_app) as s:
        first = s.exec(select(MergeRecord).where(MergeRecord.duplicate_id == third.id)).one()
    before = snapshot(seeded_app)
    refused = client.post(
        f"/admin/merges/{first.id}/undo?lang=en",
        data={"csrf_token": csrf_token(client, "/admin/")},
        follow_redirects=True,
    )
    assert "undo that later merge first" in refused.get_data(as_text=True)
    assert snapshot(seeded_app) == before


def test_undo_is_refused_when_the_old_address_was_taken(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    done = _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"])
    with _db(seeded_app) as s:
        laocai = _user(s, "laocai@so.gov.vn")
        with seeded_app.test_request_context("/?lang=en"):
            newcomer = editing.save_producer(
                s,
                actor=laocai,
                producer=None,
                values={"name": "Cơ sở mới", "province_id": laocai.province_id},
            )
        newcomer.slug = world["dup_slug"]
        s.add(newcomer)
        s.commit()
    before = snapshot(seeded_app)
    record_id = done.headers["Location"].rsplit("/", 1)[1]
    refused = client.post(
        f"/admin/merges/{record_id}/undo?lang=en",
        data={"csrf_token": csrf_token(client, "/admin/")},
        follow_redirects=True,
    )
    assert "is used by another record now" in refused.get_data(as_text=True)
    assert snapshot(seeded_app) == before


def test_a_new_record_of_the_old_name_keeps_the_old_address_redirecting(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    done = _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"])
    with _db(seeded_app) as s:
        laocai = _user(s, "laocai@so.gov.vn")
        with seeded_app.test_request_context("/?lang=en"):
            newcomer = editing.save_producer(
                s, actor=laocai, producer=None, values={"name": DUPLICATE, "province_id": laocai.province_id}
            )
        s.commit()
        assert newcomer.slug != world["dup_slug"]  # the merged record's address stays taken
    old = client.get(f"/producers/{world['dup_slug']}")
    assert old.status_code == 301 and old.headers["Location"].endswith(f"/producers/{world['kept_slug']}")
    record_id = done.headers["Location"].rsplit("/", 1)[1]
    undone = client.post(
        f"/admin/merges/{record_id}/undo?lang=en",
        data={"csrf_token": csrf_token(client, "/admin/")},
        follow_redirects=True,
    )
    assert "is used by another record now" not in undone.get_data(as_text=True)
    assert client.get(f"/producers/{world['dup_slug']}").status_code == 200


def test_a_changed_record_shows_the_preview_again(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    path = f"/admin/producers/{world['kept']}/merge?lang=en"
    token = _token(_preview(client, path, world["dup"]).get_data(as_text=True))
    with _db(seeded_app) as s, seeded_app.test_request_context("/?lang=en"):
        editing.save_producer(s, actor=_user(s, "laocai@so.gov.vn"), producer=s.get(Producer, world["dup"]),
                              values={"website": "https://suoigiang.example.vn"})  # fmt: skip
        s.commit()
    before = snapshot(seeded_app)
    stale = client.post(path, data={"csrf_token": csrf_token(client, path), "duplicate_id": world["dup"],
                                    "confirm": "1", "token": token})  # fmt: skip
    page = stale.get_data(as_text=True)
    assert stale.status_code == 200 and "changed since the preview" in page
    assert "https://suoigiang.example.vn" in page and _token(page) != token
    assert snapshot(seeded_app) == before


# ----------------------------------------------------------------------------- products


def test_a_product_merge_moves_certificates_and_photos_and_codes_keep_verifying(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    kept, dup = world["dup_products"]
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    public = seeded_app.test_client()
    with _db(seeded_app) as s:
        dup_slug = s.get(Product, dup).slug  # type: ignore[union-attr]
        kept_slug = s.get(Product, kept).slug  # type: ignore[union-attr]
    before = snapshot(seeded_app)
    assert [i for i in _items(public, "Hồng trà Suối Giàng") if i["name"] == "Hồng trà Suối Giàng"]

    # Merge "Trà xanh" (with the photo and exhibit) into "Hồng trà".
    kept, dup = dup, kept
    kept_slug, dup_slug = dup_slug, kept_slug
    path = f"/admin/products/{kept}/merge?lang=en"
    page = _preview(client, path, dup).get_data(as_text=True)
    assert "LC-202/GCN" in page and "Photos: 1" in page
    assert snapshot(seeded_app) == before
    assert _merge(client, path, dup).status_code == 302

    with _db(seeded_app) as s:
        assert s.get(Product, dup) is None
        certs = s.exec(select(Certificate).where(Certificate.product_id == kept)).all()
        assert {c.number for c in certs} == {"LC-202/GCN", "LC-203/GCN"}
    assert "/admin/products/" in client.get(f"/admin/products/{kept}").get_data(as_text=True)
    verify = public.get(f"/v/{world['codes']['dup']}?lang=en").get_data(as_text=True)
    assert "Hồng trà Suối Giàng" in verify and "Trà xanh Suối Giàng" not in verify
    moved = public.get(f"/products/{dup_slug}?lang=en")
    assert moved.status_code == 301 and f"/products/{kept_slug}" in moved.headers["Location"]
    assert "lang=en" in moved.headers["Location"]
    product_page = public.get(f"/products/{kept_slug}").get_data(as_text=True)
    assert "LC-202/GCN" in product_page and "/media/" in product_page
    # The duplicate's search document is gone; the survivor's lists both certificates.
    assert not [i for i in _items(public, "Trà xanh Suối Giàng") if i["name"] == "Trà xanh Suối Giàng"]
    survivor = [i for i in _items(public, "Hồng trà Suối Giàng") if i["name"] == "Hồng trà Suối Giàng"]
    assert {c["number"] for c in survivor[0]["certificates"]} == {"LC-202/GCN", "LC-203/GCN"}

    with _db(seeded_app) as s:
        record = s.exec(select(MergeRecord).where(MergeRecord.kind == "product")).one()
    client.post(f"/admin/merges/{record.id}/undo", data={"csrf_token": csrf_token(client, "/admin/")})
    assert snapshot(seeded_app) == before
    assert public.get(f"/products/{dup_slug}").status_code == 200
    assert [i for i in _items(public, "Trà xanh Suối Giàng") if i["name"] == "Trà xanh Suối Giàng"]


def test_products_of_different_producers_are_not_merged(seeded_app: Flask, world: dict[str, Any]) -> None:
    with _db(seeded_app) as s:
        kept = s.exec(select(Product).where(Product.producer_id == world["kept"])).one()
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    before = snapshot(seeded_app)
    page = _preview(client, f"/admin/products/{kept.id}/merge?lang=en", world["dup_products"][0])
    assert "different producers" in page.get_data(as_text=True)
    assert snapshot(seeded_app) == before


# ----------------------------------------------------------------------------- who may


def test_permission_walk(seeded_app: Flask, world: dict[str, Any]) -> None:
    path = f"/admin/producers/{world['kept']}/merge"
    before = snapshot(seeded_app)
    anonymous = seeded_app.test_client()
    token = csrf_token(anonymous)
    for method in ("GET", "POST"):
        answer = anonymous.open(path, method=method, data={"csrf_token": token, "duplicate_id": world["dup"],
                                                           "confirm": "1"})  # fmt: skip
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/login")
    assert anonymous.get("/admin/merges").headers["Location"].startswith("/admin/login")

    hue = _signed_in(seeded_app, "hue@so.gov.vn")
    assert hue.get(path).status_code == 403
    assert _preview(hue, path, world["dup"]).status_code == 403
    # Huế's own producer as the survivor, Lào Cai's as the duplicate: still not theirs.
    assert _preview(hue, f"/admin/producers/{world['hue']}/merge", world["dup"]).status_code == 403
    assert snapshot(seeded_app) == before

    # The owning province merges; Huế may neither see nor undo that merge.
    laocai = _signed_in(seeded_app, "laocai@so.gov.vn")
    done = _merge(laocai, path, world["dup"])
    record = done.headers["Location"]
    merged = snapshot(seeded_app)
    assert hue.get(record).status_code == 403
    assert hue.post(f"{record}/undo", data={"csrf_token": csrf_token(hue, "/admin/")}).status_code == 403
    assert "Suối Giàng" not in hue.get("/admin/merges").get_data(as_text=True)
    assert snapshot(seeded_app) == merged

    # The ministry may merge and undo any province's producers (the ownership rule).
    ministry = _signed_in(seeded_app, "cuc@moit.gov.vn")
    assert "Suối Giàng" in ministry.get("/admin/merges").get_data(as_text=True)
    assert (
        ministry.post(f"{record}/undo", data={"csrf_token": csrf_token(ministry, "/admin/")}).status_code
        == 302
    )
    assert snapshot(seeded_app) == before
    assert _merge(ministry, path, world["dup"]).status_code == 302


def test_records_of_two_provinces_or_one_record_are_not_merged(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    ministry = _signed_in(seeded_app, "cuc@moit.gov.vn")
    before = snapshot(seeded_app)
    page = _preview(ministry, f"/admin/producers/{world['kept']}/merge?lang=en", world["hue"])
    assert page.status_code == 200 and "different provinces" in page.get_data(as_text=True)
    same = _preview(ministry, f"/admin/producers/{world['kept']}/merge?lang=en", world["kept"])
    assert "cannot be merged into itself" in same.get_data(as_text=True)
    # A tampered confirmation is refused the same way.
    forced = ministry.post(f"/admin/producers/{world['kept']}/merge?lang=en",
                           data={"csrf_token": csrf_token(ministry, "/admin/"), "duplicate_id": world["hue"],
                                 "confirm": "1", "token": "x"})  # fmt: skip
    assert "different provinces" in forced.get_data(as_text=True)
    assert snapshot(seeded_app) == before


def test_bad_ids_are_not_found(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert client.get("/admin/producers/999999/merge").status_code == 404
    assert client.get("/admin/products/999999/merge").status_code == 404
    assert _preview(client, f"/admin/producers/{world['kept']}/merge", 999999).status_code == 404
    assert client.get("/admin/merges/999999").status_code == 404
    assert (
        client.post(
            "/admin/merges/999999/undo", data={"csrf_token": csrf_token(client, "/admin/")}
        ).status_code
        == 404
    )
    blank = _preview(client, f"/admin/producers/{world['kept']}/merge?lang=en", "")  # type: ignore[arg-type]
    assert "Choose the duplicate" in blank.get_data(as_text=True)
    assert seeded_app.test_client().get("/producers/khong-co-co-so-nay").status_code == 404


def test_the_service_refuses_anonymous_and_another_province(seeded_app: Flask, world: dict[str, Any]) -> None:
    from catalogue.accounts.permissions import Forbidden

    with seeded_app.test_request_context("/?lang=en"), _db(seeded_app) as s:
        kept, dup = s.get(Producer, world["kept"]), s.get(Producer, world["dup"])
        for actor in (None, _user(s, "hue@so.gov.vn")):
            with pytest.raises(Forbidden):
                merging.preview(s, actor=actor, kind="producer", survivor=kept, duplicate=dup)
            with pytest.raises(Forbidden):
                merging.merge(s, actor=actor, kind="producer", survivor=kept, duplicate=dup, token="",
                              fill_blanks=True)  # fmt: skip


def test_an_import_naming_the_old_spelling_finds_the_survivor(
    seeded_app: Flask, world: dict[str, Any], make_certificate: Callable[..., str]
) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"]).status_code == 302
    make_certificate(product="Trà ô long Suối Giàng", producer=DUPLICATE, year=2026,
                     certificate_number="LC-404/GCN", issued_on=date(2026, 5, 4))  # fmt: skip
    with _db(seeded_app) as s:
        assert not s.exec(select(Producer).where(Producer.name == DUPLICATE)).all()
        product = s.exec(select(Product).where(Product.name == "Trà ô long Suối Giàng")).one()
        assert product.producer_id == world["kept"]


def test_undo_moves_back_only_what_moved(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    done = _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"])
    with _db(seeded_app) as s, seeded_app.test_request_context("/?lang=en"):
        laocai = _user(s, "laocai@so.gov.vn")
        values = {
            "name": "Chè vàng Suối Giàng",
            "producer_id": world["kept"],
            "province_id": laocai.province_id,
        }
        added = editing.save_product(s, actor=laocai, product=None, values=values)
        s.commit()
    record_id = done.headers["Location"].rsplit("/", 1)[1]
    assert (
        client.post(
            f"/admin/merges/{record_id}/undo", data={"csrf_token": csrf_token(client, "/admin/")}
        ).status_code
        == 302
    )
    with _db(seeded_app) as s:
        assert s.get(Product, added.id).producer_id == world["kept"]  # type: ignore[union-attr]
        for pid in world["dup_products"]:
            assert s.get(Product, pid).producer_id == world["dup"]  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- review findings


def _undo(client: FlaskClient, record_id: int) -> Any:
    return client.post(
        f"/admin/merges/{record_id}/undo?lang=en",
        data={"csrf_token": csrf_token(client, "/admin/")},
        follow_redirects=True,
    )


def test_undoing_a_product_merge_waits_for_the_later_merge_of_its_producer(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    kept, dup = world["dup_products"]
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert _merge(client, f"/admin/products/{kept}/merge", dup).status_code == 302
    assert _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"]).status_code == 302
    with _db(seeded_app) as s:
        product_merge = s.exec(select(MergeRecord).where(MergeRecord.kind == "product")).one()
    before = snapshot(seeded_app)
    refused = _undo(client, int(product_merge.id))  # type: ignore[arg-type]
    assert refused.status_code == 200
    page = refused.get_data(as_text=True)
    assert "its producer was merged into" in page and SURVIVOR in page and "undo that merge first" in page
    assert snapshot(seeded_app) == before
    # Once the producer merge is undone, the product merge can be undone too.
    with _db(seeded_app) as s:
        producer_merge = s.exec(select(MergeRecord).where(MergeRecord.kind == "producer")).one()
    assert "The merge is undone" in _undo(client, int(producer_merge.id)).get_data(as_text=True)  # type: ignore[arg-type]
    assert "The merge is undone" in _undo(client, int(product_merge.id)).get_data(as_text=True)  # type: ignore[arg-type]
    with _db(seeded_app) as s:
        assert s.get(Product, dup).producer_id == world["dup"]  # type: ignore[union-attr]


def test_the_old_address_redirect_keeps_only_the_language_and_is_cached_for_an_hour(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"]).status_code == 302
    public = seeded_app.test_client()
    odd = public.get(f"/producers/{world['dup_slug']}?slug=x&_scheme=https&_external=1&lang=en",
                     headers={"Host": "evil.example"})  # fmt: skip
    assert odd.status_code == 301
    location = odd.headers["Location"]
    assert location.startswith(f"/producers/{world['kept_slug']}") and "evil.example" not in location
    assert "lang=en" in location and "slug=" not in location and "_scheme" not in location
    assert odd.headers["Cache-Control"] == "public, max-age=3600"


def test_a_second_undo_of_a_merge_already_undone_elsewhere_is_refused(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    from catalogue.refused import Refused
    from catalogue.registry import unmerging

    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    done = _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"])
    record_id = int(done.headers["Location"].rsplit("/", 1)[1])
    with _db(seeded_app) as late, seeded_app.test_request_context("/?lang=en"):
        stale = late.get(MergeRecord, record_id)  # read before the other official's undo lands
        assert stale is not None and stale.undone_at is None
        late.commit()
        assert _undo(client, record_id).status_code == 200
        before = snapshot(seeded_app)
        with pytest.raises(Refused, match="already been undone|đã được hoàn tác"):
            unmerging.undo(late, actor=_user(late, "laocai@so.gov.vn"), merge_record=stale)
        late.rollback()
    assert snapshot(seeded_app) == before


def test_a_merge_racing_another_merge_of_the_same_duplicate_is_refused(
    seeded_app: Flask,
    world: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    make_certificate: Callable[..., str],
) -> None:
    make_certificate(product="Chè búp Suối Giàng", producer="HTX chè Suối Giàng (cũ)", year=2024,
                     certificate_number="LC-303/GCN", issued_on=date(2024, 9, 10))  # fmt: skip
    with _db(seeded_app) as late, seeded_app.test_request_context("/?lang=en"):
        third = late.exec(select(Producer).where(Producer.name == "HTX chè Suối Giàng (cũ)")).one()
        laocai = _user(late, "laocai@so.gov.vn")
        dup = late.get(Producer, world["dup"])
        # This official previewed "dup into third" before another merged "dup into kept".
        seen = merging.preview(late, actor=laocai, kind="producer", survivor=third, duplicate=dup)
        late.commit()
        client = _signed_in(seeded_app, "laocai@so.gov.vn")
        assert _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"]).status_code == 302
        before = snapshot(seeded_app)
        monkeypatch.setattr(merging, "preview", lambda *a, **k: seen)  # the race window
        with pytest.raises(merging.StalePreview):
            merging.merge(late, actor=laocai, kind="producer", survivor=third, duplicate=dup,
                          token=seen.token, fill_blanks=False)  # fmt: skip
        late.rollback()
    assert snapshot(seeded_app) == before


def test_the_audit_log_names_what_moved_in_words(seeded_app: Flask, world: dict[str, Any]) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    done = _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"])
    assert _undo(client, int(done.headers["Location"].rsplit("/", 1)[1])).status_code == 200
    log = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert log.count("Products: 2") == 2  # the merge and its undo
    assert "Fair exhibitors: 1" in log and "product: 2" not in log


def test_the_old_spelling_finds_the_survivor_though_another_province_has_that_name(
    seeded_app: Flask, world: dict[str, Any], make_certificate: Callable[..., str]
) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert _merge(client, f"/admin/producers/{world['kept']}/merge", world["dup"]).status_code == 302
    make_certificate(product="Chè Huế thử", producer=DUPLICATE, year=2026, province="Huế",
                     certificate_number="HUE-11/GCN", issued_on=date(2026, 5, 4))  # fmt: skip
    make_certificate(product="Trà ô long Suối Giàng", producer=DUPLICATE, year=2026,
                     certificate_number="LC-404/GCN", issued_on=date(2026, 5, 4))  # fmt: skip
    with _db(seeded_app) as s:
        assert len(s.exec(select(Producer).where(Producer.name == DUPLICATE)).all()) == 1  # Huế's only
        product = s.exec(select(Product).where(Product.name == "Trà ô long Suối Giàng")).one()
        assert product.producer_id == world["kept"]


def test_a_merged_records_id_is_never_given_to_a_new_record(
    seeded_app: Flask, world: dict[str, Any], make_certificate: Callable[..., str]
) -> None:
    from catalogue.imports import checking as importing
    from catalogue.imports import publishing
    from tests.fixtures.workspace import row, xlsx_bytes

    make_certificate(product="Chè búp Suối Giàng", producer="HTX chè Suối Giàng (cũ)", year=2024,
                     certificate_number="LC-303/GCN", issued_on=date(2024, 9, 10))  # fmt: skip
    with _db(seeded_app) as s:  # the newest producer and product: the ones a reused id would go to
        third = s.exec(select(Producer).where(Producer.name == "HTX chè Suối Giàng (cũ)")).one()
        bud = s.exec(select(Product).where(Product.name == "Chè búp Suối Giàng")).one()
        kept_product = s.exec(select(Product).where(Product.producer_id == world["kept"])).one()
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    assert _merge(client, f"/admin/producers/{world['kept']}/merge", third.id).status_code == 302
    assert _merge(client, f"/admin/products/{kept_product.id}/merge", bud.id).status_code == 302

    with seeded_app.test_request_context("/?lang=en"), _db(seeded_app) as s:
        laocai = _user(s, "laocai@so.gov.vn")
        producer = editing.save_producer(
            s, actor=laocai, producer=None, values={"name": "Cơ sở mới", "province_id": laocai.province_id}
        )
        product = editing.save_product(s, actor=laocai, product=None,
                                       values={"name": "Chè mới", "producer_id": producer.id,
                                               "province_id": laocai.province_id})  # fmt: skip
        assert producer.id != third.id and product.id != bud.id  # form: the database numbers them
        s.rollback()

        batch, report = importing.stage_batch(s, actor=laocai, filename="qd.xlsx", data=xlsx_bytes([row(1)]))
        assert batch is not None and report.ok, report.problems()
        s.commit()
        publishing.publish_batch(s, actor=laocai, batch=batch, staged=True)
        s.commit()
        new_producer = s.exec(select(Producer).where(Producer.name == "HTX Thử nghiệm 1")).one()
        new_product = s.exec(select(Product).where(Product.name == "Chè Shan tuyết thử nghiệm 1")).one()
        assert new_producer.id > third.id and new_product.id > bud.id  # type: ignore[operator]
    # The merges can still be undone, and the API's ids name the records they named.
    with _db(seeded_app) as s:
        records = s.exec(select(MergeRecord).order_by(MergeRecord.id.desc())).all()  # type: ignore[union-attr]
    for record in records:
        assert "The merge is undone" in _undo(client, int(record.id)).get_data(as_text=True)  # type: ignore[arg-type]


def test_a_confirmation_sent_again_says_it_is_merged_already(
    seeded_app: Flask, world: dict[str, Any]
) -> None:
    client = _signed_in(seeded_app, "laocai@so.gov.vn")
    path = f"/admin/producers/{world['kept']}/merge?lang=en"
    page = _preview(client, path, world["dup"])
    data = {"csrf_token": csrf_token(client, path), "duplicate_id": world["dup"], "confirm": "1",
            "token": _token(page.get_data(as_text=True)), "fill_blanks": "y"}  # fmt: skip
    done = client.post(path, data=data)
    assert done.status_code == 302
    before = snapshot(seeded_app)
    again = client.post(path, data=data)  # a reload of the confirmation, or a second tab
    assert again.status_code == 302 and again.headers["Location"] == done.headers["Location"]
    assert "This duplicate has already been merged." in client.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert snapshot(seeded_app) == before
