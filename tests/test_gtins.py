"""GTINs on products (issue 18): the import column "Mã GTIN", the workspace form, the product page,
the API, and merging; the rule itself (check digits, several per cell, spreadsheet numbers)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from openpyxl import Workbook
from sqlmodel import Session, col, func, select

from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.db import get_engine
from catalogue.registry.gtins import GtinError, parse_gtins
from catalogue.registry.models import Certificate, MergeRecord, Product, ProductGtin
from tests.fixtures.workspace import HEADERS, KEYS, csrf_token, post, row, signed_in, upload

# Check digits worked out by the GS1 algorithm (synthetic codes, no real product's).
A13, B13, C13, D13 = "8939999000017", "8939999000024", "8939999000031", "8939999000048"


def _14(gtin: str) -> str:
    return gtin.zfill(14)


def sheet(rows: list[dict[str, Any]]) -> bytes:
    """The fixtures' spreadsheet with the "Mã GTIN" column (a cell may be a number, as Excel keeps it)."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append([*HEADERS, "Mã GTIN"])
    for values in rows:
        ws.append([values.get(k, "") for k in KEYS] + [values.get("gtin", "")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def official(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")


def _session(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def _gtins(app: Flask, product_name: str) -> list[str]:
    with _session(app) as s:
        return list(
            s.exec(
                select(ProductGtin.gtin)
                .join(Product, col(Product.id) == ProductGtin.product_id)
                .where(Product.name == product_name)
                .order_by(col(ProductGtin.id))
            ).all()
        )


def _count(app: Flask, model: type) -> int:
    with _session(app) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def _publish(client: FlaskClient, data: bytes, filename: str = "qd.xlsx") -> tuple[str, str]:
    """Upload and publish; returns the batch's address and its page (English) after publishing."""
    response = upload(client, data, filename)
    assert response.status_code == 302, response.get_data(as_text=True)
    batch_url = response.headers["Location"]
    post(client, batch_url + "/publish", {}, token_from=batch_url)
    return batch_url, client.get(batch_url + "?lang=en").get_data(as_text=True)


def _preview(client: FlaskClient, data: bytes) -> tuple[str, str]:
    response = upload(client, data)
    batch_url = response.headers["Location"]
    return batch_url, client.get(batch_url + "?lang=en").get_data(as_text=True)


# ----------------------------------------------------------------------------- the rule


def test_a_cell_may_name_several_gtins_in_any_form_a_spreadsheet_gives() -> None:
    assert parse_gtins(None) == [] and parse_gtins("") == [] and parse_gtins("  ") == []
    assert parse_gtins(int(A13)) == [_14(A13)]
    assert parse_gtins(float(A13)) == [_14(A13)]  # Excel keeps a long number as a float
    assert parse_gtins(f"{A13}.0") == [_14(A13)]
    assert parse_gtins(f"{A13}, {B13};{C13}\n{D13} {A13}") == [_14(g) for g in (A13, B13, C13, D13)]
    # GTIN-8, GTIN-12 and GTIN-14 spellings, each in its 14-digit form.
    assert parse_gtins("93123457 036000291452 08939999000055") == [
        "00000093123457", "00036000291452", "08939999000055",
    ]  # fmt: skip
    # A number cell loses leading zeros; the digits printed under a barcode come in spaced groups.
    assert parse_gtins(36000291452) == ["00036000291452"] and parse_gtins(93123457.0) == ["00000093123457"]
    assert parse_gtins("8 939999 000017") == [_14(A13)]
    assert parse_gtins(f"8 939999 000017, {B13}") == [_14(A13), _14(B13)]
    with pytest.raises(GtinError, match="all zeros"):
        parse_gtins("00000000000000")


def test_a_bad_gtin_is_named_with_what_is_wrong(app: Flask) -> None:
    with app.test_request_context(), force_locale("en"):
        for value, words in (
            ("8939999000018", "check digit"),
            ("89399990000A7", "digits only"),
            ("123456789012345", "this one has 15"),
            ("12345", "this one has 5"),
        ):
            with pytest.raises(GtinError) as failure:
                parse_gtins(f"{A13}, {value}")
            assert value in str(failure.value) and words in str(failure.value)


# ----------------------------------------------------------------------------- import


def test_imported_gtins_reach_the_product_its_page_and_the_api(
    seeded_app: Flask, official: FlaskClient
) -> None:
    _, page = _publish(official, sheet([row(1, gtin=int(A13)), row(2, gtin=f"{B13}; {C13}"), row(3)]))
    assert "Published" in page
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13)]
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 2") == [_14(B13), _14(C13)]
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 3") == []
    public = seeded_app.test_client()
    with _session(seeded_app) as s:
        slug = s.exec(select(Product.slug).where(Product.name == "Chè Shan tuyết thử nghiệm 2")).one()
    html = public.get(f"/products/{slug}?lang=en").get_data(as_text=True)
    assert "GTIN codes" in html
    assert f'href="/01/{_14(B13)}"' in html and f'href="/01/{_14(C13)}"' in html
    items = public.get("/api/v1/products?q=Chè Shan tuyết thử nghiệm 2&status=all").get_json()["items"]
    found = [i for i in items if i["name"] == "Chè Shan tuyết thử nghiệm 2"]
    assert found and found[0]["gtins"] == [_14(B13), _14(C13)]


def test_a_bad_check_digit_is_a_row_error_and_nothing_is_published(
    seeded_app: Flask, official: FlaskClient
) -> None:
    before = (_count(seeded_app, Product), _count(seeded_app, ProductGtin))
    batch_url, page = _preview(official, sheet([row(1, gtin=A13), row(2, gtin="8939999000025")]))
    assert "1 of 2 rows have problems" in page
    assert "“8939999000025” is not a GTIN: its check digit" in page
    assert "Mã GTIN" in official.get(batch_url + "?lang=vi").get_data(as_text=True)  # the column, as headed
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    assert (_count(seeded_app, Product), _count(seeded_app, ProductGtin)) == before


def test_one_gtin_for_two_products_is_refused_in_the_file_and_against_the_registry(
    seeded_app: Flask, official: FlaskClient
) -> None:
    # Two rows of the same product (two certificates) may repeat its GTIN.
    same = row(2, product="Chè Shan tuyết thử nghiệm 1", producer="HTX Thử nghiệm 1", level="tỉnh",
               year="2024", issued="15/08/2024", gtin=A13)  # fmt: skip
    _, page = _publish(official, sheet([row(1, gtin=A13), same]))
    assert "Published" in page
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13)]
    before = (_count(seeded_app, Product), _count(seeded_app, ProductGtin))

    # Within one file: two products, one GTIN.
    _, page = _preview(official, sheet([row(3, gtin=B13), row(4, gtin=f"{C13} {B13}")]))
    assert f"The GTIN {B13} is also given for another product on row 2" in page
    # Against the registry: the GTIN is already the first product's (named), written 13 or 14 digits.
    batch_url, page = _preview(official, sheet([row(5, gtin=_14(A13))]))
    assert f"The GTIN {A13} already belongs to another product, “Chè Shan tuyết thử nghiệm 1”" in page
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    assert (_count(seeded_app, Product), _count(seeded_app, ProductGtin)) == before
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13)]


