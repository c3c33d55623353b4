"""Real vocabulary and the cleaned seed (issue 11, findings 7 and 8).

Finding 7: real decisions print producer kinds in many ways ("xí nghiệp", "Công ty
TNHH MTV", "DNTN", "làng nghề"); they must be recognised, and a value we still cannot
read in an optional column is kept as printed with a warning, never a refused batch.
Finding 8: the seed showed editorial remarks as names; names are now as printed and
the remarks are shown as each certificate's source remark.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import create_engine, text
from sqlmodel import Session, func, select

from catalogue import migrate
from catalogue.db import get_engine
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Producer, Product
from catalogue.registry.rows import header_field, parse_row
from catalogue.seeding import SEED_DIR
from catalogue.text import fold
from catalogue.vocab import ProducerKind, parse_producer_kind
from tests import seeddata
from tests.fixtures.workspace import make_user, post, row, signed_in, upload, xlsx_bytes

K = ProducerKind
#: Producer kinds as real decisions and sources print them → the nearest kind of DESIGN §2.
PRINTED_KINDS = [
    ("HTX", K.HTX), ("hợp tác xã", K.HTX), ("Liên hiệp hợp tác xã", K.HTX),
    ("công ty", K.CONG_TY), ("Cty", K.CONG_TY), ("công ty cổ phần", K.CONG_TY), ("CP", K.CONG_TY),
    ("CTCP", K.CONG_TY), ("Công ty CP", K.CONG_TY), ("công ty TNHH", K.CONG_TY), ("TNHH", K.CONG_TY),
    ("TNHH MTV", K.CONG_TY), ("Công ty TNHH MTV", K.CONG_TY),
    ("Công ty TNHH một thành viên", K.CONG_TY), ("xí nghiệp", K.CONG_TY),
    ("doanh nghiệp tư nhân", K.DOANH_NGHIEP_TU_NHAN), ("DNTN", K.DOANH_NGHIEP_TU_NHAN),
    ("tổ hợp tác", K.TO_HOP_TAC), ("THT", K.TO_HOP_TAC),
    ("hộ kinh doanh", K.HO_KINH_DOANH), ("HKD", K.HO_KINH_DOANH),
    ("hộ kinh doanh cá thể", K.HO_KINH_DOANH), ("hộ gia đình", K.HO_KINH_DOANH),
    ("cơ sở sản xuất", K.KHAC), ("CSSX", K.KHAC), ("cơ sở", K.KHAC), ("làng nghề", K.KHAC),
    ("doanh nghiệp", K.KHAC), ("khác", K.KHAC),
]  # fmt: skip


def _spellings(printed: str) -> set[str]:
    """As printed, upper and lower case, title case, without diacritics, with dots."""
    variants = {
        printed,
        printed.upper(),
        printed.lower(),
        printed.title(),
        fold(printed),
        fold(printed).upper(),
    }
    if printed.isupper() and " " not in printed:
        variants.add(".".join(printed) + ".")  # "H.T.X."
    return variants


@pytest.mark.parametrize(("printed", "kind"), PRINTED_KINDS, ids=[p for p, _ in PRINTED_KINDS])
def test_printed_producer_kinds_are_recognised(printed: str, kind: ProducerKind) -> None:
    for spelling in _spellings(printed):
        assert parse_producer_kind(spelling) is kind, spelling


def test_a_kind_we_cannot_read_stays_unrecognised() -> None:
    assert parse_producer_kind("tập đoàn") is None
    assert parse_producer_kind("") is None


# ----------------------------------------------------------------------------- the import


@pytest.fixture
def official(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")


def _session(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def _producer(app: Flask, name: str) -> Producer:
    with _session(app) as s:
        return s.exec(select(Producer).where(Producer.name == name)).one()


def test_unknown_producer_kind_publishes_with_a_warning_and_is_kept_as_printed(
    seeded_app: Flask, official: FlaskClient
) -> None:
    data = xlsx_bytes([row(1, kind="Tập đoàn"), row(2, kind="Xí nghiệp"), row(3, kind="DNTN")])
    response = upload(official, data, "qd.xlsx")
    assert response.status_code == 302, response.get_data(as_text=True)
    batch_url = response.headers["Location"]
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "Ready to publish" in page
    assert "1 warning. Worth a look" in page
    assert str(escape("Kind of producer “Tập đoàn” not recognised")) in page

    response = post(official, batch_url + "/publish", {}, token_from=batch_url)
    assert response.status_code == 302
    unknown = _producer(seeded_app, "HTX Thử nghiệm 1")
    assert unknown.kind is None and unknown.kind_as_printed == "Tập đoàn"
    works = _producer(seeded_app, "HTX Thử nghiệm 2")
    assert works.kind == ProducerKind.CONG_TY.value and works.kind_as_printed == "Xí nghiệp"
    dntn = _producer(seeded_app, "HTX Thử nghiệm 3")
    assert dntn.kind == ProducerKind.DOANH_NGHIEP_TU_NHAN.value

    # The producer page says what the decision printed where the kind's label says less.
    text_unknown = official.get(f"/producers/{unknown.slug}?lang=en").get_data(as_text=True)
    assert "as printed: Tập đoàn" in text_unknown
    text_works = official.get(f"/producers/{works.slug}?lang=en").get_data(as_text=True)
    assert "Company" in text_works and "as printed: Xí nghiệp" in text_works


def test_a_kind_that_says_no_more_than_its_label_is_not_repeated(
    seeded_app: Flask, official: FlaskClient
) -> None:
    response = upload(official, xlsx_bytes([row(1, kind="company")]), "qd.xlsx")
    batch_url = response.headers["Location"]
    assert post(official, batch_url + "/publish", {}, token_from=batch_url).status_code == 302
    producer = _producer(seeded_app, "HTX Thử nghiệm 1")
    page = official.get(f"/producers/{producer.slug}?lang=en").get_data(as_text=True)
    assert "Company" in page and "as printed" not in page


def test_a_region_on_a_provincial_row_is_a_warning_not_an_error(seeded_app: Flask) -> None:
    with seeded_app.test_request_context(), _session(seeded_app) as s:
        provinces = Provinces.load(s)
        values = {
            "product": "Chè thử", "producer": "HTX thử", "province": "Lào Cai", "category": "khác",
            "level": "tỉnh", "region": "Tây Bắc", "year": "2025", "certificate_number": "T-1",
        }  # fmt: skip
        record, errors, warnings = parse_row(values, provinces)
    assert errors == [] and record is not None and record.region is None
    assert [w.field for w in warnings] == ["region"]


def test_cli_dry_run_prints_warnings_and_exits_zero(seeded_app: Flask, tmp_path: Path) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    path = tmp_path / "qd.xlsx"
    path.write_bytes(xlsx_bytes([row(1, kind="Tập đoàn"), row(2, kind="làng nghề")]))
    result = seeded_app.test_cli_runner().invoke(
        args=["import", str(path), "--dry-run", "--as", "laocai@so.gov.vn", "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    assert "Warnings: 1 (they do not block publishing)" in result.output
    assert (
        "Row 2, Loại hình cơ sở (producer_kind): Kind of producer “Tập đoàn” not recognised" in result.output
    )
    assert "2 new" in result.output and "nothing was written" in result.output


# ----------------------------------------------------------------------------- the seed


def _seed_rows() -> list[dict[str, str]]:
    with (SEED_DIR / "certified_products.csv").open(encoding="utf-8-sig", newline="") as fh:
        return [{header_field(k): v for k, v in r.items() if header_field(k)} for r in csv.DictReader(fh)]


def test_seed_loads_every_row_of_the_seed_file(db_session: Session) -> None:
    rows = _seed_rows()
    # Each row is one product's certificate in one round: none may be merged or dropped.
    assert db_session.exec(select(func.count()).select_from(Certificate)).one() == len(rows)
    names = {fold(n) for n in db_session.exec(select(Product.name)).all()}
    assert {fold(r["product"]) for r in rows} == names


def test_seed_vocabulary_is_read_without_warnings(db_session: Session) -> None:
    provinces = Provinces.load(db_session)
    rows = _seed_rows()
    assert len(rows) == seeddata.certificates() > 0
    kinds = 0
    for values in rows:
        record, errors, warnings = parse_row(values, provinces, require_number=False, require_producer=False)
        assert record is not None and errors == [] and warnings == [], values["product"]
        if values.get("producer_kind"):
            assert record.producer_kind is not None, values["producer_kind"]
            kinds += 1
    assert kinds, "no seed row prints a producer kind, so none was checked"


_EDITORIAL = re.compile(r"as printed|\(brand|not verified|\blikely\b|\bcooperative \(|\(HTX |\(Công ty", re.I)


def test_no_seeded_name_carries_an_editorial_remark(db_session: Session) -> None:
    names = list(db_session.exec(select(Product.name)).all()) + list(
        db_session.exec(select(Producer.name)).all()
    )
    assert names
    assert [n for n in names if _EDITORIAL.search(n)] == []


def test_seed_notes_are_shown_as_source_remarks(db_session: Session, seeded_client: FlaskClient) -> None:
    noted = [r for r in _seed_rows() if r.get("note")]
    assert noted, "the seed file has rows with a note"
    rows = db_session.exec(
        select(Certificate.source_note, Product.slug)
        .join(Product, Product.id == Certificate.product_id)
        .where(Certificate.source_note.is_not(None))  # type: ignore[union-attr]
    ).all()
    assert sorted(n for n, _ in rows) == sorted(r["note"] for r in noted)
    for note, slug in rows:
        page = seeded_client.get(f"/products/{slug}?lang=en").get_data(as_text=True)
        assert "Source remark" in page and str(escape(note)) in page, slug


def test_api_certificate_carries_the_source_remark(seeded_client: FlaskClient) -> None:
    items = seeded_client.get("/api/v1/products?q=Mai+Hương+350N&status=all").get_json()["items"]
    certs = [c for item in items for c in item["certificates"]]
    assert "product name as printed by the source" in {c["source_note"] for c in certs}


def test_editor_assigned_groups_stay_labelled(db_session: Session, seeded_client: FlaskClient) -> None:
    machine = db_session.exec(select(Product).where(Product.name == "Máy làm nhang tự động")).one()
    assert machine.group == "thiet_bi_may_moc_dung_cu_phu_tung_co_khi" and machine.group_assigned
    page = seeded_client.get(f"/products/{machine.slug}?lang=en").get_data(as_text=True)
    assert "group assigned by the registry" in page
    hat = db_session.exec(select(Product).where(Product.name == "nón ngựa Phú Gia")).one()
    assert hat.group == "thu_cong_my_nghe" and not hat.group_assigned
    fertiliser = db_session.exec(select(Product).where(Product.name == "Phân NPK")).one()
    assert fertiliser.group is None


def test_migration_keeps_old_kind_keys_as_printed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kinds.sqlite3'}"
    migrate.upgrade(url, "0001")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO producer (slug, name, kind, contacts_public, created_at, updated_at) VALUES "
                "('a', 'Cơ sở A', 'co_so', 0, '2024-01-01', '2024-01-01'), "
                "('b', 'DN B', 'doanh_nghiep', 0, '2024-01-01', '2024-01-01'), "
                "('c', 'HTX C', 'htx', 0, '2024-01-01', '2024-01-01')"
            ))  # fmt: skip
        migrate.upgrade(url, "0002")
        with engine.connect() as conn:
            got = conn.execute(text("SELECT slug, kind, kind_as_printed FROM producer ORDER BY slug")).all()
        assert [tuple(r) for r in got] == [
            ("a", "khac", "cơ sở"),
            ("b", "khac", "doanh nghiệp"),
            ("c", "htx", None),
        ]
        migrate.downgrade(url, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM producer")).scalar() == 3
    finally:
        engine.dispose()
