"""A publish on SQLite works out every row without the write lock, then reveals them in one short commit.

Issue 13, item 2: sign-ins, saves and consumers' reports keep working while an
office publishes a long decision. The rows are matched and built while other
writers go on; the batch is then written in one transaction that first checks
nothing it read has changed since (and works the rows out again if it has),
so a concurrent write is never overwritten or doubled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from catalogue.accounts.models import User
from catalogue.db import get_engine
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.jobs import service as job_service
from catalogue.jobs.models import Job
from catalogue.places.models import Province
from catalogue.registry import editing, matching
from catalogue.registry.models import Certificate, Producer, Product
from tests.conftest import IS_PG
from tests.fixtures.workspace import login, make_user, post, row, signed_in, upload, xlsx_bytes

pytestmark = pytest.mark.skipif(IS_PG, reason="PostgreSQL has no single writer to wait for")


@pytest.fixture
def busy_app(make_app: Callable[..., Flask]) -> Flask:
    # A write that finds the lock taken gives up after 2 s (a 503). The other visitor's write runs while
    # the job waits for it, so a publish holding the lock through its rows shows as a 503 however long
    # the wait; a busy test machine needs more than a fraction of a second for the other writes.
    return make_app(seeded=True, SQLITE_BUSY_SECONDS=2.0)


@pytest.fixture
def fault() -> Iterator[None]:
    yield
    job_service.FAULT = None


def _session(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def elsewhere(work: Callable[[], Any]) -> Any:
    """Run ``work`` as another visitor would: its own thread, so none of the job's request context."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()))
    thread.start()
    thread.join()
    assert out, "the other visitor's work raised (see the log)"
    return out[0]


def _last_job(app: Flask) -> Job:
    with _session(app) as s:
        job = s.exec(select(Job).order_by(col(Job.id).desc())).first()
        assert job is not None
        return job


def test_officials_sign_in_while_a_publish_works_through_its_rows(busy_app: Flask, fault: None) -> None:
    official = signed_in(busy_app, "laocai@so.gov.vn", "province", "Lào Cai")
    make_user(busy_app, "hue@so.gov.vn", "province", "Huế")
    batch_url = upload(official, xlsx_bytes([row(n) for n in range(1, 8)])).headers["Location"]
    sign_ins: list[int] = []

    def sign_in_meanwhile(_job: int, done: int, total: int) -> None:
        if 0 < done < total:
            sign_ins.append(elsewhere(lambda: login(busy_app.test_client(), "hue@so.gov.vn").status_code))

    job_service.FAULT = sign_in_meanwhile
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    job_service.FAULT = None
    assert sign_ins and set(sign_ins) == {302}, sign_ins
    job = _last_job(busy_app)
    assert (job.state, job.result and job.result["created"]) == ("done", 7)
    # Revealed whole: every row public and found by search at once.
    found = busy_app.test_client().get("/api/v1/products?q=Shan+tuyết+thử+nghiệm").get_json()
    assert sorted(item["name"] for item in found["items"]) == sorted(
        f"Chè Shan tuyết thử nghiệm {n}" for n in range(1, 8)
    )


def test_a_write_made_while_the_rows_are_worked_out_is_kept_and_matched(busy_app: Flask, fault: None) -> None:
    """The other write lands between working out and revealing: the rows are worked out again."""
    official = signed_in(busy_app, "laocai@so.gov.vn", "province", "Lào Cai")
    batch_url = upload(official, xlsx_bytes([row(n) for n in range(1, 4)])).headers["Location"]
    with _session(busy_app) as s:
        before = s.exec(select(func.count()).select_from(Producer)).one()
    made: list[int] = []
    seen: list[int] = []

    def another_office_writes(_job: int, done: int, total: int) -> None:
        # Once, in the publish's row phase, after row 2 is worked out (the check reports by
        # hundreds): the same office, in another tab, creates the producer row 2 names.
        seen.append(done)
        if not made and done == 2:
            made.append(elsewhere(make_producer))

    def make_producer() -> int:
        with busy_app.app_context(), _session(busy_app) as s:
            user = s.exec(select(User).where(User.email == "laocai@so.gov.vn")).one()
            province = s.exec(
                select(Province).where(Province.short_name == "Lào Cai", col(Province.valid_to).is_(None))
            ).one()
            producer = editing.save_producer(
                s, actor=user, producer=None,
                values={"name": "HTX Thử nghiệm 2", "province_id": province.id},
            )  # fmt: skip
            s.commit()
            return int(producer.id or 0)

    job_service.FAULT = another_office_writes
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    job_service.FAULT = None
    assert made, f"the concurrent write did not happen: {seen}"
    job = _last_job(busy_app)
    assert job.state == "done", job.message
    with _session(busy_app) as s:
        # Three producers, not four: row 2 found the producer made meanwhile instead of a twin.
        assert s.exec(select(func.count()).select_from(Producer)).one() == before + 3
        named = s.exec(select(Producer).where(Producer.name == "HTX Thử nghiệm 2")).all()
        assert [p.id for p in named] == made
        product = s.exec(select(Product).where(Product.name == "Chè Shan tuyết thử nghiệm 2")).one()
        assert product.producer_id == made[0]
        numbers = s.exec(select(Certificate.number).where(col(Certificate.number).like("TEST-%"))).all()
        assert sorted(numbers) == [f"TEST-{n:05d}/GCN-SCT" for n in range(1, 4)]