def test_reimport_adds_only_new_gtins_and_never_removes_one(seeded_app: Flask, official: FlaskClient) -> None:
    _publish(official, sheet([row(1, gtin=f"{A13}, {B13}")]))
    outbox = _count(seeded_app, OutboxEvent)
    # The same file again: nothing changes, not even the change feed.
    _, page = _publish(official, sheet([row(1, gtin=f"{B13}, {A13}")]), "lai.xlsx")
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13), _14(B13)]
    assert _count(seeded_app, OutboxEvent) == outbox
    # A file without the column, or naming one of them, keeps both; a new one is added.
    _publish(official, sheet([row(1)]), "khong-co.xlsx")
    _publish(official, sheet([row(1, gtin=f"{B13} {C13}")]), "them.xlsx")
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13), _14(B13), _14(C13)]
    with _session(seeded_app) as s:
        changes = s.exec(
            select(AuditEntry.changes).where(
                AuditEntry.entity_type == "product", AuditEntry.action == "update"
            )
        ).all()
    assert {"gtins": [[_14(A13), _14(B13)], [_14(A13), _14(B13), _14(C13)]]} in changes


def test_the_template_offers_the_column(seeded_app: Flask, official: FlaskClient) -> None:
    from openpyxl import load_workbook

    data = official.get("/admin/imports/template.xlsx")
    assert data.status_code == 200
    book = load_workbook(io.BytesIO(data.data))
    headers = [c.value for c in book.worksheets[0][1]]
    assert "Mã GTIN" in headers


