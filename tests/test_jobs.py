"""Long work runs as background jobs whose state lives in the ``job`` table (issue 13, item 2).

The tests run Huey in immediate mode (jobs run inline when queued); a consumer
killed with ``-9`` is simulated by :data:`catalogue.jobs.job_service.FAULT` raising
:class:`~catalogue.jobs.job_service.Killed` part-way, which skips every line of the
job's own bookkeeping, as a killed process would.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, func, select

from catalogue.audit.models import OutboxEvent
from catalogue.db import get_engine
from catalogue.imports import views as admin
from catalogue.jobs import service as job_service
from catalogue.jobs.models import Job
from catalogue.registry.models import Certificate, ImportBatch, Product
from tests.fixtures.workspace import post, row, signed_in, upload, xlsx_bytes


@pytest.fixture
def official(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")


@pytest.fixture
def no_fault() -> Iterator[None]:
    yield
    job_service.FAULT = None


def _session(app: Flask) -> Session:
    return Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False)


def _count(app: Flask, model: type) -> int:
    with _session(app) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _jobs(app: Flask) -> list[Job]:
    with _session(app) as s:
        return list(s.exec(select(Job).order_by(Job.id)).all())  # type: ignore[arg-type]


def test_upload_is_checked_by_a_job_whose_result_survives_a_reload(
    seeded_app: Flask, official: FlaskClient
) -> None:
    official.get("/lang/en?next=/admin/")  # the job's messages are kept in its starter's language
    response = upload(official, xlsx_bytes([row(1), row(2)]))
    assert response.status_code == 302
    (job,) = _jobs(seeded_app)
    assert (job.kind, job.state, job.done) == ("dry_run", "done", 2)
    assert response.headers["Location"].endswith(f"/admin/imports/{job.batch_id}")
    for _ in range(2):  # a reload shows the same finished job
        page = official.get(f"/admin/jobs/{job.id}?lang=en").get_data(as_text=True)
        assert "finished" in page and "All 2 rows are correct." in page
        assert f"/admin/imports/{job.batch_id}" in page
    status = official.get(f"/admin/jobs/{job.id}.json").get_json()
    assert status["state"] == "done" and status["finished"] and status["done"] == 2
    assert f"/admin/jobs/{job.id}" in official.get("/admin/imports").get_data(as_text=True)


def test_a_large_upload_shows_its_stored_dry_run_instead_of_checking_again(
    seeded_app: Flask, official: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin, "RECHECK_ROWS", 1)
    batch_url = upload(official, xlsx_bytes([row(1), row(2, province="Huế")])).headers["Location"]

    def no_recheck(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a large upload must not be checked again inside the request")

    monkeypatch.setattr(admin.importing, "check_batch", no_recheck)
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "1 of 2 rows have problems" in page
    # Stored in the uploader's language (Vietnamese here): the message names both provinces.
    assert "Huế" in page and "Lào Cai" in page


def test_publishing_runs_as_a_job_and_the_upload_page_shows_its_result(
    seeded_app: Flask, official: FlaskClient
) -> None:
    batch_url = upload(official, xlsx_bytes([row(1), row(2)])).headers["Location"]
    response = post(
        official, batch_url + "/publish?lang=en", {"decision_number": "45/QĐ-UBND"}, token_from=batch_url
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(batch_url)
    publish_job = _jobs(seeded_app)[-1]
    assert (publish_job.kind, publish_job.state, publish_job.result) == (
        "publish", "done", {"batch_id": publish_job.batch_id, "created": 2, "updated": 0, "unchanged": 0},
    )  # fmt: skip
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "Published: 2 new, 0 updated, 0 unchanged." in page
    assert "TEST-00002/GCN-SCT" in page


def test_a_killed_publish_writes_nothing_shows_retry_and_retry_publishes_all(
    seeded_app: Flask, official: FlaskClient, no_fault: None
) -> None:
    before = {m: _count(seeded_app, m) for m in (Product, Certificate, OutboxEvent)}
    batch_url = upload(official, xlsx_bytes([row(n) for n in range(1, 6)])).headers["Location"]

    def kill(_job_id: int, done: int, _total: int) -> None:
        if done == 3:
            raise job_service.Killed

    job_service.FAULT = kill
    with pytest.raises(job_service.Killed):
        post(official, batch_url + "/publish", {}, token_from=batch_url)
    job_service.FAULT = None
    assert {m: _count(seeded_app, m) for m in before} == before
    job = _jobs(seeded_app)[-1]
    assert (job.kind, job.state) == ("publish", "running")
    with _session(seeded_app) as s:
        assert s.exec(select(ImportBatch.state)).one() == "pending"

    # While its heartbeat is fresh the job is running: no second publish, no Retry.
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "running" in page and "Retry" not in page and "Publish 5 rows" not in page
    # It refreshes itself: a script file polls the JSON, or a meta refresh without scripts (no inline script).
    assert 'http-equiv="refresh"' in page and "js/jobs.js" in page and "<script>" not in page

    with time_machine.travel(timedelta(minutes=5)):
        page = official.get(batch_url + "?lang=en").get_data(as_text=True)
        assert "interrupted" in page and "Retry" in page
        assert official.get(f"/admin/jobs/{job.id}.json").get_json()["state"] == "interrupted"
        response = post(official, f"/admin/jobs/{job.id}/retry", {}, token_from=f"/admin/jobs/{job.id}")
        assert response.status_code == 302
    assert _count(seeded_app, Certificate) == before[Certificate] + 5
    with _session(seeded_app) as s:
        again = s.get(Job, job.id)
        assert again is not None and (again.state, again.attempts) == ("done", 1)
        assert s.exec(select(ImportBatch.state)).one() == "published"


def test_a_failed_publish_says_nothing_was_published(
    seeded_app: Flask, official: FlaskClient, no_fault: None
) -> None:
    batch_url = upload(official, xlsx_bytes([row(1), row(2)])).headers["Location"]

    def crash(_job_id: int, done: int, _total: int) -> None:
        if done == 1:
            raise RuntimeError("disk full")

    job_service.FAULT = crash
    post(official, batch_url + "/publish?lang=en", {}, token_from=batch_url)
    job_service.FAULT = None
    page = official.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "nothing was published" in page and "Retry" in page
    assert _jobs(seeded_app)[-1].state == "failed"


def test_another_provinces_official_can_neither_see_nor_retry_a_job(
    seeded_app: Flask, official: FlaskClient, no_fault: None
) -> None:
    batch_url = upload(official, xlsx_bytes([row(1)])).headers["Location"]
    job_service.FAULT = lambda _j, _d, _t: (_ for _ in ()).throw(RuntimeError("boom"))
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    job_service.FAULT = None
    job = _jobs(seeded_app)[-1]
    assert job.state == "failed"
    other = signed_in(seeded_app, "danang@so.gov.vn", "province", "Đà Nẵng")
    assert other.get(f"/admin/jobs/{job.id}").status_code == 403
    assert other.get(f"/admin/jobs/{job.id}.json").status_code == 403
    response = post(other, f"/admin/jobs/{job.id}/retry", {}, token_from="/admin/imports")
    assert response.status_code == 403
    assert not re.search(rf"/admin/jobs/{job.id}\b", other.get("/admin/imports").get_data(as_text=True))
    assert _jobs(seeded_app)[-1].state == "failed" and _count(seeded_app, Certificate) == _count(
        seeded_app, Certificate
    )


def test_a_large_batchs_qr_zip_is_built_by_a_job_and_downloaded_from_its_page(
    seeded_app: Flask, official: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalogue.verification import exports

    batch_url = upload(official, xlsx_bytes([row(1), row(2)])).headers["Location"]
    post(official, batch_url + "/publish", {}, token_from=batch_url)
    monkeypatch.setattr(exports, "INLINE_QR_CODES", 1)
    response = official.get(batch_url + "/qr.zip?lang=en")
    assert response.status_code == 302
    job_url = response.headers["Location"]
    page = official.get(job_url + "?lang=en").get_data(as_text=True)
    assert "The zip of 2 QR codes is ready." in page
    download = re.search(r'href="(/admin/jobs/\d+/download)"', page)
    assert download is not None
    archive = zipfile.ZipFile(io.BytesIO(official.get(download.group(1)).data))
    assert sorted(n.split("-")[1] for n in archive.namelist()) == ["00001_GCN", "00002_GCN"]

    # A week on, making another zip clears the old one; its link says what to do instead of failing.
    with time_machine.travel(timedelta(days=8)):
        again = official.get(batch_url + "/qr.zip?lang=en")
        assert again.status_code == 302 and again.headers["Location"] != job_url
        gone = official.get(download.group(1) + "?lang=en")
        assert gone.status_code == 410 and "make the QR zip again" in gone.get_data(as_text=True)
        fresh = official.get(again.headers["Location"] + "/download")
        assert fresh.status_code == 200 and zipfile.ZipFile(io.BytesIO(fresh.data)).namelist()


def test_a_job_the_queue_lost_is_shown_interrupted_and_can_be_retried(
    seeded_app: Flask, official: FlaskClient
) -> None:
    """The row was committed but its queue entry is gone (queue file or Redis wiped)."""
    from catalogue.accounts.models import User
    from catalogue.jobs import service

    batch_url = upload(official, xlsx_bytes([row(n) for n in range(1, 4)])).headers["Location"]
    before = _count(seeded_app, Certificate)
    with seeded_app.test_request_context(), _session(seeded_app) as s:
        user = s.exec(select(User).where(User.email == "laocai@so.gov.vn")).one()
        batch = s.exec(select(ImportBatch)).one()
        job = service.create(s, kind="publish", actor=user, province_id=batch.province_id, batch_id=batch.id,
                             params={"decision_number": None, "decision_date": None})  # fmt: skip
        s.commit()  # ... and never reaches the queue
        job_id = job.id
    page = official.get(f"/admin/jobs/{job_id}?lang=en").get_data(as_text=True)
    assert "waiting to start" in page and "Retry" not in page  # just queued: waiting is normal
    with time_machine.travel(timedelta(minutes=5)):
        assert official.get(f"/admin/jobs/{job_id}.json").get_json()["state"] == "interrupted"
        page = official.get(batch_url + "?lang=en").get_data(as_text=True)
        assert "interrupted" in page and "Retry" in page
        response = post(official, f"/admin/jobs/{job_id}/retry", {}, token_from=f"/admin/jobs/{job_id}")
        assert response.status_code == 302
    assert _count(seeded_app, Certificate) == before + 3


def test_a_refused_file_reads_as_a_refusal_on_its_job_page(seeded_app: Flask, official: FlaskClient) -> None:
    """With a worker, the upload lands on the job page: a file that cannot be read must say so plainly."""
    official.get("/lang/en?next=/admin/")  # the job's messages are kept in its starter's language
    response = upload(official, b"PK\x03\x04 not really a workbook", filename="hong.xlsx")
    assert response.status_code == 400  # jobs run inline here: the upload page shows it at once
    (job,) = _jobs(seeded_app)
    page = official.get(f"/admin/jobs/{job.id}?lang=en").get_data(as_text=True)
    assert re.search(r'<p class="error">[^<]*damaged', page)
    assert "Upload a corrected file" in page and 'href="/admin/imports"' in page and "Retry" not in page


def test_a_jobs_page_speaks_the_viewers_language_and_its_title_says_what_it_did(
    seeded_app: Flask, official: FlaskClient
) -> None:
    official.get("/lang/en?next=/admin/")  # started in English…
    batch_url = upload(official, xlsx_bytes([row(1), row(2)])).headers["Location"]
    post(official, batch_url + "/publish", {"decision_number": "45/QĐ-UBND"}, token_from=batch_url)
    check, publish = _jobs(seeded_app)[-2:]
    english = official.get(f"/admin/jobs/{publish.id}").get_data(as_text=True)
    assert "<h1>Published</h1>" in english and "Published: 2 new, 0 updated, 0 unchanged." in english
    official.get("/lang/vi?next=/admin/")  # …read by a colleague in Vietnamese
    vietnamese = official.get(f"/admin/jobs/{publish.id}").get_data(as_text=True)
    assert "<h1>Đã công bố</h1>" in vietnamese
    assert "Đã công bố: 2 mới, 0 cập nhật, 0 không thay đổi." in vietnamese
    assert "Published: 2 new" not in vietnamese
    assert "Cả 2 dòng đều đúng." in official.get(f"/admin/jobs/{check.id}").get_data(as_text=True)
    assert official.get(f"/admin/jobs/{check.id}.json").get_json()["message"] == "Cả 2 dòng đều đúng."


def test_only_a_singular_message_is_kept_portable(seeded_app: Flask) -> None:
    from flask_babel import lazy_gettext, lazy_ngettext

    from catalogue.jobs import messages

    with seeded_app.test_request_context("/?lang=vi"):
        kept = messages.portable(lazy_gettext("%(n)d photos attached.", n=3))
        assert kept == {"msgid": "%(n)d photos attached.", "params": {"n": 3}}
        assert messages.portable(lazy_ngettext("%(num)d row", "%(num)d rows", 2)) is None
        assert messages.portable("Đã gắn 3 ảnh.") is None  # worded by a service: shown as stored


def test_a_job_finishes_in_a_worker_that_has_no_request(seeded_app: Flask) -> None:
    """The queue's consumer runs jobs in an app context only: its messages are worded there."""
    from catalogue.accounts.permissions import SYSTEM
    from catalogue.jobs import runner

    with seeded_app.app_context():
        with _session(seeded_app) as s:
            job_id = job_service.create(s, kind="rebuild", actor=SYSTEM, province_id=None, locale="vi").id
            s.commit()
        runner.run(seeded_app, int(job_id or 0))
    with _session(seeded_app) as s:
        job = s.get(Job, job_id)
        assert job is not None
        assert (job.state, job.message) == ("done", "Đã dựng lại chỉ mục tìm kiếm.")
        assert job.text == {"msgid": "The search index was rebuilt.", "params": {}}


