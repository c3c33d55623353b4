"""Dates that make sense: the dry run warns (never refuses) when a row's dates do not fit together."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from openpyxl import Workbook, load_workbook
from sqlmodel import Session

from catalogue.accounts.models import User
from catalogue.imports import annotated
from catalogue.imports import checking as importing
from catalogue.registry.rows import ISSUE_BEFORE_DECISION
from tests.fixtures.workspace import HEADERS, KEYS, get_user, make_user, row, signed_in, upload

DATED = [*HEADERS, "Ngày quyết định"]


def _xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The template's columns plus the decision's date, which a row may carry."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(DATED)
    for r in rows:
        sheet.append([r.get(k, "") for k in KEYS] + [r.get("decided", "")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def lao_cai(seeded_app: Flask, db_session: Session) -> User:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    return get_user(db_session, "laocai@so.gov.vn")


def _date_warnings(session: Session, user: User, r: dict[str, Any], lang: str = "en") -> dict[str, str]:
    with force_locale(lang):
        report, _ = importing.check_file(session, actor=user, filename="t.xlsx", data=_xlsx([r]))
    assert report.ok, report.problems()  # a warning never blocks publishing
    return {w.field: w.message for w in report.rows[0].warnings if w.field in ("issued_on", "decision_date")}


def test_issue_date_after_the_decision_date(db_session: Session, lao_cai: User) -> None:
    found = _date_warnings(db_session, lao_cai, row(1, issued="20/08/2025", decided="15/08/2025"))
    assert set(found) == {"issued_on"}
    assert "20/08/2025 is after the decision date 15/08/2025" in found["issued_on"]
    vi = _date_warnings(db_session, lao_cai, row(1, issued="20/08/2025", decided="15/08/2025"), "vi")
    assert "20/08/2025" in vi["issued_on"] and "15/08/2025" in vi["issued_on"]
    assert vi["issued_on"] != found["issued_on"]  # said in the official's language


def test_issue_date_long_before_the_decision_date(db_session: Session, lao_cai: User) -> None:
    found = _date_warnings(db_session, lao_cai, row(1, issued="02/01/2025", decided="15/08/2025"))
    assert set(found) == {"issued_on"}
    assert (
        f"02/01/2025 is more than {ISSUE_BEFORE_DECISION.days} days before the decision date 15/08/2025"
        in found["issued_on"]
    )


def test_decision_date_outside_the_year_of_selection(db_session: Session, lao_cai: User) -> None:
    found = _date_warnings(db_session, lao_cai, row(1, year="2025", issued="", decided="10/03/2023"))
    assert set(found) == {"decision_date"}
    assert (
        "10/03/2023 is neither in the year of selection 2025 nor in the next year" in found["decision_date"]
    )


def test_issue_date_outside_the_year_of_selection_is_a_warning_not_a_refusal(
    db_session: Session, lao_cai: User
) -> None:
    found = _date_warnings(db_session, lao_cai, row(1, year="2025", issued="10/03/2023"))
    assert set(found) == {"issued_on"}
    assert "10/03/2023 is neither in the year of selection 2025 nor in the next year" in found["issued_on"]


@pytest.mark.parametrize(
    "issued, decided",
    [
        ("15/08/2025", "15/08/2025"),  # dated with the decision
        ("01/07/2025", "15/08/2025"),  # weeks before: within the procedure's time
        ("15/08/2025", ""),  # no decision date on the row: nothing to compare
        ("", "20/01/2026"),  # a 2025 round decided early the next year
    ],
)
def test_sensible_dates_have_no_warning(
    db_session: Session, lao_cai: User, issued: str, decided: str
) -> None:
    assert _date_warnings(db_session, lao_cai, row(1, issued=issued, decided=decided)) == {}


def test_date_warnings_in_the_preview_and_the_marked_file(seeded_app: Flask) -> None:
    client = signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    data = _xlsx([row(1, decided="15/08/2025"), row(2, issued="20/08/2025", decided="15/08/2025")])
    response = upload(client, data, "qd.xlsx")
    batch_url = response.headers["Location"]
    page = client.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "Ready to publish" in page  # warnings do not block
    assert "20/08/2025 is after the decision date 15/08/2025" in page
    marked = client.get(batch_url + "/marked.xlsx")
    sheet = load_workbook(io.BytesIO(marked.data)).worksheets[0]
    issued = sheet.cell(row=3, column=DATED.index("Ngày cấp") + 1)
    assert issued.fill.fgColor.rgb == annotated.WARNING_FILL and issued.comment is not None
    assert "20/08/2025" in issued.comment.text
    assert sheet.cell(row=2, column=DATED.index("Ngày cấp") + 1).comment is None


def test_date_warnings_in_the_command_line_dry_run(seeded_app: Flask, tmp_path: Path) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    path = tmp_path / "qd.xlsx"
    path.write_bytes(_xlsx([row(1, year="2025", issued="", decided="10/03/2023")]))
    result = seeded_app.test_cli_runner().invoke(
        args=["import", str(path), "--dry-run", "--as", "laocai@so.gov.vn", "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    assert "10/03/2023 is neither in the year of selection 2025" in result.output
    assert "nothing was written" in result.output
