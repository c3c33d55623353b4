"""Truthful status (issue 11, finding 5): an expiry printed in a decision is fact; a
validity the registry assumes when the decision states none is shown as such, in a
neutral tone, set per level by ministry officials (audited, public), and worked out
when read, so a policy change needs no rewrite or reindex and ``?as_of=`` stays true.

Every day here is explicit (passed in, or the clock moved to it): nothing reads the
real date.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, func, insert, select
from sqlmodel import Session

from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.clock import VIETNAM
from catalogue.db import get_engine
from catalogue.registry.models import ValidityPolicy
from catalogue.registry.status import ExpiryBasis, Policy, standing, valid_sql
from catalogue.search.facets import LEVELS, STATUSES, DocTable
from catalogue.vocab import CertificateStatus, Level
from tests.fixtures.workspace import csrf_token, login, make_user

VALID, EXPIRED, REVOKED = CertificateStatus.VALID, CertificateStatus.EXPIRED, CertificateStatus.REVOKED
EN = {"Accept-Language": "en"}
#: The day the web tests look from (the clock is moved there explicitly).
DAY = datetime(2026, 6, 15, 9, 0, tzinfo=VIETNAM)


@pytest.fixture
def on_day(clock: time_machine.Traveller) -> time_machine.Traveller:
    clock.move_to(DAY)
    return clock


def _st(day: date, policy: Policy, *, level: str = "tinh", year: int = 2021, issued: date | None = None,
        expires: date | None = None, revoked: date | None = None) -> Any:  # fmt: skip
    return standing(day, level=level, year=year, issued_on=issued, expires_on=expires, revoked_on=revoked,
                    policy=policy)  # fmt: skip


# ----------------------------------------------------------------------------- the rule


def test_an_expiry_printed_in_the_decision_wins_and_is_fact() -> None:
    policy = Policy(default_years=3)
    st_ = _st(date(2030, 1, 1), policy, issued=date(2021, 3, 1), expires=date(2031, 2, 28))
    assert (st_.status, st_.basis, st_.expires_on) == (VALID, ExpiryBasis.DECISION, date(2031, 2, 28))
    lapsed = _st(date(2031, 3, 1), policy, issued=date(2021, 3, 1), expires=date(2031, 2, 28))
    assert lapsed.status is EXPIRED and not lapsed.past_assumed_validity and lapsed.tone == "expired"


def test_without_a_decision_expiry_the_policy_counts_from_the_issue_date() -> None:
    policy = Policy(default_years=3)
    last = _st(date(2024, 3, 1), policy, issued=date(2021, 3, 1))
    assert (last.status, last.basis, last.expires_on) == (VALID, ExpiryBasis.POLICY, date(2024, 3, 1))
    after = _st(date(2024, 3, 2), policy, issued=date(2021, 3, 1))
    assert after.status is EXPIRED and after.past_assumed_validity and after.tone == "lapsed"


def test_with_only_the_year_known_the_policy_counts_from_the_end_of_that_year() -> None:
    policy = Policy(default_years=3)
    assert _st(date(2024, 12, 31), policy, year=2021).status is VALID
    assert _st(date(2025, 1, 1), policy, year=2021).tone == "lapsed"
    assert _st(date(2025, 1, 1), policy, year=2021).expires_on == date(2024, 12, 31)


def test_a_policy_change_applies_from_its_effective_date_per_level() -> None:
    policy = Policy.from_rows([("tinh", date(2025, 1, 1), 5)], default_years=3)
    # Before the new setting took effect, the default applied: the 2021 certificate had lapsed.
    assert _st(date(2024, 12, 31), policy, year=2020).tone == "lapsed"
    assert _st(date(2025, 1, 1), policy, year=2020).status is VALID  # now 5 years: until 31/12/2025
    assert _st(date(2025, 1, 1), policy, year=2020).term.since == date(2025, 1, 1)
    # Other levels keep the default.
    assert _st(date(2025, 1, 1), policy, level="quoc_gia", year=2020).tone == "lapsed"


def test_revocation_wins_over_any_expiry() -> None:
    policy = Policy(default_years=3)
    assert _st(date(2022, 1, 1), policy, year=2021, revoked=date(2021, 12, 1)).tone == "revoked"
    assert _st(date(2030, 1, 1), policy, year=2021, revoked=date(2021, 12, 1)).status is REVOKED
    assert _st(date(2030, 1, 1), policy, expires=date(2024, 1, 1), revoked=date(2025, 1, 1)).status is REVOKED


# ----------------------------------------------------------------------------- SQL and numpy agree

_PROBE = Table(
    "status_probe", MetaData(),
    Column("id", Integer, primary_key=True), Column("level", String(16)), Column("year", Integer),
    Column("issued_on", Date), Column("expires_on", Date), Column("revoked_on", Date),
)  # fmt: skip

_days = st.dates(min_value=date(2016, 1, 1), max_value=date(2034, 12, 31))
_certificates = st.lists(
    st.fixed_dictionaries({
        "level": st.sampled_from(LEVELS), "year": st.integers(2016, 2030),
        "issued_on": st.none() | _days, "expires_on": st.none() | _days, "revoked_on": st.none() | _days,
    }),
    min_size=1, max_size=25,
)  # fmt: skip
_policies = st.builds(
    Policy.from_rows,
    st.lists(st.tuples(st.sampled_from(LEVELS), _days, st.integers(1, 12)), max_size=6),
    st.integers(1, 6),
)


@pytest.fixture
def probe(app: Flask) -> Iterator[Any]:
    """A scratch table on the test database (SQLite or PostgreSQL) with the rule's columns."""
    with app.app_context():
        engine = get_engine()
        _PROBE.create(engine)
        try:
            yield engine
        finally:
            _PROBE.drop(engine)