def test_a_job_interrupted_in_a_phase_names_it_in_the_readers_language(
    seeded_app: Flask, official: FlaskClient
) -> None:
    upload(official, xlsx_bytes([row(1)]))
    (job,) = _jobs(seeded_app)
    with _session(seeded_app) as s:  # as a killed worker leaves it: running, in a phase, long silent
        stopped = s.get(Job, job.id)
        assert stopped is not None
        stopped.state, stopped.text = "running", None
        stopped.message = "Checking every row again…"
        s.add(stopped)
        s.commit()
    with time_machine.travel(timedelta(minutes=5)):  # and silent since
        status = official.get(f"/admin/jobs/{job.id}.json?lang=vi").get_json()
    assert status["state"] == "interrupted"
    assert status["message"] == "Đang kiểm tra lại từng dòng…"


def test_the_ministry_sees_a_provinces_batch_checked_as_its_office_would_publish_it(
    seeded_app: Flask, official: FlaskClient
) -> None:
    batch_url = upload(official, xlsx_bytes([row(1), row(2)])).headers["Location"]
    ministry = signed_in(seeded_app, "cuc@moit.gov.vn", "ministry")
    page = ministry.get(batch_url + "?lang=en").get_data(as_text=True)
    assert "are published by the provincial office" not in page
    assert "All 2 rows are correct" in page
