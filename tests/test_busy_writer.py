"""While a long publish holds SQLite's single writer, every request still answers in time.

Reads (scans, pages, search) go on as usual (WAL); a request that must write waits
``SQLITE_BUSY_SECONDS`` and then gets a clear 503 "try again" with ``Retry-After``, never
a 500 or a worker killed by gunicorn's timeout; nothing it sent is half-saved.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import IS_PG
from tests.fixtures.workspace import login, make_user

pytestmark = pytest.mark.skipif(IS_PG, reason="PostgreSQL has no single writer to wait for")


@contextmanager
def publishing(app: Flask) -> Iterator[None]:
    """Another process's long publish: a write transaction held open on the registry file."""
    writer = sqlite3.connect(Path(app.config["CATALOGUE_DATA_DIR"]) / "catalogue.sqlite3", timeout=5)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE province SET name = name")
    try:
        yield
    finally:
        writer.rollback()
        writer.close()


@pytest.fixture
def busy_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(seeded=True, SQLITE_BUSY_SECONDS=0.2)


def test_a_write_during_a_long_publish_is_a_clear_503_then_works(busy_app: Flask) -> None:
    make_user(busy_app, "laocai@so.gov.vn", "province", "Lào Cai")
    client = busy_app.test_client()
    client.get("/lang/en?next=/")
    with publishing(busy_app):
        refused = login(client, "laocai@so.gov.vn")  # signing in writes (attempts, audit, last sign-in)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "30"
        page = refused.get_data(as_text=True)
        assert "saving a large publication" in page and "Traceback" not in page
        api = busy_app.test_client().get("/healthz")  # reads keep answering
        assert api.status_code == 200
    assert login(client, "laocai@so.gov.vn").status_code == 302  # once it is done, all is normal


def test_scans_and_pages_answer_during_a_long_publish(busy_app: Flask, seeded_codes: list[str]) -> None:
    assert seeded_codes
    client = busy_app.test_client()
    with publishing(busy_app):
        assert client.get(f"/v/{seeded_codes[0]}").status_code == 200
        assert client.get("/").status_code == 200
        assert client.get("/search?q=che").status_code == 200
