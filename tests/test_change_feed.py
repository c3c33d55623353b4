"""The change feed (``/api/v1/changes``): a mirror that follows it stays an exact copy."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from catalogue.audit.models import OutboxEvent
from catalogue.clock import utcnow
from catalogue.db import get_engine
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.opendata.changes import Position
from catalogue.registry import certificates, editing, merging
from catalogue.registry.models import Certificate, Product
from catalogue.search.cursor import Cursor
from tests.fixtures.workspace import get_user, make_user, row, xlsx_bytes

EN = {"Accept-Language": "en"}


def _listing(client: FlaskClient) -> dict[int, dict[str, Any]]:
    """Every product the registry lists under ``status=all``, by id (all pages)."""
    out: dict[int, dict[str, Any]] = {}
    page = 1
    while True:
        body = client.get(f"/api/v1/products?status=all&per_page=100&page={page}&sort=name", headers=EN).json
        assert body is not None
        out.update({item["id"]: item for item in body["items"]})
        if page * 100 >= body["total"]:
            return out
        page += 1


def _follow(
    client: FlaskClient, mirror: dict[int, dict[str, Any]], since: str, limit: int = 2
) -> tuple[str, list[str]]:
    """Apply every change after ``since`` to ``mirror``; returns the last cursor and the kinds seen."""
    kinds: list[str] = []
    while True:
        body = client.get(f"/api/v1/changes?since={since}&limit={limit}", headers=EN).json
        assert body is not None
        for item in body["items"]:
            kinds.append(item["kind"])
            if item["product"] is None:
                mirror.pop(item["product_id"], None)
            else:
                mirror[item["product_id"]] = item["product"]
        since = body["next"]
        if not body["more"]:
            return since, kinds


def _change_the_registry(app: Flask) -> dict[str, int]:
    """A publish of three rows, a correction, a revocation, a reinstatement and a merge, as officials do."""
    with app.test_request_context("/?lang=en"), Session(get_engine(), expire_on_commit=False) as s:
        user = get_user(s, "laocai@so.gov.vn")
        rows = [
            row(1),
            row(2),
            row(3, product="Chè Shan tuyết thử nghiệm 1 (trùng)", producer="HTX Thử nghiệm 1"),
        ]
        batch, report = importing.stage_batch(s, actor=user, filename="qd.xlsx", data=xlsx_bytes(rows))
        assert batch is not None and report.ok, report
        publishing.publish_batch(s, actor=user, batch=batch)
        certs = {c.number: c for c in s.exec(select(Certificate).where(Certificate.batch_id == batch.id))}
        first, second, third = (certs[f"TEST-{n:05d}/GCN-SCT"] for n in (1, 2, 3))
        product = s.get(Product, first.product_id)
        editing.save_product(
            s, actor=user, product=product, values={"name": "Chè Shan tuyết thử nghiệm 1 (đã sửa)"}
        )
        new_day = {"issued_on": date(2025, 8, 20)}
        certificates.correct_certificate(s, actor=user, certificate=second, values=new_day, reason="typo")
        certificates.revoke_certificate(s, actor=user, certificate=second, reason="Vi phạm", reference="9/QĐ",
                                        on=date(2026, 1, 5))  # fmt: skip
        s.commit()
        ids = {"survivor": first.product_id, "revoked": second.product_id, "merged": third.product_id}
        survivor, duplicate = s.get(Product, ids["survivor"]), s.get(Product, ids["merged"])
        seen = merging.preview(s, actor=user, kind="product", survivor=survivor, duplicate=duplicate)
        merging.merge(s, actor=user, kind="product", survivor=survivor, duplicate=duplicate, token=seen.token,
                      fill_blanks=False)  # fmt: skip
        s.commit()
        return ids


def test_a_mirror_following_the_feed_reproduces_the_registry(seeded_app: Flask) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    client = seeded_app.test_client()
    start = client.get("/api/v1/changes?since=now").json
    assert start is not None and start["items"] == [] and start["more"] is False
    mirror = _listing(client)
    assert mirror, "the seeded registry lists products"

    ids = _change_the_registry(seeded_app)
    _, kinds = _follow(client, mirror, start["next"])

    assert mirror == _listing(client)
    assert ids["merged"] not in mirror and ids["survivor"] in mirror
    assert mirror[ids["survivor"]]["name"] == "Chè Shan tuyết thử nghiệm 1 (đã sửa)"
    revoked = [c for c in mirror[ids["revoked"]]["certificates"] if c["status"] == "revoked"]
    assert [c["number"] for c in revoked] == ["TEST-00002/GCN-SCT"]
    assert kinds[:3] == ["created"] * 3
    assert {"corrected", "revoked", "removed"} <= set(kinds)
    assert kinds.index("revoked") > kinds.index("corrected")


def test_feed_items_say_what_changed_in_commit_order(seeded_app: Flask) -> None:
    make_user(seeded_app, "laocai@so.gov.vn", "province", "Lào Cai")
    client = seeded_app.test_client()
    since = client.get("/api/v1/changes?since=now").json["next"]  # type: ignore[index]
    ids = _change_the_registry(seeded_app)
    with seeded_app.test_request_context("/"), Session(get_engine()) as s:
        user = get_user(s, "laocai@so.gov.vn")
        cert = s.exec(select(Certificate).where(Certificate.number == "TEST-00002/GCN-SCT")).one()
        certificates.reinstate_certificate(s, actor=user, certificate=cert, reason="Quyết định bị hủy",
                                           reference="10/QĐ")  # fmt: skip
        s.commit()
        cert_id = cert.id
    body = client.get(f"/api/v1/changes?since={since}&limit=500").json
    assert body is not None and body["more"] is False
    seqs = [item["seq"] for item in body["items"]]
    assert seqs == sorted(seqs)
    last = body["items"][-1]
    assert (last["kind"], last["certificate_id"], last["product_id"]) == (
        "reinstated",
        cert_id,
        ids["revoked"],
    )
    assert last["product"]["certificates"][0]["status"] != "revoked"
    removed = next(item for item in body["items"] if item["kind"] == "removed")
    assert removed["product_id"] == ids["merged"] and removed["merged_into"] == ids["survivor"]
    assert removed["product"] is None
    # Nothing new: the same cursor answers no items, and the answer is never cached.
    again = client.get(f"/api/v1/changes?since={body['next']}")
    assert again.json["items"] == [] and again.headers["Cache-Control"] == "no-store"  # type: ignore[index]


def test_a_change_committed_late_below_the_cursor_is_delivered_once(seeded_app: Flask) -> None:
    """On PostgreSQL a transaction holding a lower id can commit after a higher one was read."""
    client = seeded_app.test_client()
    with seeded_app.app_context(), Session(get_engine()) as s:
        product_id = s.exec(select(Product.id)).first()
        s.add(OutboxEvent(product_id=product_id, kind="corrected"))
        s.commit()
        late = s.exec(select(func.max(OutboxEvent.id))).one()
        s.add(OutboxEvent(product_id=product_id, kind="corrected"))
        s.commit()
        high = late + 1
    # A cursor read while row ``late`` was not yet committed: past it, with it as a gap.
    token = Position(Cursor(high, {late: utcnow().timestamp()}), utcnow()).token()
    body = client.get(f"/api/v1/changes?since={token}").json
    assert body is not None and [item["seq"] for item in body["items"]] == [late]
    again = client.get(f"/api/v1/changes?since={body['next']}").json
    assert again is not None and again["items"] == []


def test_bad_and_expired_cursors_are_refused_clearly(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    bad = client.get("/api/v1/changes?since=12345", headers=EN)
    assert bad.status_code == 400 and "cursor" in bad.json["error"]["message"]  # type: ignore[index]
    assert client.get("/api/v1/changes?limit=0", headers=EN).status_code == 400
    with seeded_app.app_context(), Session(get_engine()) as s:
        high = s.exec(select(func.max(OutboxEvent.id))).one() or 0
        product_id = s.exec(select(Product.id)).first()
        for _ in range(3):
            s.add(OutboxEvent(product_id=product_id))
        s.commit()
        # Pruned: every row but the newest is gone, and the cursor is older than the retention.
        newest = s.exec(select(func.max(OutboxEvent.id))).one()
        s.exec(delete(OutboxEvent).where(col(OutboxEvent.id) < newest))
        s.commit()
    old = Position(Cursor(high), utcnow() - timedelta(days=seeded_app.config["OUTBOX_DAYS"] + 1)).token()
    gone = client.get(f"/api/v1/changes?since={old}", headers=EN)
    assert gone.status_code == 410
    assert "/data/" in gone.json["error"]["message"]  # type: ignore[index]
    # A recent cursor across the same gap (rolled-back ids) is answered.
    recent = Position(Cursor(high), utcnow()).token()
    assert client.get(f"/api/v1/changes?since={recent}").status_code == 200
    # A cursor past every change: the registry was restored from an older backup since.
    ahead = Position(Cursor(newest + 10), utcnow()).token()
    assert client.get(f"/api/v1/changes?since={ahead}").status_code == 410
