"""Walking every search result by cursor: no cap, no repeats, no gaps, even while records are published."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from catalogue.db import get_engine
from catalogue.registry import merging
from catalogue.registry.models import Product
from catalogue.search.builds import rebuild
from tests.fixtures.workspace import get_user, make_user

EN = {"Accept-Language": "en"}


def _walk(client: FlaskClient, first: str) -> tuple[list[int], int]:
    body = client.get(first, headers=EN).json
    assert body is not None
    ids, total = [i["id"] for i in body["items"]], body["total"]
    while body["next"]:
        assert body["next"].startswith("http://registry.test/api/v1/products?")
        body = client.get(body["next"].removeprefix("http://registry.test"), headers=EN).json
        assert body is not None
        ids += [i["id"] for i in body["items"]]
    return ids, total


def _pages(client: FlaskClient, query: str, per_page: int) -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        body = client.get(f"/api/v1/products?{query}&per_page={per_page}&page={page}").json
        assert body is not None
        ids += [i["id"] for i in body["items"]]
        if page * per_page >= body["total"]:
            return ids
        page += 1


def test_a_walk_by_cursor_visits_every_result_once_in_the_pages_order(seeded_client: FlaskClient) -> None:
    for query in ("status=all", "status=all&sort=name", "q=gom&status=all", "status=all&sort=newest"):
        ids, total = _walk(seeded_client, f"/api/v1/products?{query}&per_page=7")
        assert len(ids) == total == len(set(ids)), query
        assert ids == _pages(seeded_client, query, 7), query
    last = seeded_client.get("/api/v1/products?status=all&per_page=100&page=1000").json
    assert last is not None and last["next_cursor"] is None and last["items"] == []


def test_a_product_published_during_a_walk_shifts_nothing(
    seeded_client: FlaskClient, make_certificate: Callable[..., str]
) -> None:
    before = _pages(seeded_client, "status=all&sort=name", 100)
    first = seeded_client.get("/api/v1/products?status=all&sort=name&per_page=5").json
    assert first is not None and first["next"]
    make_certificate(
        product="Aaa bánh kiểm thử", certificate_number="1/W", year=2026, issued_on=date(2026, 6, 1)
    )
    make_certificate(
        product="Zzz bánh kiểm thử", certificate_number="2/W", year=2026, issued_on=date(2026, 6, 1)
    )
    rest, _ = _walk(seeded_client, first["next"].removeprefix("http://registry.test"))
    walked = [i["id"] for i in first["items"]] + rest
    assert [i for i in walked if i in set(before)] == before  # every earlier product, once, in order
    found = seeded_client.get("/api/v1/products?q=kiểm thử bánh&status=all").json
    assert found is not None and "Zzz bánh kiểm thử" in {i["name"] for i in found["items"]}


def test_a_cursor_of_another_search_is_refused(seeded_client: FlaskClient) -> None:
    body = seeded_client.get("/api/v1/products?status=all&per_page=3").json
    assert body is not None and body["next_cursor"]
    other = seeded_client.get(
        f"/api/v1/products?status=valid&per_page=3&cursor={body['next_cursor']}", headers=EN
    )
    assert other.status_code == 400 and "another search" in other.json["error"]["message"]  # type: ignore[index]
    mangled = seeded_client.get("/api/v1/products?cursor=w1.xyz", headers=EN)
    assert mangled.status_code == 400


def test_a_walk_by_name_resumes_after_its_anchor_was_merged_away_and_the_index_rebuilt(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    make_user(seeded_app, "cuc@moit.gov.vn", "ministry")
    names = ["Aaa-0 walk", "Aaa-1 walk", "Aab walk", "Aac walk"]
    for i, name in enumerate(names):
        make_certificate(
            product=name, certificate_number=f"{i}/WALK", year=2020 + i, issued_on=date(2020 + i, 6, 1)
        )
    client = seeded_app.test_client()
    first = client.get("/api/v1/products?status=all&sort=name&per_page=3").json
    assert first is not None and [i["name"] for i in first["items"]] == names[:3]
    with seeded_app.test_request_context("/"), Session(get_engine(), expire_on_commit=False) as s:
        user = get_user(s, "cuc@moit.gov.vn")
        by_name = {p.name: p for p in s.exec(select(Product).where(col(Product.name).in_(names))).all()}
        survivor_id = by_name["Aac walk"].id
        # The page's last product (the anchor) and one before it leave the registry.
        for duplicate, survivor in (("Aab walk", "Aac walk"), ("Aaa-0 walk", "Aaa-1 walk")):
            seen = merging.preview(s, actor=user, kind="product", survivor=by_name[survivor],
                                   duplicate=by_name[duplicate])  # fmt: skip
            merging.merge(s, actor=user, kind="product", survivor=by_name[survivor],
                          duplicate=by_name[duplicate], token=seen.token, fill_blanks=False)  # fmt: skip
            s.commit()
    with seeded_app.app_context():
        rebuild(Path(seeded_app.config["INDEX_DIR"]), get_engine())
    rest, _ = _walk(client, first["next"].removeprefix("http://registry.test"))
    everything, _ = _walk(client, "/api/v1/products?status=all&sort=name&per_page=100")
    after_anchor = everything[everything.index(survivor_id) :]
    assert rest == after_anchor
