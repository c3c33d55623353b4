"""Two app nodes, each with its own data folder (its own index), on one PostgreSQL database.

Each node keeps its index in step through its own outbox cursor (issue 13,
item 6): a publish on node A is searchable on node B within 2 s, a revocation
on A shows on B's verification page at once, and rows PostgreSQL commits out of
id order are never skipped. Runs only when ``DATABASE_URL`` is PostgreSQL.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func
from sqlmodel import Session, select

from catalogue import create_app
from catalogue.accounts.permissions import SYSTEM
from catalogue.audit.models import OutboxEvent
from catalogue.db import get_engine, get_session, make_engine
from catalogue.registry.certificates import revoke_certificate
from catalogue.registry.models import Certificate
from tests.conftest import IS_PG, base_overrides
from tests.test_search_sync import publish, total

pytestmark = pytest.mark.skipif(not IS_PG, reason="several nodes share a PostgreSQL database")


@pytest.fixture
def node_b(seeded_app: Flask, db_templates: dict[str, Path], tmp_path: Path) -> Flask:
    """A second node on the same database, with a data folder (and index) of its own."""
    folder = tmp_path / "node-b"
    shutil.copytree(db_templates["seeded"], folder)
    return create_app(base_overrides(folder))


def searchable_within(app: Flask, q: str, seconds: float = 2.0) -> bool:
    """Poll B's search until the product shows (ends as soon as it does)."""
    deadline = time.monotonic() + seconds
    while True:
        if total(app, q) == 1:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_publish_on_a_is_searchable_on_b(seeded_app: Flask, node_b: Flask) -> None:
    assert Path(seeded_app.config["INDEX_DIR"]) != Path(node_b.config["INDEX_DIR"])
    assert total(node_b, "qqnode") == 0
    with seeded_app.test_request_context():
        session = get_session()
        publish(session, "Trà sen qqnode", "NODE-1")
        session.commit()
    assert total(seeded_app, "qqnode") == 1
    assert searchable_within(node_b, "qqnode")


def test_revocation_on_a_shows_on_bs_verify_page_at_once(seeded_app: Flask, node_b: Flask) -> None:
    with seeded_app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        cert = session.exec(select(Certificate).where(Certificate.revoked_on.is_(None))).first()  # type: ignore[union-attr]
        assert cert is not None
        code = cert.verify_code
        assert "Revoked on" not in node_b.test_client().get(f"/v/{code}?lang=en").get_data(as_text=True)
        revoke_certificate(session, actor=SYSTEM, certificate=cert, reason="Không còn đạt",
                                      reference="77/QĐ-SCT")  # fmt: skip
        session.commit()
    assert "Revoked on" in node_b.test_client().get(f"/v/{code}?lang=en").get_data(as_text=True)


def test_rows_committed_out_of_id_order_are_not_skipped(seeded_app: Flask, node_b: Flask) -> None:
    """Transaction 1 takes the lower outbox id but commits after transaction 2."""
    engine = make_engine(node_b.config["SQLALCHEMY_URL"])
    try:
        slow, fast = Session(engine), Session(engine)
        publish(slow, "Kẹo lạc qqorder chậm", "ORDER-1", producer="HTX chậm")
        slow.flush()  # holds the lower ids, uncommitted
        low = slow.exec(select(func.max(OutboxEvent.id))).one()
        publish(fast, "Kẹo lạc qqorder nhanh", "ORDER-2", province="Đà Nẵng", producer="HTX nhanh")
        fast.commit()
        high = fast.exec(select(func.max(OutboxEvent.id))).one()
        assert low is not None and high is not None and low < high
        assert total(node_b, "qqorder") == 1  # B's cursor moves past the uncommitted lower id
        slow.commit()
        assert total(node_b, "qqorder") == 2  # ...and still applies it once committed
        assert total(seeded_app, "qqorder") == 2
        slow.close()
        fast.close()
    finally:
        engine.dispose()
