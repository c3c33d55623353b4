"""Domain rules from DESIGN §2, checked through the plain service functions:
status over dates, the expiry policy, levels by date, provinces across the 2025
reorganisation, and the lenient readers of officials' vocabulary."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlmodel import Session, SQLModel, create_engine

from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.rows import parse_row
from catalogue.registry.status import ExpiryBasis, Policy, certificate_standing, issued_by, standing
from catalogue.seeding import seed_provinces
from catalogue.verification.history import status_as_of
from catalogue.vocab import (
    CertificateStatus,
    Level,
    ProducerKind,
    ProductGroup,
    Region,
    parse_group,
    parse_level,
    parse_producer_kind,
    parse_region,
)

VALID, EXPIRED, REVOKED = CertificateStatus.VALID, CertificateStatus.EXPIRED, CertificateStatus.REVOKED


@pytest.fixture(scope="module")
def provinces() -> Iterator[Provinces]:
    """The real province table (seed/provinces_2025.csv) in a throwaway in-memory database."""
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[Province.__table__])  # type: ignore[attr-defined]
    with Session(engine) as session:
        seed_provinces(session)
        session.commit()
        yield Provinces.load(session)
    engine.dispose()


# ----------------------------------------------------------------------------- status and expiry


def _status(day: date, *, expires_on: date | None, revoked_on: date | None) -> object:
    """The one status rule (:func:`standing`) for a 2024 provincial certificate."""
    return standing(
        day,
        level="tinh",
        year=2024,
        issued_on=None,
        expires_on=expires_on,
        revoked_on=revoked_on,
        policy=Policy(default_years=3),
    ).status


def test_valid_until_the_end_of_the_expiry_day_then_expired() -> None:
    expiry = date(2026, 3, 31)
    assert _status(date(2026, 3, 31), expires_on=expiry, revoked_on=None) is VALID
    assert _status(date(2026, 4, 1), expires_on=expiry, revoked_on=None) is EXPIRED


def test_revocation_wins_from_its_date_even_before_expiry() -> None:
    kwargs = {"expires_on": date(2027, 1, 1), "revoked_on": date(2025, 9, 10)}
    assert _status(date(2025, 9, 9), **kwargs) is VALID
    assert _status(date(2025, 9, 10), **kwargs) is REVOKED
    # Still revoked (not "expired") long after the expiry date.
    assert _status(date(2030, 1, 1), **kwargs) is REVOKED


def test_no_status_before_the_issue_date() -> None:
    check = SimpleNamespace(level="tinh", year=2024, issued_on=date(2024, 6, 1), expires_on=None,
                            revoked_on=None, revoked_reason=None)  # fmt: skip
    assert status_as_of(check, date(2024, 1, 1), []).status is None  # type: ignore[arg-type]
    assert status_as_of(check, date(2024, 6, 1), []).status is VALID  # type: ignore[arg-type]


def test_issued_by_a_day_knows_when_only_the_year_is_known() -> None:
    assert issued_by(date(2024, 5, 31), issued_on=date(2024, 6, 1), year=2024) is False
    assert issued_by(date(2024, 6, 1), issued_on=date(2024, 6, 1), year=2024) is True
    assert issued_by(date(2023, 12, 31), issued_on=None, year=2024) is False
    assert issued_by(date(2024, 7, 1), issued_on=None, year=2024) is None  # within the year: cannot tell
    assert issued_by(date(2025, 1, 1), issued_on=None, year=2024) is True
    check = SimpleNamespace(level="tinh", year=2024, issued_on=None, expires_on=None, revoked_on=None,
                            revoked_reason=None)  # fmt: skip
    assert status_as_of(check, date(2023, 12, 31), []).status is None  # type: ignore[arg-type]
    assert status_as_of(check, date(2024, 7, 1), []).issue_day_unknown  # type: ignore[arg-type]
    assert not status_as_of(check, date(2025, 7, 1), []).issue_day_unknown  # type: ignore[arg-type]


def test_status_of_a_row_is_derived_from_its_dates_each_time() -> None:
    row = SimpleNamespace(expires_on=date(2025, 12, 31), revoked_on=None, issued_on=date(2023, 1, 1))
    policy = Policy(default_years=3)
    assert certificate_standing(row, "tinh", 2023, policy, date(2025, 12, 31)).status is VALID
    assert certificate_standing(row, "tinh", 2023, policy, date(2026, 1, 1)).status is EXPIRED
    row.revoked_on = date(2025, 6, 1)
    assert certificate_standing(row, "tinh", 2023, policy, date(2025, 12, 31)).status is REVOKED


def _assumed_expiry(issued_on: date | None, year: int, years: int) -> date | None:
    """The last valid day the policy assumes (what :func:`standing` reports as the expiry)."""
    return standing(
        date(year, 1, 1),
        level="tinh",
        year=year,
        issued_on=issued_on,
        expires_on=None,
        revoked_on=None,
        policy=Policy(default_years=years),
    ).expires_on


def test_policy_counts_from_the_issue_date() -> None:
    assert _assumed_expiry(date(2023, 12, 15), 2023, 3) == date(2026, 12, 15)


def test_policy_counts_from_the_end_of_the_year_when_only_the_year_is_known() -> None:
    assert _assumed_expiry(None, 2021, 3) == date(2024, 12, 31)
    assert _assumed_expiry(None, 2021, 5) == date(2026, 12, 31)


def test_policy_from_29_february_lands_on_28_february() -> None:
    assert _assumed_expiry(date(2024, 2, 29), 2024, 3) == date(2027, 2, 28)


def test_the_decisions_expiry_wins_over_the_policy() -> None:
    policy, day = Policy(default_years=3), date(2024, 1, 1)
    decided = SimpleNamespace(expires_on=date(2025, 5, 1), issued_on=date(2023, 5, 1), revoked_on=None)
    st = certificate_standing(decided, "tinh", 2023, policy, day)
    assert (st.expires_on, st.basis) == (date(2025, 5, 1), ExpiryBasis.DECISION)
    assumed = SimpleNamespace(expires_on=None, issued_on=date(2023, 5, 1), revoked_on=None)
    st = certificate_standing(assumed, "tinh", 2023, policy, day)
    assert (st.expires_on, st.basis) == (date(2026, 5, 1), ExpiryBasis.POLICY)


# ----------------------------------------------------------------------------- levels by date


@pytest.mark.parametrize(
    ("level", "day", "exists"),
    [
        (Level.HUYEN, date(2025, 6, 30), True),
        (Level.HUYEN, date(2025, 7, 1), False),
        (Level.XA, date(2025, 6, 30), False),
        (Level.XA, date(2025, 7, 1), True),
        (Level.TINH, date(2010, 1, 1), True),
        (Level.QUOC_GIA, date(2030, 1, 1), True),
    ],
)
def test_district_level_ended_and_commune_level_began_on_1_july_2025(
    level: Level, day: date, exists: bool
) -> None:
    assert level.exists_on(day) is exists


def _row(**changes: str) -> dict[str, str]:
    row = {
        "product": "Chiếu cói Kim Sơn", "producer": "HTX cói Kim Sơn", "province": "Ninh Bình",
        "category": "thủ công mỹ nghệ", "level": "tỉnh", "year": "2024",
        "certificate_number": "12/GCN-SCT", "issued_on": "15/05/2024",
    }  # fmt: skip
    row.update(changes)
    return row


def _errors(provinces: Provinces, **changes: str) -> dict[str, str]:
    rec, errors, _warnings = parse_row(_row(**changes), provinces)
    assert rec is None
    return {e.field: e.message for e in errors}


def test_a_clean_row_parses(provinces: Provinces) -> None:
    rec, errors, warnings = parse_row(_row(), provinces)
    assert errors == [] and warnings == [] and rec is not None
    assert rec.level is Level.TINH and rec.group is ProductGroup.THU_CONG_MY_NGHE
    assert rec.issued_on == date(2024, 5, 15) and rec.province.short_name == "Ninh Bình"


def test_district_level_after_30_june_2025_is_rejected(provinces: Provinces) -> None:
    errors = _errors(provinces, level="huyện", year="2025", issued_on="15/07/2025")
    assert "level" in errors and "15/07/2025" in errors["level"]


def test_commune_level_before_1_july_2025_is_rejected(provinces: Provinces) -> None:
    errors = _errors(provinces, level="cấp xã", year="2025", issued_on="01/03/2025")
    assert "level" in errors and "01/03/2025" in errors["level"]


def test_commune_level_in_a_year_before_the_reform_is_rejected_without_a_date(provinces: Provinces) -> None:
    assert "level" in _errors(provinces, level="xã", year="2024", issued_on="")


def test_an_impossible_date_is_an_error_not_a_guess(provinces: Provinces) -> None:
    errors = _errors(provinces, issued_on="31/02/2023", year="2023")
    assert "31/02/2023" in errors["issued_on"]


def test_an_unknown_province_is_an_error_with_suggestions(provinces: Provinces) -> None:
    errors = _errors(provinces, province="Quang Nom")
    assert "Quang Nom" in errors["province"] and "Quảng Nam" in errors["province"]


# ----------------------------------------------------------------------------- provinces


@pytest.mark.parametrize(
    "name",
    [
        "Thành phố Hồ Chí Minh",
        "TP. Hồ Chí Minh",
        "tp hồ chí minh",
        "Thanh pho Ho Chi Minh",
        "ho chi minh",
        "TP.HCM",
    ],
)
def test_city_names_match_with_or_without_prefix_and_diacritics(provinces: Provinces, name: str) -> None:
    match = provinces.match_current(name)
    assert match is not None and match.name == "Thành phố Hồ Chí Minh"


@pytest.mark.parametrize("name", ["Tỉnh Đồng Tháp", "Đồng Tháp", "dong thap", "DONG THAP", "Tinh Dong Thap"])
def test_province_names_match_with_or_without_prefix_and_diacritics(provinces: Provinces, name: str) -> None:
    match = provinces.match_current(name)
    assert match is not None and match.short_name == "Đồng Tháp" and match.is_current


def test_a_pre_2025_name_resolves_to_the_unit_it_became_part_of(provinces: Provinces) -> None:
    assert provinces.match_current("Kiên Giang").short_name == "An Giang"  # type: ignore[union-attr]
    assert provinces.match_current("Quảng Nam").name == "Thành phố Đà Nẵng"  # type: ignore[union-attr]
    assert provinces.match_current("Bà Rịa - Vũng Tàu").short_name == "Hồ Chí Minh"  # type: ignore[union-attr]


def test_a_reused_name_means_the_old_unit_before_the_reform_and_the_new_one_after(
    provinces: Provinces,
) -> None:
    before = provinces.match("Đà Nẵng", on=date(2024, 6, 30))
    after = provinces.match("Đà Nẵng", on=date(2025, 8, 1))
    assert before is not None and not before.is_current
    assert after is not None and after.is_current
    assert provinces.current_of(before) is after


def test_a_current_unit_covers_its_predecessors(provinces: Provinces) -> None:
    da_nang = provinces.match_current("Đà Nẵng")
    assert da_nang is not None
    members = {provinces.by_id[i].short_name for i in provinces.member_ids(da_nang)}
    assert members == {"Đà Nẵng", "Quảng Nam"}
    # Tiền Giang went into Đồng Tháp, not the other way round.
    dong_thap = provinces.match_current("Đồng Tháp")
    assert dong_thap is not None and provinces.match("Tiền Giang").id in provinces.member_ids(dong_thap)  # type: ignore[union-attr]


def test_there_are_34_current_units_and_63_former_ones(provinces: Provinces) -> None:
    assert len(provinces.current()) == 34
    assert sum(1 for p in provinces.rows if not p.is_current) == 63


def test_an_unknown_name_matches_nothing(provinces: Provinces) -> None:
    assert provinces.match("Atlantis") is None and provinces.match("") is None


# ----------------------------------------------------------------------------- vocabulary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quốc gia", (Level.QUOC_GIA, None)),
        ("Cấp tỉnh", (Level.TINH, None)),
        ("HUYỆN", (Level.HUYEN, None)),
        ("khu vực phía Nam", (Level.KHU_VUC, Region.PHIA_NAM)),
        ("khu vuc mien Trung - Tay Nguyen", (Level.KHU_VUC, Region.MIEN_TRUNG_TAY_NGUYEN)),
        ("national", (Level.QUOC_GIA, None)),
        ("cấp thế giới", (None, None)),
    ],
)
def test_levels_are_read_leniently(text: str, expected: tuple[Level | None, Region | None]) -> None:
    assert parse_level(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thủ công mỹ nghệ", ProductGroup.THU_CONG_MY_NGHE),
        ("Nhóm sản phẩm thủ công mỹ nghệ", ProductGroup.THU_CONG_MY_NGHE),
        ("chế biến nông, lâm, thủy sản và thực phẩm", ProductGroup.CHE_BIEN),
        ("Thiết bị, máy móc, dụng cụ và phụ tùng cơ khí", ProductGroup.CO_KHI),
        ("sản phẩm khác", ProductGroup.KHAC),
        ("đồ chơi", None),
    ],
)
def test_product_groups_are_read_leniently(text: str, expected: ProductGroup | None) -> None:
    assert parse_group(text) is expected


def test_producer_kinds_and_regions_are_read_leniently() -> None:
    assert parse_producer_kind("HTX") is ProducerKind.HTX
    assert parse_producer_kind("Hợp tác xã") is ProducerKind.HTX
    assert parse_producer_kind("Công ty") is ProducerKind.CONG_TY
    assert parse_producer_kind("hộ kinh doanh") is ProducerKind.HO_KINH_DOANH
    assert parse_producer_kind("tập đoàn") is None
    assert parse_region("Phía Bắc") is Region.PHIA_BAC
    assert parse_region("miền Trung – Tây Nguyên") is Region.MIEN_TRUNG_TAY_NGUYEN


def test_a_level_is_refused_only_where_it_did_not_exist(app: Flask) -> None:
    """One rule for the import's rows and the workspace's certificate form: by day, else by year."""
    with app.test_request_context("/?lang=en"):
        assert Level.HUYEN.absence(date(2025, 6, 30)) is None
        refused = Level.HUYEN.absence(date(2025, 7, 1))
        assert refused == "The level “District level” did not exist on 01/07/2025."
        assert Level.XA.absence(date(2025, 6, 30)) is not None
        assert Level.XA.absence(date(2025, 7, 1)) is None
        # Only the year known: 2025 had both levels, either side of 1 July.
        assert Level.HUYEN.absence(year=2025) is None and Level.XA.absence(year=2025) is None
        assert Level.HUYEN.absence(year=2026) == "The level “District level” did not exist in 2026."
        assert Level.XA.absence(year=2024) is not None
        assert Level.TINH.absence(date(1999, 1, 1), 1999) is None
        assert Level.KHU_VUC.has_region and not Level.TINH.has_region


def test_a_province_written_earlier_in_the_transaction_is_in_the_next_lookup() -> None:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[Province.__table__])  # type: ignore[attr-defined]
    with Session(engine) as session:
        seed_provinces(session)
        session.commit()
        assert Provinces.load(session).match("Thử Nghiệm") is None  # cached for this transaction
        session.add(Province(slug="thu-nghiem", name="Tỉnh Thử Nghiệm", short_name="Thử Nghiệm", kind="tinh"))
        session.flush()  # written before the next lookup, so that lookup cannot see it as unwritten
        assert Provinces.load(session).match("Thử Nghiệm") is not None
    engine.dispose()