# ----------------------------------------------------------------------------- workspace form


def _product_id(app: Flask, name: str) -> int:
    with _session(app) as s:
        return int(s.exec(select(Product.id).where(Product.name == name)).one())  # type: ignore[arg-type]


def _form(client: FlaskClient, app: Flask, pid: int, path: str) -> dict[str, Any]:
    """The product form as the browser sends it back untouched: the record's values, the page's GTIN list."""
    html = client.get(path).get_data(as_text=True)
    listed = re.search(r'<textarea[^>]*name="gtins"[^>]*>(.*?)</textarea>', html, re.S)
    assert listed, "no GTIN field on the product form"
    with _session(app) as s:
        p = s.get(Product, pid)
        assert p is not None
    data = {
        "csrf_token": csrf_token(client, path), "name": p.name, "group": p.group or "",
        "components": p.components or "", "description": p.description or "",
        "producer_id": p.producer_id or "", "locality": p.locality or "", "province_id": p.province_id,
        "gtins": listed.group(1).strip(),
    }  # fmt: skip
    if p.is_set:
        data["is_set"] = "y"
    return data


def test_the_product_form_edits_the_list_and_an_untouched_save_changes_nothing(
    seeded_app: Flask, official: FlaskClient
) -> None:
    _publish(official, sheet([row(1, gtin=f"{A13} {B13}"), row(2, gtin=D13)]))
    pid = _product_id(seeded_app, "Chè Shan tuyết thử nghiệm 1")
    path = f"/admin/products/{pid}?lang=en"
    form = _form(official, seeded_app, pid, path)
    assert form["gtins"].split() == [A13, B13], "as printed under the barcode"
    entries, outbox = _count(seeded_app, AuditEntry), _count(seeded_app, OutboxEvent)
    assert official.post(path, data=form).status_code == 302
    assert "Nothing changed." in official.get(path).get_data(as_text=True)
    assert (_count(seeded_app, AuditEntry), _count(seeded_app, OutboxEvent)) == (entries, outbox)

    # A bad value or another product's GTIN: said, nothing changed.
    answer = official.post(path, data={**form, "gtins": f"{A13}\n8939999000019"}, follow_redirects=True)
    assert "“8939999000019” is not a GTIN" in answer.get_data(as_text=True)
    answer = official.post(path, data={**form, "gtins": f"{A13}\n{D13}"}, follow_redirects=True)
    assert "already belongs to another product, “Chè Shan tuyết thử nghiệm 2”" in answer.get_data(
        as_text=True
    )
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13), _14(B13)]

    # Replacing the list: one dropped, one added (written 13 digits), audited and sent to the change feed.
    assert official.post(path, data={**form, "gtins": f"{B13}\n{C13}"}).status_code == 302
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(B13), _14(C13)]
    with _session(seeded_app) as s:
        entry = s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
        assert entry is not None and entry.changes == {"gtins": [[_14(A13), _14(B13)], [_14(B13), _14(C13)]]}
        assert s.exec(select(OutboxEvent).where(OutboxEvent.product_id == pid)).all()
    assert _count(seeded_app, OutboxEvent) == outbox + 1
    # The name and the list saved together: one change in the feed.
    changed = {**form, "name": "Chè Shan tuyết thử nghiệm 1 mới", "gtins": C13}
    assert official.post(path, data=changed).status_code == 302
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1 mới") == [_14(C13)]
    assert _count(seeded_app, OutboxEvent) == outbox + 2


