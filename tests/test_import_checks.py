"""The dry run: every row's problems per field, in plain words; nothing written."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlmodel import Session, func, select

from catalogue.accounts import services as accounts
from catalogue.accounts.models import User
from catalogue.accounts.permissions import SYSTEM
from catalogue.audit.models import AuditEntry
from catalogue.imports import checking as importing
from catalogue.imports import template
from catalogue.registry.models import Certificate, ImportBatch, Product
from tests.fixtures.workspace import PASSWORD, csv_text, province, row, xlsx_bytes


def _user(session: Session, email: str, role: str, where: str | None = None) -> User:
    user = accounts.create_user(
        session,
        actor=SYSTEM,
        email=email,
        password=PASSWORD,
        role=role,
        province=province(session, where) if where else None,
    )
    session.commit()
    return user


@pytest.fixture
def lao_cai(db_session: Session) -> User:
    return _user(db_session, "laocai@so.gov.vn", "province", "Lào Cai")


@pytest.fixture
def ministry(db_session: Session) -> User:
    return _user(db_session, "cuc@moit.gov.vn", "ministry")


def _check(session: Session, user: User, rows: list[dict], lang: str = "en") -> importing.ImportReport:
    with force_locale(lang):
        report, _ = importing.check_file(session, actor=user, filename="t.xlsx", data=xlsx_bytes(rows))
    return report


def _errors(report: importing.ImportReport, index: int = 0) -> dict[str, str]:
    return {e.field: e.message for e in report.rows[index].errors}


def _counts(session: Session) -> tuple[int, int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.exec(select(func.count()).select_from(m)).one()
        for m in (Product, Certificate, ImportBatch, AuditEntry)
    )


def test_good_file_is_ready_and_nothing_is_written(db_session: Session, lao_cai: User) -> None:
    before = _counts(db_session)
    report = _check(db_session, lao_cai, [row(1), row(2), row(3)])
    assert report.ok and report.new_count == 3 and report.update_count == 0
    assert _counts(db_session) == before


def test_unknown_province_suggests_the_closest_names(db_session: Session, lao_cai: User) -> None:
    errors = _errors(_check(db_session, lao_cai, [row(1, province="Lao Kai")]))
    assert "Unknown province “Lao Kai”" in errors["province"]
    assert "Lào Cai" in errors["province"]


def test_level_that_did_not_exist_on_the_issue_date(db_session: Session, lao_cai: User) -> None:
    errors = _errors(_check(db_session, lao_cai, [row(1, level="huyện", issued="15/08/2025")]))
    assert "did not exist on 15/08/2025" in errors["level"]
    errors = _errors(_check(db_session, lao_cai, [row(1, level="xã", issued="10/03/2024", year="2024")]))
    assert "did not exist on 10/03/2024" in errors["level"]


def test_impossible_date_is_named(db_session: Session, lao_cai: User) -> None:
    errors = _errors(_check(db_session, lao_cai, [row(1, issued="31/02/2023", year="2023")]))
    assert "“31/02/2023” is not a valid date" in errors["issued_on"]


@pytest.mark.parametrize("field", ["product", "producer", "province", "group", "level", "year", "number"])
def test_missing_required_value(db_session: Session, lao_cai: User, field: str) -> None:
    report = _check(db_session, lao_cai, [row(1, **{field: ""})])
    assert not report.ok
    assert "This value is required." in " ".join(e.message for e in report.rows[0].errors)


def test_duplicate_row_in_the_file_points_at_the_first(db_session: Session, lao_cai: User) -> None:
    report = _check(db_session, lao_cai, [row(1), row(2), row(1, product="Khác")])
    assert [bool(r.errors) for r in report.rows] == [False, False, True]
    assert "row 2 has the same certificate number and level" in _errors(report, 2)["certificate_number"]


def test_province_outside_the_officials_scope(db_session: Session, lao_cai: User) -> None:
    errors = _errors(_check(db_session, lao_cai, [row(1, province="Huế")]))
    assert "Huế is outside your province (Lào Cai)" in errors["province"]


def test_pre_2025_province_belongs_to_its_successor(db_session: Session, lao_cai: User) -> None:
    # Yên Bái became part of Lào Cai: a 2024 Yên Bái record is Lào Cai's to publish.
    report = _check(db_session, lao_cai, [row(1, province="Yên Bái", year="2024", issued="01/06/2024")])
    assert report.ok, report.problems()
    assert report.rows[0].record.province.short_name == "Yên Bái"


def test_level_outside_the_role(db_session: Session, lao_cai: User, ministry: User) -> None:
    errors = _errors(_check(db_session, lao_cai, [row(1, level="quốc gia")]))
    assert "published by the ministry" in errors["level"]
    errors = _errors(_check(db_session, ministry, [row(1, level="tỉnh")]))
    assert "published by the provincial office" in errors["level"]
    assert _check(db_session, ministry, [row(1, level="quốc gia", province="Huế")]).ok


def test_template_example_row_is_refused(db_session: Session, lao_cai: User) -> None:
    data = template.template_xlsx(importing.Provinces.load(db_session))
    with force_locale("en"):
        report, _ = importing.check_file(db_session, actor=lao_cai, filename="mau.xlsx", data=data)
    assert not report.ok
    assert "example row" in " ".join(e.message for e in report.rows[0].errors)


def test_messages_follow_the_officials_language(db_session: Session, lao_cai: User) -> None:
    with force_locale("vi"):
        report, _ = importing.check_file(
            db_session, actor=lao_cai, filename="t.xlsx", data=xlsx_bytes([row(1, province="Lao Kai")])
        )
        line = report.problems()[0]
    assert "Tỉnh/Thành phố:" in line
    with force_locale("en"):
        report, _ = importing.check_file(
            db_session, actor=lao_cai, filename="t.xlsx", data=xlsx_bytes([row(1, province="Lao Kai")])
        )
        line = report.problems()[0]
    assert line.startswith("Row 2, Tỉnh/Thành phố (province): Unknown province")


def test_mixed_file_lists_every_bad_row_and_only_those(db_session: Session, lao_cai: User) -> None:
    rows = [row(1), row(2, year="20x5"), row(3), row(4, group="đồ chơi"), row(5, level="cấp sao")]
    with force_locale("en"):
        report, _ = importing.check_file(db_session, actor=lao_cai, filename="t.xlsx", data=xlsx_bytes(rows))
        problems = report.problems()
    assert [r.line for r in report.bad_rows] == [3, 5, 6]
    assert len(problems) == 3


def test_certificate_of_another_province_cannot_be_overwritten(db_session: Session, lao_cai: User) -> None:
    hue = _user(db_session, "hue@so.gov.vn", "province", "Huế")
    from catalogue.imports import publishing

    with force_locale("en"):
        batch, _ = importing.stage_batch(
            db_session, actor=hue, filename="hue.csv", data=csv_text([row(7, province="Huế")]).encode()
        )
        publishing.publish_batch(db_session, actor=hue, batch=batch, config=_config())
    db_session.commit()
    # Certificates match on number + level + issuing office + year: Lào Cai's number 7 is
    # Lào Cai's own certificate, never a licence to change Huế's, and the dry run says
    # that the same-name records in Huế stay separate.
    with force_locale("en"):
        report = _check(db_session, lao_cai, [row(7)])
    assert report.ok and report.rows[0].existing_id is None
    assert "Huế" in " ".join(w.message for w in report.rows[0].warnings)


def _config() -> dict:
    from tests.conftest import VERIFY_KEYS

    return {"CERTIFICATE_VALIDITY_YEARS": 3, "VERIFY_KEYS": VERIFY_KEYS, "VERIFY_CURRENT_KEY_ID": "a"}


def test_a_long_dry_run_checks_every_row(db_session: Session, lao_cai: User) -> None:
    # More rows than two of the prefetch's 500-number queries. The speed of 5,000 rows
    # is measured by bench/imports.py (make bench-import), not asserted here.
    n = 1200
    report = _check(db_session, lao_cai, [row(i, issued="", year="2025") for i in range(n)])
    assert report.ok and len(report.rows) == n
    assert report.new_count == n