#: Columns that differ between two publishes of the same rows whatever the method.
_VOLATILE = {"at", "created_at", "updated_at", "recorded_at", "processed_at", "published_at", "verify_code"}


def _records(app: Flask) -> dict[str, list[dict[str, Any]]]:
    tables = ("producer", "product", "selection_round", "certificate", "certificate_event",
              "audit_entry", "search_outbox", "import_batch")  # fmt: skip
    with app.app_context(), get_engine().connect() as conn:
        return {
            table: [
                {k: v for k, v in r.items() if k not in _VOLATILE}
                for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings()
            ]
            for table in tables
        }


def _publish_directly(app: Flask, data: bytes, staged: bool) -> None:
    with app.test_request_context("/"), Session(get_engine(), expire_on_commit=False) as s:
        user = s.exec(select(User).where(User.email == "laocai@so.gov.vn")).one()
        batch, report = importing.stage_batch(s, actor=user, filename="qd.xlsx", data=data)
        assert batch is not None and report.ok, report.problems()
        s.commit()
        publishing.publish_batch(s, actor=user, batch=batch, staged=staged)
        s.commit()


def test_a_staged_publish_writes_exactly_what_a_row_by_row_publish_writes(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of one batch that name each other's new records: one producer for two products, one
    product certified twice (in two new rounds), rows sharing a new round, a product described twice."""
    rows = [
        row(1),
        row(2, producer="HTX Thử nghiệm 1"),
        row(3, product="Chè Shan tuyết thử nghiệm 1", producer="HTX Thử nghiệm 1", year="2024",
            issued="02/02/2024"),
        row(4),
        row(5, product="Chè Shan tuyết thử nghiệm 4", producer="HTX Thử nghiệm 4", year="2023",
            issued="03/03/2023", description="Mô tả bổ sung"),
        row(6, producer="HTX Thử nghiệm 2", locality="Xã Khác"),
    ]  # fmt: skip
    data = xlsx_bytes(rows)  # once: openpyxl stamps the second it saves into the file (and its hash)
    outcomes = []
    for staged in (True, False):
        if not staged:  # the oracle: every question asked of the database after every row
            monkeypatch.setattr(matching, "follow_writes", lambda _session: None)
        app = make_app(seeded=True, SQLITE_BUSY_SECONDS=0.3)
        make_user(app, "laocai@so.gov.vn", "province", "Lào Cai")
        _publish_directly(app, data, staged)
        outcomes.append(_records(app))
    staged_records, row_by_row = outcomes
    assert staged_records == row_by_row
    named = [p for p in staged_records["producer"] if str(p["name"]).startswith("HTX Thử nghiệm")]
    assert sorted(p["name"] for p in named) == ["HTX Thử nghiệm 1", "HTX Thử nghiệm 2", "HTX Thử nghiệm 4"]


def test_a_registry_too_busy_to_stage_is_published_holding_the_lock(busy_app: Flask, fault: None) -> None:
    """Another write in every attempt: the last attempt takes the lock first and cannot be overtaken."""
    official = signed_in(busy_app, "laocai@so.gov.vn", "province", "Lào Cai")
    batch_url = upload(official, xlsx_bytes([row(n) for n in range(1, 4)])).headers["Location"]
    writes: list[str] = []

    def another_write(_job: int, done: int, _total: int) -> None:
        if done != 2:
            return

        def make_producer() -> str:
            with busy_app.app_context(), _session(busy_app) as s:
                user = s.exec(select(User).where(User.email == "laocai@so.gov.vn")).one()
                try:
                    editing.save_producer(
                        s, actor=user, producer=None,
                        values={"name": f"HTX Khác {len(writes)}", "province_id": user.province_id},
                    )  # fmt: skip
                    s.commit()
                except OperationalError:
                    return "locked out"
                return "written"

        writes.append(elsewhere(make_producer))

    job_service.FAULT = another_write
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    job_service.FAULT = None
    assert writes == ["written"] * (publishing.STAGE_ATTEMPTS - 1) + ["locked out"]
    job = _last_job(busy_app)
    assert (job.state, job.result and job.result["created"]) == ("done", 3)
    with _session(busy_app) as s:
        names = s.exec(select(Producer.name).where(col(Producer.name).like("HTX Khác %"))).all()
        assert sorted(names) == [f"HTX Khác {n}" for n in range(publishing.STAGE_ATTEMPTS - 1)]
