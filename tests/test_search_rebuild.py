"""Index builds never run inside a request (issue 13, item 3).

No index yet: search, the API and CSV answer 503 with the build's progress and
``Retry-After`` while every other page works. A damaged index: the previous
build keeps answering while a fresh one is built in the background. Each build
saves its filter tables, so a new process need not read every document. The
outbox cursor of each build never skips rows committed out of id order.
Builds are paused with :data:`catalogue.search.building.HOOK`, never timed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from catalogue.audit.models import OutboxEvent
from catalogue.db import get_engine, get_session
from catalogue.registry.models import Product
from catalogue.search import building, builds, cursor, documents, drain, outbox
from catalogue.search.facets import _Segment
from catalogue.search.index import CURSOR, current_name, previous_name
from catalogue.search.reader import reader_for
from tests import seeddata
from tests.conftest import PausedBuild
from tests.test_search_sync import publish, total


def index_root(app: Flask) -> Path:
    return Path(app.config["INDEX_DIR"])


def first_code(app: Flask) -> str:
    with app.app_context():
        from sqlalchemy import text

        return str(get_session().connection().execute(text("SELECT verify_code FROM certificate LIMIT 1"))
                   .scalar_one())  # fmt: skip


def test_no_index_answers_503_with_progress_while_every_other_page_works(
    seeded_app: Flask, paused_build: PausedBuild
) -> None:
    import shutil

    root = index_root(seeded_app)
    code = first_code(seeded_app)
    shutil.rmtree(root)
    client = seeded_app.test_client()
    page = client.get("/search?q=nuoc+mam&lang=en")
    assert paused_build.reached.wait(30)
    assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    assert "Search is being prepared" in page.get_data(as_text=True)
    api = client.get("/api/v1/products?q=nuoc+mam")
    assert api.status_code == 503 and "Retry-After" in api.headers
    assert api.get_json()["building"] == {"done": 0, "total": seeddata.products()}
    text = client.get("/search?q=nuoc+mam&lang=en").get_data(as_text=True)
    assert f"0 of {seeddata.products()} products" in text
    assert client.get("/api/v1/products.csv").status_code == 503
    assert client.get("/search?lang=vi").status_code == 503
    # Everything else works while the index is built.
    assert client.get("/").status_code == 200
    assert client.get(f"/v/{code}").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_data(as_text=True).startswith("ok; search index building")
    paused_build.release.set()
    building.wait(root)
    assert client.get("/api/v1/products?status=all").get_json()["total"] == seeddata.products()
    assert client.get("/healthz").get_data(as_text=True) == "ok"


def _corrupt(root: Path, name: str) -> None:
    for path in (root / name).iterdir():
        if path.suffix in (".toc", ".seg"):
            path.write_bytes(b"garbage")


def test_damaged_index_keeps_answering_from_the_previous_build_while_rebuilding(
    seeded_app: Flask, paused_build: PausedBuild
) -> None:
    root = index_root(seeded_app)
    paused_build.release.set()  # the CLI rebuild below runs unpaused
    result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    old = previous_name(root)
    assert old and old != current_name(root)
    nuoc_mam = total(seeded_app, "nuoc mam")
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, "Mắm ruốc qqprev", "PREV-1")
        session.commit()
    assert total(seeded_app, "qqprev") == 1
    paused_build.release.clear()
    damaged = str(current_name(root))
    _corrupt(root, damaged)
    reader_for(root).reset()  # as a process starting now
    assert total(seeded_app, "nuoc mam") == nuoc_mam > 0  # answered from the previous build
    assert paused_build.reached.wait(30)  # while a fresh one is built in the background
    assert total(seeded_app, "qqprev") == 1  # the previous build caught up from its own cursor
    assert current_name(root) == damaged
    paused_build.release.set()
    building.wait(root)
    assert current_name(root) not in (damaged, None)
    assert total(seeded_app, "qqprev") == 1 and total(seeded_app) == seeddata.products() + 1


def test_each_build_saves_its_facet_tables_and_a_new_process_loads_them(
    seeded_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = index_root(seeded_app)
    result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert list((root / str(current_name(root))).glob("facets-*.npz"))
    with seeded_app.test_request_context():
        from catalogue.search.params import SearchParams
        from catalogue.search.query import run

        before = run(SearchParams(statuses=())).facets
    reader_for(root).reset()  # as a fresh worker

    def no_reading(*_args: object) -> None:
        raise AssertionError("read every stored document instead of the saved tables")

    monkeypatch.setattr(_Segment, "read", classmethod(no_reading))
    with seeded_app.test_request_context():
        assert run(SearchParams(statuses=())).facets == before


def _max_outbox_id(session: Session) -> int:
    return int(session.exec(select(func.max(OutboxEvent.id))).one() or 0)


def test_cursor_never_skips_a_row_committed_out_of_id_order(seeded_app: Flask) -> None:
    """SQLite commits in id order, so a row with a lower id arriving late is simulated."""
    assert total(seeded_app, "qqlate") == 0
    engine = get_engine(seeded_app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:  # no app context: nothing drains these
        early = publish(session, "Bánh tráng qqlate sớm", "LATE-1")
        late = publish(session, "Bánh tráng qqlate muộn", "LATE-2")
        session.commit()
        session.exec(delete(OutboxEvent).where(col(OutboxEvent.product_id).in_([early, late])))
        high = _max_outbox_id(session)
        session.add(OutboxEvent(id=high + 2, product_id=early))
        session.commit()
    assert total(seeded_app, "qqlate") == 1  # row high+2 applied; high+1 not committed yet
    root = index_root(seeded_app)
    assert f'"high": {high + 2}' in (root / str(current_name(root)) / CURSOR).read_text()
    with Session(engine) as session:
        session.add(OutboxEvent(id=high + 1, product_id=late))  # the slower transaction commits now
        session.commit()
    assert total(seeded_app, "qqlate") == 2


def test_parallel_build_gives_the_same_answers(seeded_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--procs 2``: each process reads and indexes its share; the parts commit as one index."""

    with seeded_app.test_request_context():
        from catalogue.search.params import SearchParams
        from catalogue.search.query import run

        before = run(SearchParams(q="nuoc mam", statuses=()))
    monkeypatch.setattr(documents, "BATCH", 10)  # the seed is small: split it anyway
    result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild", "--procs", "2"])
    assert result.exit_code == 0, result.output
    assert f"Indexed {seeddata.products()} products" in result.output
    root = index_root(seeded_app)
    assert len(list((root / str(current_name(root))).glob("facets-*.npz"))) == 2  # one segment per process
    with seeded_app.test_request_context():
        after = run(SearchParams(q="nuoc mam", statuses=()))
    assert (after.total, after.facets) == (before.total, before.facets)
    assert sorted(after.ids) == sorted(before.ids)


