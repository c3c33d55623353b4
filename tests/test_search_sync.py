"""The index follows the database: outbox durability, rebuilds, corruption, concurrent drains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from catalogue import create_app
from catalogue.audit.models import OutboxEvent
from catalogue.config import PROJECT_ROOT
from catalogue.db import get_engine, get_session, make_engine
from catalogue.places.services import Provinces
from catalogue.registry.models import Product
from catalogue.registry.records import WriteContext, upsert_record
from catalogue.registry.rows import RecordInput
from catalogue.search import building, cursor, index, reader
from catalogue.search.drain import drain
from catalogue.search.index import current_name
from catalogue.search.outbox import pending_count
from catalogue.search.params import SearchParams
from catalogue.search.query import run
from catalogue.search.reader import IndexBuilding
from catalogue.vocab import Level, ProductGroup
from tests import seeddata
from tests.conftest import VERIFY_KEYS, base_overrides


def publish(
    session: Session, name: str, number: str, province: str = "Huế", producer: str = "HTX thử nghiệm"
) -> int:
    """Write one certified product through the real write path (no commit)."""
    provinces = Provinces.load(session)
    ctx = WriteContext(
        provinces=provinces, validity_years=3, verify_keys=dict(VERIFY_KEYS), verify_key_id="a"
    )
    result = upsert_record(session, RecordInput(
        product=name, producer=producer, province=provinces.match_current(province),  # type: ignore[arg-type]
        level=Level.TINH, year=2026, group=ProductGroup.KHAC, certificate_number=number,
    ), ctx)  # fmt: skip
    return result.product.id  # type: ignore[return-value]


def total(app: Flask, q: str = "", **kwargs: object) -> int:
    with app.test_request_context():
        return run(SearchParams(q=q, statuses=(), **kwargs)).total  # type: ignore[arg-type]


def data_dir(app: Flask) -> Path:
    return Path(app.config["CATALOGUE_DATA_DIR"])


def test_commit_in_a_request_is_searchable_when_the_request_ends(seeded_app: Flask) -> None:
    assert total(seeded_app, "zzqx") == 0
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, "Mứt gừng zzqx", "T-1")
        session.commit()
    assert pending_count(get_engine(seeded_app.config["SQLALCHEMY_URL"])) == 0
    assert total(seeded_app, "mut gung zzqx") == 1


def test_outbox_survives_a_crash_before_indexing(seeded_app: Flask) -> None:
    """Commit without any drain (as if the worker died), then start a new app: nothing is lost."""
    assert total(seeded_app) == seeddata.products()  # the index exists and is current
    engine = make_engine(seeded_app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:  # no app context: nobody drains
        publish(session, "Bánh đậu xanh sống sót", "T-2")
        session.commit()
    engine.dispose()
    assert pending_count(get_engine(seeded_app.config["SQLALCHEMY_URL"])) > 0
    restarted = create_app(base_overrides(data_dir(seeded_app)))
    assert total(restarted, "banh dau xanh song sot") == 1
    assert pending_count(get_engine(restarted.config["SQLALCHEMY_URL"])) == 0


def test_edit_replaces_the_document_and_counts_stay_right(seeded_app: Flask) -> None:
    before = total(seeded_app)
    with seeded_app.app_context():
        session = get_session()
        product = session.exec(select(Product).where(Product.name == "Gọi hè")).one()
        product.name = "Gọi hè gỗ mít"
        from catalogue.audit.services import enqueue_reindex

        enqueue_reindex(session, product.id)  # type: ignore[arg-type]
        session.commit()
    assert total(seeded_app, "go mit") == 1
    assert total(seeded_app) == before  # the replaced document is not counted twice
    with seeded_app.test_request_context():
        facets = run(SearchParams(statuses=())).facets
    assert sum(c for _, c in facets["group"]) <= before


def test_deleted_index_directory_is_rebuilt_with_nothing_lost(seeded_app: Flask) -> None:
    import shutil

    everything = total(seeded_app)
    kien_giang = total(seeded_app, "kien giang")
    shutil.rmtree(seeded_app.config["INDEX_DIR"])
    client = seeded_app.test_client()
    assert client.get("/api/v1/products").status_code in (200, 503)  # starts the background build
    building.wait(Path(seeded_app.config["INDEX_DIR"]))
    assert total(seeded_app) == everything == seeddata.products()
    assert total(seeded_app, "kien giang") == kien_giang


_SEARCHER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from catalogue import create_app
    from catalogue.search import building
    from catalogue.search.params import SearchParams
    from catalogue.search.query import run
    app = create_app({"ENV": "test", "CATALOGUE_DATA_DIR": sys.argv[1], "DATABASE_URL": sys.argv[2],
                      "SECRET_KEY": "x", "VERIFY_KEYS": json.loads(sys.argv[3]), "RATELIMIT_ENABLED": False,
                      "SEARCH_BUILD_IN": "process"})
    first = app.test_client().get("/api/v1/products?q=nuoc+mam&status=all")
    print(first.status_code, first.headers.get("Retry-After"))
    building.wait(Path(app.config["INDEX_DIR"]))
    with app.test_request_context():
        print(json.dumps({"total": run(SearchParams(q="nuoc mam", statuses=())).total}))
    print(app.test_client().get("/healthz").status_code)
""")