def _table(certs: list[dict[str, Any]]) -> DocTable:
    n = len(certs)
    zeros = np.zeros(n, np.int32)

    def ordinal(d: date | None) -> int:
        return d.toordinal() if d else 0

    return DocTable(
        size=n, live=np.ones(n, bool), pid=np.arange(n), group=zeros.astype(np.int8),
        province=zeros.astype(np.int16), newest=zeros.astype(np.int16), name_len=np.ones(n, np.float32),
        body_len=np.ones(n, np.float32), keys=[""] * n, cert_doc=np.arange(n),
        level=np.array([LEVELS.index(c["level"]) for c in certs], np.int8), region=zeros.astype(np.int8),
        year=np.array([c["year"] for c in certs], np.int16),
        expires=np.array([ordinal(c["expires_on"]) for c in certs], np.int32),
        revoked=np.array([ordinal(c["revoked_on"]) for c in certs], np.int32),
        start=np.array([ordinal(c["issued_on"] or date(c["year"], 12, 31)) for c in certs], np.int32),
    )  # fmt: skip


@st.composite
def _cases(draw: Any) -> tuple[list[dict[str, Any]], Policy, date]:
    """Certificates, a policy and a day, many of them on the edges of the rule (a start on or
    next to the cutoff, 29 February, an expiry or revocation on the day itself)."""
    policy, day = draw(_policies), draw(_days)
    certs = draw(_certificates)
    for cert in certs:
        edge = policy.cutoff(cert["level"], day) + timedelta(days=draw(st.integers(-1, 1)))
        choice = draw(st.sampled_from(["issued", "year", "expires", "revoked", "leap", "as drawn"]))
        if choice == "issued":
            cert.update(issued_on=edge, expires_on=None)
        elif choice == "year":
            cert.update(issued_on=None, expires_on=None, year=edge.year)
        elif choice == "expires":
            cert["expires_on"] = day + timedelta(days=draw(st.integers(-1, 1)))
        elif choice == "revoked":
            cert["revoked_on"] = day + timedelta(days=draw(st.integers(-1, 1)))
        elif choice == "leap":
            cert.update(issued_on=date(2020, 2, 29), expires_on=None)
    return certs, policy, day


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_cases())
def test_sql_and_numpy_forms_agree_with_the_python_rule(
    probe: Any, case: tuple[list[dict[str, Any]], Policy, date]
) -> None:
    certs, policy, day = case
    expected = [standing(day, policy=policy, **c).status for c in certs]
    with probe.begin() as conn:
        conn.execute(_PROBE.delete())
        conn.execute(insert(_PROBE), [{"id": i, **c} for i, c in enumerate(certs)])
        t = _PROBE.c
        condition = valid_sql(day, policy, level=t.level, year=t.year, issued_on=t.issued_on,
                              expires_on=t.expires_on, revoked_on=t.revoked_on)  # fmt: skip
        valid_ids = set(conn.execute(select(t.id).where(condition)).scalars())
    assert valid_ids == {i for i, s in enumerate(expected) if s is VALID}
    codes = _table(certs).status_on(day, policy)
    assert [STATUSES[int(c)] for c in codes] == [s.value for s in expected]


# ----------------------------------------------------------------------------- what people see


