"""Vietnamese search over the real seed data: matching, ranking, facets, status.

One seeded app (and index) serves the whole module; these tests only read.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from catalogue.clock import today
from catalogue.db import get_engine
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Product, SelectionRound
from catalogue.registry.status import certificate_standing, current_policy
from catalogue.search.params import SearchParams
from catalogue.search.query import parse, run
from catalogue.text import fold
from tests import seeddata


@pytest.fixture
def api(search_app: Flask) -> FlaskClient:
    return search_app.test_client()


def search(client: FlaskClient, q: str = "", **args: str) -> dict:
    response = client.get("/api/v1/products", query_string={"q": q, "per_page": "100", **args})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def names(client: FlaskClient, q: str = "", **args: str) -> list[str]:
    return [item["name"] for item in search(client, q, **args)["items"]]


PHU_QUOC = "Nước mắm truyền thống Phú Quốc (sản phẩm/bộ sản phẩm 18-43 độ đạm)"

# (query, extra args, a product name that must be found)
MATRIX = [
    ("nuoc mam phu quoc", {}, PHU_QUOC),
    ("NƯỚC MẮM PHÚ QUỐC", {}, PHU_QUOC),
    ("Nước Mắm", {}, "Nước mắm nhỉ Bà Mười"),
    ("nươc mam", {}, "Nước mắm nhỉ Bà Mười"),  # a wrong accent still folds
    ("phu quoc nuoc mam", {}, PHU_QUOC),  # word order does not matter
    ('"nuoc mam"', {}, "Nước mắm thượng hạng Tác Huy"),
    ("nuoc ma*", {}, "Nước mắm Ngân Mỹ Á"),
    ("tra", {}, "Trà Oolong"),
    ("trà", {}, "Trà Sâm dứa"),
    ("tra o long", {"status": "all"}, "Trà Ô Long"),
    ("dong trung ha thao", {}, "Đông trùng hạ thảo khô"),
    ("ĐÔNG TRÙNG HẠ THẢO", {}, "Đông trùng hạ thảo Thiên Phú"),
    ("dak lak", {"status": "all"}, "Product set: Paper filter coffee, SR instant coffee"),
    ("Đắk Lắk", {}, "Nem chua Thành Phát"),  # Phú Yên is now part of Đắk Lắk
    ("Kiên Giang", {}, "Sản phẩm đan cỏ bàng"),  # An Giang product, found by a former name
    ("kien giang", {}, PHU_QUOC),
    ("quang nam", {"status": "all"}, "Bánh chưng Bà Ba Hội"),
    ("da nang", {"status": "all"}, "Khay trà tiến Vua"),
    ("banh chung", {"status": "all"}, "Bánh chưng Bà Ba Hội"),
    ("BÁNH CHƯNG", {"status": "all"}, "Bánh chưng Bà Ba Hội"),
    (unicodedata.normalize("NFD", "bánh chưng"), {"status": "all"}, "Bánh chưng Bà Ba Hội"),
    ("khai hoan", {}, "Bộ sản phẩm nước mắm Khải Hoàn 30 độ đạm và 43 độ đạm"),
    ("Thanh Hoá", {}, "Trà xanh túi lọc Bình Sơn"),  # old tone placement (hoá/hóa)
    ("lam dong", {}, "Trà Oolong"),
    ("thu cong my nghe", {}, "Sản phẩm đan cỏ bàng"),
    ("handicrafts", {}, "Bộ dĩa đựng trái cây"),
    ("national", {"status": "all"}, "Giá treo và bảo chúng nhỏ"),
    ("cap quoc gia", {}, "Nhất diệp hảo trà"),
    ("2022", {"status": "all"}, "Sâm nhung mật ong"),
    ("tien giang", {"status": "all"}, "Lạp xưởng Chín Trọng"),
    ("dong thap", {"status": "all"}, "Hạt điều sấy tỏi ớt Cagachi"),  # Tiền Giang is now Đồng Tháp
    ("cơm sấy", {"status": "all"}, "Cơm sấy Nhật Quỳnh"),
    ("macca", {"status": "all"}, "Hạt macca sấy nứt vỏ"),
    ("HTX chè", {}, "Hương sơn trà"),
]


@pytest.mark.parametrize(("q", "args", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_vietnamese_query_matrix(api: FlaskClient, q: str, args: dict[str, str], expected: str) -> None:
    assert expected in names(api, q, **args)


@pytest.mark.parametrize(("a", "b"), [
    ("nuoc mam", "NƯỚC MẮM"), ("tra", "TRÀ"), ("kien giang", "Kiên Giang"), ("dak lak", "ĐẮK LẮK"),
    ("banh chung", "bánh chưng"),
])  # fmt: skip
def test_case_and_accents_find_the_same_products(api: FlaskClient, a: str, b: str) -> None:
    assert sorted(names(api, a, status="all")) == sorted(names(api, b, status="all"))
    assert names(api, a, status="all")


def test_every_word_must_match(api: FlaskClient) -> None:
    found = names(api, "nuoc mam phu quoc")
    phu_quoc = seeddata.products_named(PHU_QUOC)  # all valid on the frozen day
    assert found.count(PHU_QUOC) == phu_quoc > 1
    for name in found[:phu_quoc]:
        assert name == PHU_QUOC  # the products whose names hold every word come first


def test_phrase_needs_adjacent_words(api: FlaskClient) -> None:
    assert names(api, '"mam nuoc"', status="all") == []
    found = names(api, '"nuoc mam"')
    assert PHU_QUOC in found  # valid on the frozen day, like every product the phrase finds
    assert all("nuoc mam" in fold(n) for n in found)


def test_prefix_matches_word_starts(api: FlaskClient) -> None:
    found = names(api, "dong tr*", status="all")
    assert "Đông trùng hạ thảo khô" in found
    assert names(api, "nuoc ma*") and set(names(api, "nuoc mam")) <= set(names(api, "nuoc ma*"))


STRAY = [
    "nuoc (mam",
    "nuoc AND OR NOT",
    '"unbalanced quote',
    "a:b ^2 ~ {[ ]}",
    "*",
    "**",
    "n*",
    "title:trà",
    "-",
    "'; DROP TABLE product; --",
    "\\",
    "%",
    "<script>",
]


@pytest.mark.parametrize("q", STRAY)
def test_stray_query_syntax_never_errors(api: FlaskClient, q: str) -> None:
    data = search(api, q, status="all")
    assert isinstance(data["total"], int)


def test_expired_product_hidden_by_default(api: FlaskClient) -> None:
    assert "Bánh chưng Bà Ba Hội" not in names(api, "banh chung")
    assert "Bánh chưng Bà Ba Hội" in names(api, "banh chung", status="expired")


def test_old_province_name_in_query_finds_current_unit(api: FlaskClient) -> None:
    an_giang = set(names(api, "", province="an-giang", status="all"))
    assert an_giang and an_giang <= set(names(api, "kien giang", status="all"))


def test_suggestion_for_misspelling(api: FlaskClient) -> None:
    data = search(api, "bánh chưg", status="all")
    assert data["total"] == 0
    assert data["suggestion"] == "bánh chưng"
    assert search(api, "banh chug", status="all")["suggestion"] == "banh chung"
    assert search(api, "nuoc mam")["suggestion"] is None
    # Under the default status a suggestion is offered only if it finds valid products.
    offered = search(api, "bánh chưg")["suggestion"]
    assert offered is None or search(api, offered)["total"] > 0


def test_highlight_marks_matched_words_in_any_accent(search_app: Flask) -> None:
    with search_app.test_request_context():
        result = run(SearchParams(q="nuoc ma*", statuses=()))
        html = str(result.highlight("Nước mắm <Phú> Quốc"))
    assert html == "<mark>Nước</mark> <mark>mắm</mark> &lt;Phú&gt; Quốc"


def test_parse_builds_words_phrases_and_prefixes() -> None:
    parsed = parse('"Nước mắm" phu qu* (bà)')
    assert parsed.phrases == [["nuoc", "mam"]]
    assert parsed.prefixes == ["qu"]
    assert [f for _, f in parsed.words] == ["phu", "ba"]
    assert parse("   ").clauses == []


# ----------------------------------------------------------------------------- facets vs the database


def _db_facets(session: Session, params: SearchParams, day: date) -> tuple[int, dict[str, dict[str, int]]]:
    """Independent count from database rows with the documented semantics."""
    provinces = Provinces.load(session)
    products = {p.id: p for p in session.exec(select(Product)).all()}
    rounds = {r.id: r for r in session.exec(select(SelectionRound)).all()}
    policy = current_policy(session)
    certs = defaultdict(list)
    for c in session.exec(select(Certificate)).all():
        r = rounds[c.round_id]
        current = provinces.current_of(provinces.get(c.province_id))
        region = r.region or (current.region if current else None) or ""
        status = certificate_standing(c, r.level, r.year, policy, day).status.value
        certs[c.product_id].append({"level": r.level, "region": region, "year": str(r.year),
                                    "status": status})  # fmt: skip
    wanted = {"group": set(params.groups), "province": set(params.provinces), "level": set(params.levels),
              "region": set(params.regions), "year": {str(y) for y in params.years},
              "status": set(params.statuses)}  # fmt: skip
    cert_dims = ("level", "region", "year", "status")

    def product_values(p: Product) -> dict[str, str]:
        current = provinces.current_of(provinces.get(p.province_id))
        return {"group": p.group or "unclassified", "province": current.slug if current else ""}

    def cert_ok(c: dict[str, str], skip: str | None) -> bool:
        return all(not wanted[d] or c[d] in wanted[d] for d in cert_dims if d != skip)

    def prod_ok(p: Product, skip: str | None) -> bool:
        values = product_values(p)
        return all(not wanted[d] or values[d] in wanted[d] for d in ("group", "province") if d != skip)

    def has_cert(pid: int, skip: str | None = None) -> bool:
        active = any(wanted[d] for d in cert_dims if d != skip)
        return not active or any(cert_ok(c, skip) for c in certs[pid])

    total = sum(1 for pid, p in products.items() if prod_ok(p, None) and has_cert(pid))
    facets: dict[str, dict[str, int]] = {d: defaultdict(int) for d in wanted}
    for pid, p in products.items():
        for d in ("group", "province"):
            if prod_ok(p, d) and has_cert(pid) and product_values(p)[d]:
                facets[d][product_values(p)[d]] += 1
        if prod_ok(p, None):
            for d in cert_dims:
                for value in {c[d] for c in certs[pid] if cert_ok(c, d) and c[d]}:
                    facets[d][value] += 1
    return total, {d: dict(v) for d, v in facets.items()}


FACET_CASES = [
    {},
    {"status": "all"},
    {"province": "An Giang"},
    {"province": "Da Nang", "status": "all"},
    {"level": "quoc_gia", "status": "all"},
    {"group": "thu_cong_my_nghe", "status": "all"},
    {"group": "unclassified", "status": "all"},
    {"region": "phia_nam", "year": "2024"},
    {"status": "expired", "province": "dak-lak"},
]


@pytest.mark.parametrize("args", FACET_CASES, ids=[str(c) for c in FACET_CASES])
def test_facet_counts_equal_database_counts(search_app: Flask, args: dict[str, str]) -> None:
    with search_app.test_request_context():
        session = Session(get_engine())
        params = SearchParams.from_args(args, Provinces.load(session))
        result = run(params)
        total, expected = _db_facets(session, params, today())
        session.close()
    assert result.total == total
    assert set(result.facets) == set(expected)  # all six facets, each compared below
    for name, items in result.facets.items():
        assert dict(items) == expected[name], name


def test_facet_counts_of_text_search_match_listed_items(api: FlaskClient) -> None:
    data = search(api, "nuoc mam", status="all")
    listed = data["items"]
    assert data["total"] == len(listed)
    by_province = defaultdict(int)
    for item in listed:
        by_province[item["province"]["current_slug"]] += 1
    assert {f["value"]: f["count"] for f in data["facets"]["province"]} == dict(by_province)
    statuses = defaultdict(int)
    for item in listed:
        for status in {c["status"] for c in item["certificates"]}:
            statuses[status] += 1
    assert {f["value"]: f["count"] for f in data["facets"]["status"]} == dict(statuses)


def test_choosing_a_province_keeps_the_other_provinces_listed(api: FlaskClient) -> None:
    everything = {f["value"]: f["count"] for f in search(api)["facets"]["province"]}
    narrowed = search(api, province="an-giang")
    assert {f["value"]: f["count"] for f in narrowed["facets"]["province"]} == everything
    assert narrowed["total"] == everything["an-giang"]


def test_province_filter_takes_plain_and_former_names(api: FlaskClient) -> None:
    by_slug = names(api, province="da-nang", status="all")
    for value in ("Da Nang", "Đà Nẵng", "TP. Đà Nẵng", "Quảng Nam", "quang nam"):
        assert sorted(names(api, province=value, status="all")) == sorted(by_slug), value
    national_2021 = {"Bánh chưng Bà Ba Hội", "Khay trà tiến Vua", "Giá treo và bảo chúng nhỏ"}
    assert national_2021 <= set(names(api, province="Da Nang", status="all"))
    dong_thap = search(api, province="Dong Thap", status="all")["items"]
    assert {i["province"]["current_slug"] for i in dong_thap} == {"dong-thap"}


def test_level_and_year_filters_apply_to_one_certificate(api: FlaskClient) -> None:
    national_2021 = search(api, level="quoc_gia", year="2021", status="all")["items"]
    assert len(national_2021) == seeddata.certificates_at("quốc gia", 2021) > 0
    for item in national_2021:
        assert any(c["level"] == "quoc_gia" and c["year"] == 2021 for c in item["certificates"])
    provincial = search(api, level="tinh")
    assert 0 < len(provincial["items"]) == provincial["total"]  # every match on this one page
    for item in provincial["items"]:
        assert any(c["level"] == "tinh" and c["status"] == "valid" for c in item["certificates"])


def test_region_of_regional_certificate_is_the_rounds(api: FlaskClient) -> None:
    items = search(api, region="phia_nam", level="khu_vuc", status="all")["items"]
    assert items and all(any(c["region"] == "phia_nam" for c in i["certificates"]) for i in items)


def test_status_is_computed_at_query_time(search_app: Flask) -> None:
    with search_app.test_request_context():
        now = run(SearchParams(statuses=("valid",)))
        later = run(SearchParams(statuses=("valid",)), today=date(2100, 1, 1))
        expired_later = run(SearchParams(statuses=("expired",)), today=date(2100, 1, 1))
        everything = run(SearchParams(statuses=()))
    assert now.total > 0 and later.total == 0
    assert expired_later.total == everything.total


def test_sort_orders(api: FlaskClient) -> None:
    by_name = names(api, "nuoc mam", sort="name", status="all")
    assert [fold(n) for n in by_name] == sorted(fold(n) for n in by_name)
    newest = search(api, sort="newest", status="all")["items"]
    years = [max(c["year"] for c in i["certificates"]) for i in newest]
    assert years == sorted(years, reverse=True)


def test_pagination_walks_all_results_once(api: FlaskClient) -> None:
    total = search(api, status="all")["total"]
    seen = []
    for page in range(1, -(-total // 20) + 1):  # every page of 20, however large the seed
        args = {"status": "all", "per_page": "20", "page": page}
        data = api.get("/api/v1/products", query_string=args).get_json()
        seen += [i["id"] for i in data["items"]]
    assert len(seen) == len(set(seen)) == total