def test_corrupt_index_is_rebuilt_not_fatal(seeded_app: Flask) -> None:
    """A new process meets a damaged index and no previous build: 503 at once; a builder process fixes it."""
    expected = total(seeded_app, "nuoc mam")
    root = Path(seeded_app.config["INDEX_DIR"])
    live = root / str(current_name(root))
    damaged = 0
    for path in live.iterdir():
        if path.suffix in (".toc", ".seg", ".trm", ".pst"):
            path.write_bytes(b"garbage")
            damaged += 1
    assert damaged
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    url = seeded_app.config["DATABASE_URL"]  # this worker's database ("" for SQLite in the data folder)
    done = subprocess.run([sys.executable, "-W", "error", "-c", _SEARCHER, str(data_dir(seeded_app)), url,
                           json.dumps(VERIFY_KEYS)],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    status, retry = lines[-3].split()
    assert status == "503" and retry.isdigit()  # never a stall or a 500
    assert json.loads(lines[-2])["total"] == expected > 0  # a builder process rebuilt it from the database
    assert lines[-1] == "200"
    assert current_name(root) != live.name


def test_pointer_to_missing_build_is_rebuilt(seeded_app: Flask) -> None:
    root = Path(seeded_app.config["INDEX_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    (root / "CURRENT").write_text("gen-does-not-exist\n")
    (root / "PREVIOUS").unlink(missing_ok=True)
    assert seeded_app.test_client().get("/api/v1/products").status_code in (200, 503)
    building.wait(root)
    assert total(seeded_app) == seeddata.products()
    assert current_name(root) != "gen-does-not-exist"


def test_rebuild_command_swaps_in_a_fresh_directory(seeded_app: Flask) -> None:
    total(seeded_app)
    root = Path(seeded_app.config["INDEX_DIR"])
    before = current_name(root)
    result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"Indexed {seeddata.products()} products" in result.output
    after = current_name(root)
    assert after != before and (root / str(after)).is_dir()
    assert total(seeded_app, "nuoc mam") > 0  # the reader follows the swap


def test_rebuild_applies_pending_rows(seeded_app: Flask) -> None:
    engine = make_engine(seeded_app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:
        publish(session, "Kẹo dừa chờ xử lý", "T-3")
        session.commit()
    engine.dispose()
    result = seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert pending_count(get_engine(seeded_app.config["SQLALCHEMY_URL"])) == 0
    assert total(seeded_app, "keo dua cho xu ly") == 1


def test_status_command_reports_documents_and_pending(seeded_app: Flask) -> None:
    total(seeded_app)
    engine = make_engine(seeded_app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:
        publish(session, "Rượu cần đang chờ", "T-4")
        session.commit()
    engine.dispose()
    out = seeded_app.test_cli_runner().invoke(args=["search", "status"]).output
    assert f"documents: {seeddata.products()}" in out
    assert "pending outbox rows: 1" in out and "oldest" in out
    drained = seeded_app.test_cli_runner().invoke(args=["search", "drain"]).output
    assert "Applied 1 outbox rows" in drained
    assert "pending outbox rows: 0" in seeded_app.test_cli_runner().invoke(args=["search", "status"]).output


_DRAINER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from catalogue.db import make_engine
    from catalogue.search.drain import drain
    root, url = Path(sys.argv[1]), sys.argv[2]
    print(json.dumps({"done": drain(root, make_engine(url), timeout=60)}))
""")


def test_two_processes_draining_at_once_use_one_writer(seeded_app: Flask) -> None:
    total(seeded_app)
    url = seeded_app.config["SQLALCHEMY_URL"]
    engine = make_engine(url)
    with Session(engine) as session:
        for i in range(120):
            publish(session, f"Sản phẩm song song {i} qqpar", f"PAR-{i}")
        session.commit()
        unprocessed = select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))  # type: ignore[union-attr]
        pending = len(session.exec(unprocessed).all())
    engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-W", "error", "-c", _DRAINER, str(seeded_app.config["INDEX_DIR"]), url]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    done = [json.loads(out.strip().splitlines()[-1])["done"] for out, _ in outputs]
    assert sum(done) == pending  # every row applied exactly once, by whichever process held the lock
    assert pending_count(get_engine(url)) == 0
    assert total(seeded_app, "qqpar") == 120
    assert total(seeded_app) == seeddata.products() + 120


def test_healthz_checks_the_index(seeded_app: Flask) -> None:
    response = seeded_app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"


def test_empty_database_gives_an_empty_index(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    data = app.test_client().get("/api/v1/products").get_json()
    assert data["total"] == 0 and data["items"] == []


# ----------------------------------------------------------------------------- kill -9

_KILLED = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from catalogue import create_app
    from catalogue.db import get_engine
    from catalogue.search.builds import rebuild
    from catalogue.search.drain import drain
    app = create_app({"ENV": "test", "CATALOGUE_DATA_DIR": sys.argv[1], "DATABASE_URL": sys.argv[2],
                      "SECRET_KEY": "x", "VERIFY_KEYS": json.loads(sys.argv[3]), "RATELIMIT_ENABLED": False})
    with app.app_context():
        root = Path(app.config["INDEX_DIR"])
        drain(root, get_engine()) if sys.argv[4] == "drain" else rebuild(root, get_engine())
    print("not killed")
""")


def _killed_at(app: Flask, point: str, what: str) -> None:
    """Run a drain or rebuild in another process that SIGKILLs itself at ``point``."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "CATALOGUE_KILL_AT": point}
    args = [str(data_dir(app)), app.config["DATABASE_URL"], json.dumps(VERIFY_KEYS), what]
    done = subprocess.run([sys.executable, "-c", _KILLED, *args], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert done.returncode == -9, (done.returncode, done.stdout, done.stderr)  # killed, as kill -9 would


def _publish_three(app: Flask, word: str) -> None:
    engine = make_engine(app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:
        for i in range(3):
            publish(session, f"Sản phẩm {word} {i}", f"K9-{word}-{i}")
        session.commit()
    engine.dispose()


def test_a_drain_killed_after_writing_the_index_loses_and_doubles_nothing(seeded_app: Flask) -> None:
    everything = total(seeded_app)
    _publish_three(seeded_app, "qqkilldrain")
    _killed_at(seeded_app, "drain.applied", "drain")
    # The next search's drain applies the rows again: each product once, none lost.
    assert total(seeded_app, "qqkilldrain") == 3
    assert total(seeded_app) == everything + 3
    assert (
        pending_count(get_engine(seeded_app.config["SQLALCHEMY_URL"]), Path(seeded_app.config["INDEX_DIR"]))
        == 0
    )


def test_a_rebuild_killed_before_its_swap_leaves_the_old_index_answering(seeded_app: Flask) -> None:
    root = Path(seeded_app.config["INDEX_DIR"])
    live = current_name(root)
    everything = total(seeded_app)
    _killed_at(seeded_app, "rebuild.written", "rebuild")
    assert current_name(root) == live  # never swapped in
    assert total(seeded_app) == everything  # the old build answers as before
    _publish_three(seeded_app, "qqkillbuild")  # and keeps following the registry
    assert total(seeded_app, "qqkillbuild") == 3
    # The next rebuild swaps in cleanly and clears the killed build's directory.
    seeded_app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert current_name(root) != live and total(seeded_app) == everything + 3
    assert len(list(root.glob("gen-*"))) <= 2  # the new build and the previous one, nothing else


# ----------------------------------------------------------------------------- per-search cost


@contextmanager
def outbox_statements() -> Iterator[list[str]]:
    """The SQL statements (on any engine) that read or write the outbox, while the block runs."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "search_outbox" in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


@contextmanager
def cursor_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every ``cursor.json`` parsed (by a search's check or a drain), while the block runs."""
    reads: list[bytes] = []
    parse = cursor.Cursor.parse

    def counted(_cls: type[cursor.Cursor], raw: bytes) -> cursor.Cursor:
        reads.append(raw)
        return parse(raw)

    with monkeypatch.context() as patch:
        patch.setattr(cursor.Cursor, "parse", classmethod(counted))
        yield reads


def _write_undrained(app: Flask, name: str, number: str) -> None:
    """Commit a product as another node would: nothing in this app drains it."""
    engine = make_engine(app.config["SQLALCHEMY_URL"])
    with Session(engine) as session:
        publish(session, name, number)
        session.commit()
    engine.dispose()


def test_a_search_asks_the_outbox_once_and_reads_the_cursor_only_when_it_changed(
    seeded_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    total(seeded_app)  # this process has opened the index and read its cursor
    with cursor_reads(monkeypatch) as reads, outbox_statements() as asked:
        for _ in range(3):
            assert total(seeded_app, "nuoc mam") > 0
        assert reads == []  # the cursor file did not change: not read again
        assert len(asked) == 3  # one "anything new?" query per search
        assert not any("max(" in sql.lower() for sql in asked)
    _write_undrained(seeded_app, "Chè búp qqcached", "T-CACHE")
    with cursor_reads(monkeypatch) as reads:
        assert total(seeded_app, "qqcached") == 1  # the cached cursor still sees rows written elsewhere
        drained = len(reads)
        total(seeded_app)
        total(seeded_app)
        assert len(reads) == drained + 1  # the cursor the drain rewrote is read once, then cached


def test_healthz_catches_up_through_the_search_reader(seeded_app: Flask) -> None:
    total(seeded_app)
    _write_undrained(seeded_app, "Mật mía qqhealth", "T-HEALTH")
    engine = get_engine(seeded_app.config["SQLALCHEMY_URL"])
    root = Path(seeded_app.config["INDEX_DIR"])
    assert pending_count(engine, root) == 1
    response = seeded_app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"
    assert pending_count(engine, root) == 0  # the check that searches make, and their drain
    with outbox_statements() as asked:
        assert seeded_app.test_client().get("/healthz").status_code == 200
    assert len(asked) == 1  # nothing new: one query


def test_a_drain_opens_the_index_once(seeded_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    total(seeded_app)
    _publish_three(seeded_app, "qqonce")
    opened: list[str] = []
    open_dir = index.whoosh_index.open_dir

    def counted(folder: str, *args: object, **kwargs: object) -> object:
        opened.append(folder)
        return open_dir(folder, *args, **kwargs)

    monkeypatch.setattr(index.whoosh_index, "open_dir", counted)
    assert total(seeded_app, "qqonce") == 3  # the search found the cursor behind and drained
    assert len(opened) == 1
    _publish_three(seeded_app, "qqtwice")
    assert drain(Path(seeded_app.config["INDEX_DIR"]), get_engine(seeded_app.config["SQLALCHEMY_URL"])) == 3
    assert len(opened) == 2


def test_a_build_without_its_cursor_is_treated_as_damaged_and_rebuilt(seeded_app: Flask) -> None:
    """Every published build has a cursor (written before the swap): one without is never guessed at."""
    root = Path(seeded_app.config["INDEX_DIR"])
    live = str(current_name(root))
    (root / live / index.CURSOR).unlink()
    (root / index.PREVIOUS).unlink(missing_ok=True)
    reader.reader_for(root).reset()  # as a process starting now
    with pytest.raises(IndexBuilding):
        total(seeded_app)
    building.wait(root)
    assert current_name(root) != live
    assert total(seeded_app) == seeddata.products()