def _verify(client: FlaskClient, code: str, **args: str) -> tuple[str, dict[str, Any]]:
    html = client.get(f"/v/{code}", query_string=args, headers=EN).get_data(as_text=True)
    api = client.get(f"/api/v1/verify/{code}", query_string=args).get_json()
    return html, api


def test_a_2021_certificate_without_stated_expiry_reads_as_past_the_assumed_validity(
    seeded_app: Flask, make_certificate: Callable[..., str], on_day: Any
) -> None:
    code = make_certificate(certificate_number="07/GCN-2021", year=2021, level=Level.TINH,
                            product="Nón lá kiểm thử")  # fmt: skip
    client = seeded_app.test_client()
    html, api = _verify(client, code)
    assert 'class="verdict v-lapsed"' in html and "v-expired" not in html
    assert "Recognised in 2021" in html
    assert "Past the registry's standard validity of 3 years (the decision states no expiry)" in html
    assert "Expired on" not in html and 'href="/status"' in html
    assert api["status"] == "expired" and api["expiry_basis"] == "policy"
    assert api["certificate"]["expiry_basis"] == "policy" and api["certificate"]["expires_on"] == "2024-12-31"
    product = client.get(urlsplit(api["product"]["url"]).path, headers=EN)
    page = product.get_data(as_text=True)
    assert 'class="badge badge-lapsed"' in page and "badge-expired" not in page
    assert "Recognised 2021 · past standard validity" in page


def test_an_expiry_stated_by_the_decision_keeps_the_expired_verdict(
    seeded_app: Flask, make_certificate: Callable[..., str], on_day: Any
) -> None:
    code = make_certificate(certificate_number="08/GCN-2021", year=2021, issued_on=date(2021, 5, 4),
                            expires_on=date(2024, 5, 3), product="Chiếu cói kiểm thử")  # fmt: skip
    html, api = _verify(seeded_app.test_client(), code)
    assert 'class="verdict v-expired"' in html and "Expired on May 3, 2024" in html
    assert "as stated in the decision" in html and "standard validity" not in html.split("</section>")[0]
    assert api["status"] == "expired" and api["expiry_basis"] == "decision"


def test_within_the_assumed_validity_the_page_says_it_is_assumed(
    seeded_app: Flask, make_certificate: Callable[..., str], on_day: Any
) -> None:
    code = make_certificate(certificate_number="09/GCN-2025", year=2025, issued_on=date(2025, 8, 15),
                            product="Mây tre kiểm thử")  # fmt: skip
    html, api = _verify(seeded_app.test_client(), code)
    assert 'class="verdict v-ok"' in html
    assert "The decision states no expiry; the registry assumes 3 years (until Aug 15, 2028)." in html
    assert api["status"] == "valid" and api["certificate"]["expires_on"] == "2028-08-15"


def test_number_lookup_uses_the_same_neutral_verdict(
    seeded_app: Flask, make_certificate: Callable[..., str], on_day: Any
) -> None:
    make_certificate(certificate_number="10/GCN-2021", year=2021, product="Gốm kiểm thử")
    page = seeded_app.test_client().get("/verify?number=10/GCN-2021", headers=EN).get_data(as_text=True)
    assert 'class="verdict v-lapsed"' in page and "Recognised in 2021" in page
    items = seeded_app.test_client().get("/api/v1/verify?number=10/GCN-2021").get_json()["items"]
    assert items[0]["expiry_basis"] == "policy"


def test_csv_and_products_api_carry_the_expiry_basis(
    seeded_app: Flask, make_certificate: Callable[..., str], on_day: Any
) -> None:
    make_certificate(certificate_number="11/GCN-2021", year=2021, product="Đèn lồng kiểm thử")
    client = seeded_app.test_client()
    data = client.get("/api/v1/products", query_string={"q": "den long kiem thu", "status": "all"}).get_json()
    cert = data["items"][0]["certificates"][0]
    assert (cert["status"], cert["expiry_basis"], cert["expires_on"]) == ("expired", "policy", "2024-12-31")
    assert "registry's assumed validity" in data["status_rules"]["note"]
    text = client.get("/api/v1/products.csv", query_string={"q": "den long kiem thu", "status": "all"}
                      ).get_data(as_text=True)  # fmt: skip
    header, first = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[:2]
    row = dict(zip(header, first, strict=True))
    assert (row["expires_on"], row["expiry_basis"]) == ("2024-12-31", "policy")
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["schemas"]["ExpiryBasis"]["enum"] == ["decision", "policy"]


