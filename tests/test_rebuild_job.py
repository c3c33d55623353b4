"""A full search rebuild queued as a job: the ministry's button and ``search rebuild --background``.

Huey runs in immediate mode here, so a queued job has run by the time the request
(or command) returns; a job "still running" is a row put in that state by the test.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from catalogue.clock import utcnow
from catalogue.db import get_engine
from catalogue.jobs.models import Job
from catalogue.search import building
from catalogue.search.index import current_name
from tests import seeddata
from tests.fixtures.workspace import csrf_token, make_user, post, signed_in

MINISTRY = "cuc@moit.gov.vn"


@pytest.fixture
def ministry(seeded_app: Flask) -> FlaskClient:
    return signed_in(seeded_app, MINISTRY, "ministry")


def _rebuilds(app: Flask) -> list[Job]:
    with Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False) as s:
        return list(s.exec(select(Job).where(col(Job.kind) == "rebuild").order_by(col(Job.id))).all())


def _add_job(app: Flask, **values: object) -> int:
    with Session(get_engine(app.config["SQLALCHEMY_URL"]), expire_on_commit=False) as s:
        job = Job(kind="rebuild", **values)  # type: ignore[arg-type]
        s.add(job)
        s.commit()
        assert job.id is not None
        return job.id


def test_a_ministry_official_rebuilds_the_index_from_the_workspace_and_watches_its_job(
    seeded_app: Flask, ministry: FlaskClient
) -> None:
    root = Path(seeded_app.config["INDEX_DIR"])
    live = current_name(root)
    ministry.get("/lang/en?next=/admin/")
    home = ministry.get("/admin/").get_data(as_text=True)
    assert "Search index" in home and 'action="/admin/jobs/search-rebuild"' in home
    response = post(ministry, "/admin/jobs/search-rebuild")
    assert response.status_code == 302
    (job,) = _rebuilds(seeded_app)
    assert response.headers["Location"].endswith(f"/admin/jobs/{job.id}")
    # It ran (immediate mode) through the node's build lock and reported its progress.
    assert (job.state, job.done, job.total) == ("done", seeddata.products(), seeddata.products())
    assert job.result == {"documents": seeddata.products()} and job.province_id is None
    assert current_name(root) != live  # a fresh build was swapped in
    page = ministry.get(f"/admin/jobs/{job.id}").get_data(as_text=True)
    assert "Rebuilding the search index" in page and "The search index was rebuilt." in page
    # The home page now names the last rebuild and offers the button again.
    home = ministry.get("/admin/").get_data(as_text=True)
    assert f"/admin/jobs/{job.id}" in home and 'action="/admin/jobs/search-rebuild"' in home


def test_a_second_rebuild_is_refused_while_one_is_waiting_or_running(
    seeded_app: Flask, ministry: FlaskClient
) -> None:
    ministry.get("/lang/en?next=/admin/")
    running = _add_job(seeded_app, state="running", heartbeat_at=utcnow(), done=3, total=10)
    home = ministry.get("/admin/").get_data(as_text=True)
    assert 'action="/admin/jobs/search-rebuild"' not in home  # the running job shows instead
    assert f"/admin/jobs/{running}" in home and "3 of 10 products" in home
    response = post(ministry, "/admin/jobs/search-rebuild", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == f"/admin/jobs/{running}"
    assert f"A rebuild of the search index is already under way (job #{running})" in page
    assert [j.id for j in _rebuilds(seeded_app)] == [running]  # nothing new queued


def test_an_interrupted_rebuild_does_not_block_a_new_one(seeded_app: Flask, ministry: FlaskClient) -> None:
    stale = _add_job(seeded_app, state="running")  # no heartbeat: its worker died
    response = post(ministry, "/admin/jobs/search-rebuild")
    assert response.status_code == 302
    jobs = _rebuilds(seeded_app)
    assert [j.id for j in jobs][0] == stale and len(jobs) == 2 and jobs[1].state == "done"


def test_only_ministry_officials_may_rebuild_and_only_with_the_form_token(
    seeded_app: Flask, ministry: FlaskClient
) -> None:
    province = signed_in(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    assert 'action="/admin/jobs/search-rebuild"' not in province.get("/admin/").get_data(as_text=True)
    assert post(province, "/admin/jobs/search-rebuild").status_code == 403
    anonymous = seeded_app.test_client()
    token = csrf_token(anonymous)
    response = anonymous.post("/admin/jobs/search-rebuild", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert ministry.post("/admin/jobs/search-rebuild", data={}).status_code == 400  # no CSRF token
    assert _rebuilds(seeded_app) == []
    # A provincial official cannot open a ministry rebuild's page either.
    post(ministry, "/admin/jobs/search-rebuild")
    (job,) = _rebuilds(seeded_app)
    assert province.get(f"/admin/jobs/{job.id}").status_code == 403


def test_the_rebuild_job_waits_its_turn_behind_a_running_build(
    seeded_app: Flask, ministry: FlaskClient
) -> None:
    """Same lock as ``flask search rebuild``: one build per node; the job says so and changes nothing."""
    root = Path(seeded_app.config["INDEX_DIR"])
    live = current_name(root)
    fd = building._try_lock(root)
    assert fd is not None
    try:
        ministry.get("/lang/en?next=/admin/")
        post(ministry, "/admin/jobs/search-rebuild")
    finally:
        os.close(fd)
    (job,) = _rebuilds(seeded_app)
    assert job.state == "failed" and "Another build of the search index is running" in str(job.message)
    assert current_name(root) == live
    page = ministry.get(f"/admin/jobs/{job.id}").get_data(as_text=True)
    assert "Another build of the search index is running" in page and "Retry" in page


def test_the_command_queues_the_same_job_and_says_how_to_follow_it(seeded_app: Flask) -> None:
    root = Path(seeded_app.config["INDEX_DIR"])
    live = current_name(root)
    result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild", "--background"])
    assert result.exit_code == 0, result.output
    (job,) = _rebuilds(seeded_app)
    assert f"as job {job.id}" in result.output
    assert f"http://registry.test/admin/jobs/{job.id}" in result.output
    assert f"flask --app catalogue jobs show {job.id}" in result.output
    assert job.actor_id is None and job.state == "done" and job.done == seeddata.products()
    assert current_name(root) != live
    shown = seeded_app.test_cli_runner().invoke(args=["jobs", "show", str(job.id)])
    assert shown.exit_code == 0 and re.search(rf"job {job.id}: .*finished", shown.output), shown.output
    assert job.message == "Đã dựng lại chỉ mục tìm kiếm."  # worded in the site's language (Vietnamese)…
    assert "The search index was rebuilt." in shown.output  # …and shown in the reader's (the shell's)
    # The plain command still builds in the foreground.
    plain = seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert plain.exit_code == 0 and f"Indexed {seeddata.products()} products" in plain.output
    assert len(_rebuilds(seeded_app)) == 1


def test_the_command_records_the_official_named_by_by(seeded_app: Flask) -> None:
    runner = seeded_app.test_cli_runner()
    unknown = runner.invoke(args=["search", "rebuild", "--background", "--by", "nobody@moit.gov.vn"])
    assert unknown.exit_code == 1 and "No account with the e-mail" in unknown.output
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    refused = runner.invoke(args=["search", "rebuild", "--background", "--by", "laocai@so.gov.vn"])
    assert refused.exit_code == 1 and "only an active ministry official" in refused.output
    assert _rebuilds(seeded_app) == []
    not_background = runner.invoke(args=["search", "rebuild", "--by", MINISTRY])
    assert not_background.exit_code == 2 and "--by goes with --background" in not_background.output
    user = make_user(seeded_app, MINISTRY, "ministry")
    done = runner.invoke(args=["search", "rebuild", "--background", "--by", MINISTRY.upper()])
    assert done.exit_code == 0, done.output
    (job,) = _rebuilds(seeded_app)
    assert job.actor_id == user and job.state == "done"


def test_the_command_refuses_while_a_rebuild_job_is_active(seeded_app: Flask) -> None:
    waiting = _add_job(seeded_app)  # queued just now
    result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild", "--background"])
    assert result.exit_code == 1
    assert f"A rebuild of the search index is already under way (job #{waiting})" in result.output
    assert [j.id for j in _rebuilds(seeded_app)] == [waiting]
