"""Publishing a batch: all or nothing, re-import without duplicates, provenance, CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import Session, func, select

from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.db import get_engine
from catalogue.registry.models import Certificate, CertificateEvent, ImportBatch, Product
from catalogue.registry.provenance import provenance_for
from tests.conftest import IS_PG
from tests.fixtures.workspace import csv_text, make_user, post, row, signed_in, upload, xlsx_bytes


@pytest.fixture
def official(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")


def _session(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def _count(app: Flask, model: type, *where: object) -> int:
    with _session(app) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def _upload_and_publish(client: FlaskClient, data: bytes, filename: str = "qd.xlsx", **form: str) -> str:
    response = upload(client, data, filename)
    assert response.status_code == 302, response.get_data(as_text=True)
    batch_url = response.headers["Location"]
    response = post(client, batch_url + "/publish", form, token_from=batch_url)
    assert response.status_code == 302
    return batch_url


def test_publish_creates_records_with_audit_outbox_and_provenance(
    seeded_app: Flask, official: FlaskClient
) -> None:
    products_before = _count(seeded_app, Product)
    batch_url = _upload_and_publish(
        official,
        xlsx_bytes([row(1), row(2, decision="")]),
        decision_number="45/QĐ-UBND",
        decision_date="2025-08-10",
    )
    page = official.get(batch_url).get_data(as_text=True)
    assert "TEST-00001/GCN-SCT" in page
    assert _count(seeded_app, Product) == products_before + 2
    with _session(seeded_app) as s:
        batch = s.exec(select(ImportBatch)).one()
        assert batch.state == "published" and batch.published_at is not None
        assert batch.decision_number == "45/QĐ-UBND" and str(batch.decision_date) == "2025-08-10"
        assert batch.office == "Sở Công Thương tỉnh Lào Cai" and len(batch.file_sha256) == 64
        certs = s.exec(select(Certificate).where(Certificate.batch_id == batch.id)).all()
        assert len(certs) == 2 and all(c.verify_code for c in certs)
        provenance = provenance_for(s, certs[0])
        assert (
            provenance
            and provenance["office"] == batch.office
            and provenance["file_sha256"] == batch.file_sha256
        )
        product_ids = {c.product_id for c in certs}
        outbox = s.exec(select(OutboxEvent.product_id).where(OutboxEvent.product_id.in_(product_ids))).all()
        assert set(outbox) == product_ids
        actions = s.exec(
            select(AuditEntry.action, AuditEntry.entity_type).where(
                AuditEntry.actor_label == "laocai@so.gov.vn"
            )
        ).all()
        assert ("upload", "import_batch") in actions and ("publish", "import_batch") in actions
        assert actions.count(("create", "certificate")) == 2
        # The row without its own decision number took the one given when publishing.
        events = s.exec(
            select(CertificateEvent.reference).where(
                CertificateEvent.certificate_id.in_([c.id for c in certs])
            )
        ).all()
        assert sorted(events) == ["123/QĐ-UBND", "45/QĐ-UBND"]


def test_product_appears_on_the_public_site(seeded_app: Flask, official: FlaskClient) -> None:
    _upload_and_publish(official, xlsx_bytes([row(1)]))
    with _session(seeded_app) as s:
        product = s.exec(select(Product).where(Product.name == "Chè Shan tuyết thử nghiệm 1")).one()
    page = seeded_app.test_client().get(f"/products/{product.slug}")
    assert page.status_code == 200
    assert "Chè Shan tuyết thử nghiệm 1" in page.get_data(as_text=True)


def test_reimport_updates_and_never_duplicates(seeded_app: Flask, official: FlaskClient) -> None:
    _upload_and_publish(official, xlsx_bytes([row(1), row(2)]))
    counts = (_count(seeded_app, Product), _count(seeded_app, Certificate))
    corrected = row(2, issued="20/08/2025", description="Mô tả mới")
    batch_url = _upload_and_publish(official, xlsx_bytes([row(1), corrected]), filename="qd-sua.xlsx")
    assert (_count(seeded_app, Product), _count(seeded_app, Certificate)) == counts
    with _session(seeded_app) as s:
        cert = s.exec(select(Certificate).where(Certificate.number == "TEST-00002/GCN-SCT")).one()
        assert str(cert.issued_on) == "2025-08-20"
        kinds = s.exec(select(CertificateEvent.kind).where(CertificateEvent.certificate_id == cert.id)).all()
        assert sorted(kinds) == ["corrected", "issued"]
    assert "Published" in official.get(batch_url + "?lang=en").get_data(as_text=True)


def test_same_file_twice_is_flagged_and_still_changes_nothing(
    seeded_app: Flask, official: FlaskClient
) -> None:
    data = xlsx_bytes([row(1)])
    _upload_and_publish(official, data)
    response = upload(official, data, "qd.xlsx")
    page = official.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "already published as upload #1" in page


def test_bad_rows_block_publishing_and_write_nothing(seeded_app: Flask, official: FlaskClient) -> None:
    before = (_count(seeded_app, Product), _count(seeded_app, Certificate))
    response = upload(official, xlsx_bytes([row(1), row(2, province="Huế"), row(3, issued="31/02/2025")]))
    batch_url = response.headers["Location"]
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "2 of 3 rows have problems" in page
    assert "Huế is outside your province (Lào Cai)" in page
    assert "“31/02/2025” is not a valid date" in page
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    assert (_count(seeded_app, Product), _count(seeded_app, Certificate)) == before
    with _session(seeded_app) as s:
        assert s.exec(select(ImportBatch.state)).one() == "pending"


def test_unreadable_upload_stores_nothing_and_says_why(seeded_app: Flask, official: FlaskClient) -> None:
    response = upload(official, b"", "empty.csv")
    assert response.status_code == 400
    assert _count(seeded_app, ImportBatch) == 0
    response = upload(official, b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls")
    assert ".xls" in response.get_data(as_text=True)


def _inject_failure(app: Flask, number: str) -> None:
    """A real database error when the certificate ``number`` is inserted (a trigger)."""
    with get_engine(app.config["SQLALCHEMY_URL"]).begin() as conn:
        if IS_PG:
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION h4_boom() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.number = '" + number + "' THEN RAISE EXCEPTION 'injected failure'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER h4_boom BEFORE INSERT ON certificate "
                    "FOR EACH ROW EXECUTE FUNCTION h4_boom()"
                )
            )
        else:
            conn.execute(
                text(
                    f"CREATE TRIGGER h4_boom BEFORE INSERT ON certificate WHEN NEW.number = '{number}' "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            )


def _drop_failure(app: Flask) -> None:
    with get_engine(app.config["SQLALCHEMY_URL"]).begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS h4_boom" + (" ON certificate" if IS_PG else "")))


def test_failure_in_the_middle_of_a_batch_writes_nothing(seeded_app: Flask, official: FlaskClient) -> None:
    before = {m: _count(seeded_app, m) for m in (Product, Certificate, AuditEntry, OutboxEvent)}
    response = upload(official, xlsx_bytes([row(n) for n in range(1, 8)]))
    batch_url = response.headers["Location"]
    audit_after_upload = _count(seeded_app, AuditEntry)
    _inject_failure(seeded_app, "TEST-00005/GCN-SCT")
    try:
        response = post(official, batch_url + "/publish?lang=en", {}, token_from=batch_url)
        assert response.status_code == 302
        page = official.get(batch_url + "?lang=en").get_data(as_text=True)
        assert "nothing was published" in page
    finally:
        _drop_failure(seeded_app)
    assert _count(seeded_app, Product) == before[Product]
    assert _count(seeded_app, Certificate) == before[Certificate]
    assert _count(seeded_app, OutboxEvent) == before[OutboxEvent]
    assert _count(seeded_app, AuditEntry) == audit_after_upload
    with _session(seeded_app) as s:
        assert s.exec(select(ImportBatch.state)).one() == "pending"
    # Once the fault is gone the same batch publishes in full.
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    assert _count(seeded_app, Certificate) == before[Certificate] + 7


def test_csv_with_bom_publishes(seeded_app: Flask, official: FlaskClient) -> None:
    data = "\ufeff".encode() + csv_text([row(1, product="Bánh chưng Tày")]).encode()
    _upload_and_publish(official, data, filename="ds.csv")
    assert _count(seeded_app, Product, Product.name == "Bánh chưng Tày") == 1


# ----------------------------------------------------------------------------- CLI


def _write(tmp_path: Path, rows: list[dict], name: str = "qd.xlsx") -> Path:
    path = tmp_path / name
    path.write_bytes(xlsx_bytes(rows))
    return path


def test_cli_dry_run_good_file_writes_nothing(seeded_app: Flask, tmp_path: Path) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    before = _count(seeded_app, Certificate)
    result = seeded_app.test_cli_runner().invoke(
        args=["import", str(_write(tmp_path, [row(1), row(2)])), "--dry-run", "--as", "laocai@so.gov.vn"]
    )
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output and "nothing was written" in result.output
    assert _count(seeded_app, Certificate) == before
    assert _count(seeded_app, ImportBatch) == 0


def test_cli_bad_file_exits_non_zero_listing_every_problem(seeded_app: Flask, tmp_path: Path) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    before = _count(seeded_app, Certificate)
    path = _write(tmp_path, [row(1), row(2, province="Huế"), row(3, year=""), row(1)])
    result = seeded_app.test_cli_runner().invoke(
        args=["import", str(path), "--as", "laocai@so.gov.vn", "--lang", "en"]
    )
    assert result.exit_code == 1
    assert "Row 3, Tỉnh/Thành phố (province): Huế is outside your province" in result.output
    assert "Row 4, Năm (year): This value is required." in result.output
    assert "Row 5, Số giấy chứng nhận (certificate_number): Duplicate row" in result.output
    assert "3 of 4 rows have problems; nothing was written." in result.output
    assert _count(seeded_app, Certificate) == before and _count(seeded_app, ImportBatch) == 0


def test_cli_publishes_with_the_same_rules(seeded_app: Flask, tmp_path: Path) -> None:
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    path = _write(
        tmp_path,
        [
            row(1, level="quốc gia", province="Huế"),
            row(2, level="khu vực", region="miền Trung", province="Huế"),
        ],
    )
    runner = seeded_app.test_cli_runner()
    result = runner.invoke(
        args=[
            "import",
            str(path),
            "--as",
            "cuc@moit.gov.vn",
            "--decision",
            "9/QĐ-BCT",
            "--decision-date",
            "01/09/2025",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output
    again = runner.invoke(args=["import", str(path), "--as", "cuc@moit.gov.vn"])
    # An identical re-import creates and changes nothing: provenance stays with the
    # batch whose values the public page shows, and the audit log stays quiet.
    assert again.exit_code == 0 and "Published batch #2: 0 new, 0 updated, 2 unchanged" in again.output
    assert _count(seeded_app, Certificate, Certificate.number.startswith("TEST-")) == 2
    with _session(seeded_app) as s:
        changes = s.exec(
            select(AuditEntry.changes).where(
                AuditEntry.action == "update", AuditEntry.entity_type == "certificate"
            )
        ).all()
        assert changes == []


def test_cli_unknown_account_is_refused(seeded_app: Flask, tmp_path: Path) -> None:
    result = seeded_app.test_cli_runner().invoke(
        args=["import", str(_write(tmp_path, [row(1)])), "--as", "nobody@example.vn"]
    )
    assert result.exit_code != 0 and "No active account" in result.output


def test_template_download(official: FlaskClient) -> None:
    from openpyxl import load_workbook

    response = official.get("/admin/imports/template.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert sheet["A1"].value == "Tên sản phẩm" and sheet["A2"].value.startswith("VÍ DỤ")


def test_cli_shows_progress_while_publishing(seeded_app: Flask, tmp_path: Path) -> None:
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    path = _write(tmp_path, [row(n, level="quốc gia", province="Huế") for n in range(1, 31)])
    result = seeded_app.test_cli_runner().invoke(args=["import", str(path), "--as", "cuc@moit.gov.vn"])
    assert result.exit_code == 0, result.output
    assert "Publishing" in result.output and "30 new" in result.output