def test_product_cards_on_list_pages_use_the_neutral_badge(seeded_app: Flask, on_day: Any) -> None:
    # The real 2021 national round: its decision states no expiry (seed data).
    body = seeded_app.test_client().get("/rounds/quoc-gia-quoc-gia-2021?lang=en").get_data(as_text=True)
    assert 'class="badge badge-lapsed"' in body and "Recognised 2021 · past standard validity" in body
    assert "badge-expired" not in body


def test_search_page_says_how_it_treats_an_assumed_validity(seeded_app: Flask, on_day: Any) -> None:
    html = seeded_app.test_client().get("/search?lang=en").get_data(as_text=True)
    assert "“Expired” includes certificates past the registry's standard validity" in html
    assert "past the registry's standard validity, whose decision states no expiry, are left out" in html


# ----------------------------------------------------------------------------- the workspace


def _facet(client: FlaskClient, status: str) -> int:
    data = client.get("/api/v1/products", query_string={"status": "all", "per_page": 1}).get_json()
    return dict((f["value"], f["count"]) for f in data["facets"]["status"]).get(status, 0)


def _count(app: Flask, model: type) -> int:
    with app.app_context(), Session(get_engine()) as s:
        return int(s.exec(select(func.count()).select_from(model)).one()[0])


def _form(client: FlaskClient, **over: str) -> dict[str, str]:
    data = {"csrf_token": csrf_token(client, "/admin/validity"), "level": "quoc_gia", "years": "10",
            "effective_from": "2021-01-01", "note": "Công văn thử nghiệm"}  # fmt: skip
    data.update(over)
    return data


def test_a_ministry_setting_changes_status_at_once_without_reindex_and_is_audited(
    seeded_app: Flask, make_certificate: Callable[..., str], on_day: Any
) -> None:
    code = make_certificate(certificate_number="12/GCN-QG", year=2021, level=Level.QUOC_GIA,
                            province="Hà Nội", product="Khảm trai kiểm thử")  # fmt: skip
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    client = seeded_app.test_client()
    login(client, "cuc@moit.gov.vn")
    public = seeded_app.test_client()
    assert "v-lapsed" in _verify(public, code)[0]
    valid_before, expired_before = _facet(public, "valid"), _facet(public, "expired")
    outbox_before = _count(seeded_app, OutboxEvent)

    response = client.post("/admin/validity", data=_form(client))
    assert response.status_code == 302

    html, api = _verify(public, code)
    assert 'class="verdict v-ok"' in html and api["status"] == "valid"
    assert api["certificate"]["expires_on"] == "2031-12-31"
    assert _facet(public, "valid") > valid_before and _facet(public, "expired") < expired_before
    assert _count(seeded_app, OutboxEvent) == outbox_before  # nothing rewritten, nothing reindexed
    with seeded_app.app_context(), Session(get_engine()) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "set_validity")).one()[0]
        assert entry.entity_type == "validity_policy" and entry.actor_label == "cuc@moit.gov.vn"
        assert entry.changes == {"validity_years": [3, 10], "effective_from": [None, "2021-01-01"]}
    page = public.get("/status?lang=en").get_data(as_text=True)
    assert "10 years" in page and "Jan 1, 2021" in page
    # The trail names the setting in the reader's language and can be filtered to it.
    for lang, action, level in (("vi", "đặt thời hạn hiệu lực mặc định", "Cấp quốc gia"),
                                ("en", "assumed validity set", "National")):  # fmt: skip
        trail = client.get(f"/admin/audit?action=set_validity&lang={lang}").get_data(as_text=True)
        table = trail[trail.index("<table") :]
        assert action in table and level in table and "validity_policy" not in table
    # Saving the same setting again changes nothing and says so.
    again = client.post("/admin/validity", data=_form(client), headers=EN)
    assert again.status_code == 400 and "already 10 years" in again.get_data(as_text=True)
    assert _count(seeded_app, ValidityPolicy) == 1