# ----------------------------------------------------------------------------- merging


def test_merging_moves_the_duplicates_gtins_and_undoing_puts_them_back(
    seeded_app: Flask, official: FlaskClient
) -> None:
    dup = row(2, product="Chè Shan tuyết thử nghiệm 1 (trùng)", producer="HTX Thử nghiệm 1", gtin=B13)
    _publish(official, sheet([row(1, gtin=A13), dup]))
    kept = _product_id(seeded_app, "Chè Shan tuyết thử nghiệm 1")
    gone = _product_id(seeded_app, "Chè Shan tuyết thử nghiệm 1 (trùng)")
    path = f"/admin/products/{kept}/merge?lang=en"
    page = official.post(path, data={"csrf_token": csrf_token(official, path), "duplicate_id": gone,
                                     "preview": "1"}).get_data(as_text=True)  # fmt: skip
    assert "GTIN codes: 1" in page
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page)
    assert token
    done = official.post(path, data={"csrf_token": csrf_token(official, path), "duplicate_id": gone,
                                     "confirm": "1", "token": token.group(1)})  # fmt: skip
    assert done.status_code == 302
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13), _14(B13)]
    assert seeded_app.test_client().get(f"/01/{B13}").status_code == 307
    with _session(seeded_app) as s:
        record = s.exec(select(MergeRecord).where(MergeRecord.kind == "product")).one()
    official.post(f"/admin/merges/{record.id}/undo", data={"csrf_token": csrf_token(official, "/admin/")})
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13)]
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1 (trùng)") == [_14(B13)]
    with _session(seeded_app) as s:
        assert s.exec(select(func.count()).select_from(Certificate)).one() > 0


def test_two_officials_taking_one_gtin_at_once_get_a_message_not_an_error_page(
    seeded_app: Flask, official: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second save read the GTIN as free; the first committed it before the second wrote."""
    from catalogue.registry import gtins

    _publish(official, sheet([row(1), row(2)]))
    first, second = (_product_id(seeded_app, f"Chè Shan tuyết thử nghiệm {n}") for n in (1, 2))
    real = gtins._holders

    def stale_then_taken(session: Session, wanted: Any) -> dict[str, int]:
        held = real(session, wanted)
        if wanted and not held:  # meanwhile, another official saves it on the other product
            with _session(seeded_app) as other:
                other.add(ProductGtin(product_id=second, gtin=_14(A13)))
                other.commit()
            monkeypatch.setattr(gtins, "_holders", real)
        return held

    monkeypatch.setattr(gtins, "_holders", stale_then_taken)
    path = f"/admin/products/{first}?lang=en"
    form = _form(official, seeded_app, first, path)
    answer = official.post(path, data={**form, "gtins": A13}, follow_redirects=True)
    assert answer.status_code == 200
    assert "already belongs to another product, “Chè Shan tuyết thử nghiệm 2”" in answer.get_data(
        as_text=True
    )
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == []


def test_another_provinces_official_cannot_put_a_gtin_on_or_take_one_from_a_product(
    seeded_app: Flask, official: FlaskClient
) -> None:
    _publish(official, sheet([row(1, gtin=A13)]))
    pid = _product_id(seeded_app, "Chè Shan tuyết thử nghiệm 1")
    path = f"/admin/products/{pid}?lang=en"
    form = _form(official, seeded_app, pid, path)
    stranger = signed_in(seeded_app, "hanoi@so.gov.vn", "province", "Hà Nội")
    token = csrf_token(stranger, "/admin/?lang=en")
    answer = stranger.post(path, data={**form, "csrf_token": token, "gtins": B13})
    assert answer.status_code in (403, 404)
    assert _gtins(seeded_app, "Chè Shan tuyết thử nghiệm 1") == [_14(A13)]