def test_the_rebuild_command_waits_its_turn_behind_a_running_build(seeded_app: Flask) -> None:
    """One build per node: the command refuses clearly while the background builder holds the lock."""
    root = Path(seeded_app.config["INDEX_DIR"])
    live = current_name(root)
    fd = building._try_lock(root)  # a background build is running
    assert fd is not None
    try:
        result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    finally:
        os.close(fd)
    assert result.exit_code == 1 and "already running" in result.output
    assert current_name(root) == live  # nothing swapped
    done = seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert done.exit_code == 0 and current_name(root) != live


def test_a_rebuild_reapplies_nothing_its_cursor_covers(seeded_app: Flask) -> None:
    """Rows committed before a build began are in what it read: they only count as processed."""
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, "Mè xửng qqcovered đã áp dụng", "COVER-1")
        session.commit()  # drained into the live build when the request ends
    engine = get_engine(seeded_app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:  # no app context: nothing drains this one
        publish(session, "Mè xửng qqcovered đang chờ", "COVER-2")
        session.commit()
    report = builds.rebuild(index_root(seeded_app), engine)
    assert report.caught_up == 0
    assert outbox.pending_count(engine) == 0 and outbox.pending_count(engine, index_root(seeded_app)) == 0
    assert total(seeded_app, "qqcovered") == 2


def test_a_row_committed_below_the_gap_window_while_building_is_applied(
    seeded_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction holding an old id commits after the build read its product: applied after the build."""
    monkeypatch.setattr(cursor, "GAP_SCAN", 1)  # the held id lies below the window of possible gaps
    monkeypatch.setattr(documents, "BATCH", 1)  # the build reports after each product it read
    engine = get_engine(seeded_app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:
        first = session.exec(select(func.min(Product.id))).one()  # the build reads it first
        held = session.exec(select(func.min(OutboxEvent.id))).one()
        assert first is not None and held is not None and held < _max_outbox_id(session) - 1
        session.exec(delete(OutboxEvent).where(col(OutboxEvent.id) == held))  # as if still uncommitted
        session.commit()
    committed: list[int] = []

    def commit_late(done: int, _total: int) -> None:
        if done >= 1 and not committed:  # the build has read the first product: now the transaction commits
            with Session(engine) as session:
                product = session.get(Product, first)
                assert product is not None
                product.name = "Bánh phu thê qqheld"
                session.add(OutboxEvent(id=held, product_id=first))
                session.commit()
            committed.append(held)

    report = builds.rebuild(index_root(seeded_app), engine, commit_late)
    assert committed and report.caught_up == 1  # that row alone
    assert total(seeded_app, "qqheld") == 1
    assert outbox.pending_count(engine, index_root(seeded_app)) == 0


def test_pending_rows_are_those_past_the_cursor_or_in_its_gaps(seeded_app: Flask) -> None:
    """``search status`` and pending_count count by one rule: a gap that filled is pending."""
    engine = get_engine(seeded_app.config["SQLALCHEMY_URL"])
    root = index_root(seeded_app)
    with Session(engine) as session:
        early = publish(session, "Bánh ít qqgap sớm", "GAP-1")
        late = publish(session, "Bánh ít qqgap muộn", "GAP-2")
        session.commit()
        session.exec(delete(OutboxEvent).where(col(OutboxEvent.product_id).in_([early, late])))
        high = _max_outbox_id(session)
        session.add(OutboxEvent(id=high + 2, product_id=early))
        session.commit()
    assert total(seeded_app, "qqgap") == 1  # high + 1 is a gap of the cursor now
    assert outbox.pending_count(engine, root) == 0
    with Session(engine) as session:
        session.add(OutboxEvent(id=high + 1, product_id=late))
        session.commit()
    assert outbox.pending_count(engine, root) == 1
    status = drain.status(root, engine)
    assert status.pending == 1 and status.oldest_pending_age is not None
    assert total(seeded_app, "qqgap") == 2
    assert outbox.pending_count(engine, root) == 0 and drain.status(root, engine).pending == 0
    import shutil

    shutil.rmtree(root)  # without a build every row is pending
    with Session(engine) as session:
        everything = session.exec(select(func.count()).select_from(OutboxEvent)).one()
    assert outbox.pending_count(engine, root) == drain.status(root, engine).pending == everything


def test_the_503_page_shows_the_builds_percentage(seeded_app: Flask, paused_build: PausedBuild) -> None:
    import shutil

    root = index_root(seeded_app)
    shutil.rmtree(root)
    client = seeded_app.test_client()
    assert client.get("/search?lang=en").status_code == 503
    assert paused_build.reached.wait(30)
    building._write_progress(root, 1, 8)  # as the builder reports
    page = client.get("/search?lang=en")
    assert page.status_code == 503 and ">12%</progress>" in page.get_data(as_text=True)
    paused_build.release.set()
    building.wait(root)