def test_as_of_uses_the_setting_in_effect_on_that_day(
    seeded_app: Flask, make_certificate: Callable[..., str], on_day: Any
) -> None:
    code = make_certificate(certificate_number="13/GCN-SCT", year=2022, issued_on=date(2022, 4, 1),
                            product="Bánh tráng kiểm thử")  # fmt: skip
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    client = seeded_app.test_client()
    login(client, "cuc@moit.gov.vn")
    assert (
        client.post(
            "/admin/validity", data=_form(client, level="tinh", years="2", effective_from="2025-01-01")
        ).status_code
        == 302
    )
    public = seeded_app.test_client()
    before = public.get(f"/api/v1/verify/{code}", query_string={"as_of": "2024-12-31"}).get_json()["as_of"]
    assert (before["status"], before["expires_on"]) == ("valid", "2025-04-01")  # 3 years then
    after = public.get(f"/api/v1/verify/{code}", query_string={"as_of": "2025-01-02"}).get_json()["as_of"]
    assert (after["status"], after["expiry_basis"]) == ("expired", "policy")
    assert after["expires_on"] == "2024-04-01"  # 2 years from then on
    html = public.get(f"/v/{code}", query_string={"as_of": "2025-01-02"}, headers=EN).get_data(as_text=True)
    assert 'class="verdict v-lapsed"' in html and "past the registry's standard validity of 2 years" in html


def test_a_provincial_official_may_not_set_the_policy(seeded_app: Flask, on_day: Any) -> None:
    make_user(seeded_app, "lc@so.gov.vn", "province", "Lào Cai")
    client = seeded_app.test_client()
    login(client, "lc@so.gov.vn")
    assert client.get("/admin/validity").status_code == 403
    token = csrf_token(client, "/admin/")
    response = client.post("/admin/validity", data={"csrf_token": token, "level": "tinh", "years": "9",
                                                    "effective_from": "2021-01-01"})  # fmt: skip
    assert response.status_code == 403
    assert _count(seeded_app, ValidityPolicy) == 0


def test_without_csrf_or_with_bad_input_nothing_is_saved(seeded_app: Flask, on_day: Any) -> None:
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    client = seeded_app.test_client()
    login(client, "cuc@moit.gov.vn")
    audit_before = _count(seeded_app, AuditEntry)
    no_token = _form(client)
    del no_token["csrf_token"]
    assert client.post("/admin/validity", data=no_token).status_code == 400
    for years, message in (("0", "between 1 and 50 years"), ("51", "between 1 and 50 years"),
                           ("ba", "Not a valid integer value")):  # fmt: skip
        response = client.post("/admin/validity", data=_form(client, years=years), headers=EN)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    response = client.post("/admin/validity", data=_form(client, level="tinh_thanh"), headers=EN)
    assert response.status_code == 400
    response = client.post("/admin/validity", data=_form(client, effective_from=""), headers=EN)
    assert response.status_code == 400
    assert "Enter the day the setting takes effect" in response.get_data(as_text=True)
    assert _count(seeded_app, ValidityPolicy) == 0 and _count(seeded_app, AuditEntry) == audit_before


def test_the_public_page_lists_every_level_and_explains_the_basis(seeded_app: Flask, on_day: Any) -> None:
    html = seeded_app.test_client().get("/status?lang=en").get_data(as_text=True)
    for level in Level:
        assert re.search(rf"<th scope=\"row\">{re.escape(level.label)}</th>\s*<td>3 years</td>", html)
    assert "the registry's initial setting" in html
    assert "after the expiry date printed in the decision" in html
    assert "no decision says it has expired" in html


# ----------------------------------------------------------------------------- the migration


def test_migration_forgets_stored_policy_expiries_and_keeps_the_decisions(tmp_path: Any) -> None:
    from sqlalchemy import create_engine, inspect, text

    from catalogue import migrate

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as conn:
        day = "2021-01-01"
        conn.execute(text("INSERT INTO selection_round (id, slug, level, year) "
                          "VALUES (1, 'r', 'tinh', 2021)"))  # fmt: skip
        conn.execute(text("INSERT INTO product (id, slug, name, is_set, group_assigned, created_at, "
                          "updated_at) VALUES (1, 'p', 'P', false, false, :d, :d)"), {"d": day})  # fmt: skip
        for cid, expires, from_policy in ((1, "2024-12-31", True), (2, "2023-05-03", False)):
            conn.execute(text(
                "INSERT INTO certificate (id, product_id, round_id, expires_on, expires_from_policy, "
                "check_count, created_at, updated_at) VALUES (:id, 1, 1, :e, :p, 0, :d, :d)"
            ), {"id": cid, "e": expires, "p": from_policy, "d": day})  # fmt: skip
    migrate.upgrade(url, "0003")
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, expires_on FROM certificate ORDER BY id")).all())
    assert rows == {1: None, 2: "2023-05-03"}
    assert "expires_from_policy" not in {c["name"] for c in inspect(engine).get_columns("certificate")}
    migrate.downgrade(url, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM certificate WHERE expires_from_policy")).scalar() == 0
    engine.dispose()
