"""A search never dead-ends (issue 17, item 8): suggestions that find something, browsing
when nothing matches, a "not yet classified" filter, and fairs and showrooms among results.

One seeded app (and index) serves the module; these tests only read.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, func, select

from catalogue.db import get_engine
from catalogue.fairs.models import Event
from catalogue.registry.models import Product
from catalogue.text import fold
from catalogue.vocab import EventKind
from tests.test_search_query import search as api


@pytest.fixture
def client(search_app: Flask) -> FlaskClient:
    return search_app.test_client()


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def assert_suggestion_finds_results(client: FlaskClient, q: str, **args: str) -> str | None:
    """The suggestion for ``q`` under these filters, after checking it finds products under them."""
    offered = api(client, q, **args)["suggestion"]
    if offered is not None:
        assert api(client, offered, **args)["total"] > 0, (q, args, offered)
    return offered


# ----------------------------------------------------------------------------- "did you mean"


def test_gom_no_longer_suggests_gia(client: FlaskClient) -> None:
    """Reported: ``gốm`` → ``gia``, two edits from a three-letter word."""
    for status in ("valid", "all"):
        offered = assert_suggestion_finds_results(client, "gốm", status=status)
        assert offered != "gia"
        assert offered is None or fold(offered) != "gia"


def test_may_tre_dan_never_becomes_mam_tre_dan(client: FlaskClient) -> None:
    """Reported: ``may tre dan`` → ``mam tre dan``, a query that finds nothing."""
    assert api(client, "mam tre dan", status="all")["total"] == 0
    for status in ("valid", "all"):
        assert assert_suggestion_finds_results(client, "may tre dan", status=status) != "mam tre dan"


def test_a_suggestion_that_finds_nothing_under_the_filters_is_not_offered(client: FlaskClient) -> None:
    """``may tre dann``: the correction finds only an expired product, so only ``status=all`` offers it."""
    corrected = api(client, "may tre dan", status="all")
    assert corrected["total"] > 0
    assert assert_suggestion_finds_results(client, "may tre dann", status="all") == "may tre dan"
    if api(client, "may tre dan")["total"] == 0:
        assert api(client, "may tre dann")["suggestion"] is None
    html = page(client, "/search?q=may+tre+dann&lang=en")
    assert "Did you mean" not in html or "may tre dan" in html


def _misspelt(word: str) -> str:
    """The word with its second-to-last letter doubled (``mam`` → ``maam``)."""
    return word[:-1] + word[-2] + word[-1]


def test_every_suggestion_offered_finds_results(search_app: Flask, client: FlaskClient) -> None:
    """Property over misspellings of real product names, with and without filters."""
    with search_app.app_context(), Session(get_engine()) as session:
        names = session.exec(select(Product.name).order_by(col(Product.id)).limit(20)).all()
    queries = []
    for name in names:
        words = [w for w in re.findall(r"\w+", name) if len(w) >= 3][:2]
        if words:
            queries.append(" ".join([_misspelt(words[0]), *words[1:]]))
    offered = 0
    for q in queries:
        for args in ({}, {"status": "all"}, {"status": "all", "group": "thu_cong_my_nghe"}):
            offered += assert_suggestion_finds_results(client, q, **args) is not None
    assert offered, "no misspelling was corrected at all"


def test_suggestions_keep_phrases_and_prefixes(client: FlaskClient) -> None:
    offered = assert_suggestion_finds_results(client, '"nuoc mam" phu quocc', status="all")
    assert offered == '"nuoc mam" phu quoc'


# ----------------------------------------------------------------------------- no result


def test_zero_results_offer_browsing_by_group_and_province(client: FlaskClient) -> None:
    html = page(client, "/search?q=zzqxv+wwkjh&lang=en")
    assert "No products match your search." in html
    browse = html[html.index('class="browse"') :]
    assert 'href="/provinces"' in browse
    everything = api(client)
    groups = [f["value"] for f in everything["facets"]["group"]]
    assert groups
    for value in groups:
        assert f'href="/search?group={value}"' in browse
    links = re.findall(r'href="(/search\?[^"]+)"', browse)
    assert any("province=" in link for link in links)
    for link in links:  # each browsing link finds products
        args = {k: v[0] for k, v in parse_qs(urlsplit(link.replace("&amp;", "&")).query).items()}
        assert api(client, **args)["total"] > 0, link


def test_hidden_matches_message_is_kept(client: FlaskClient) -> None:
    """Only an expired product matches: say so, and still offer browsing."""
    if api(client, "may tre dan")["total"] or not api(client, "may tre dan", status="all")["total"]:
        pytest.skip("the seed no longer has only expired 'mây tre đan' products")
    html = page(client, "/search?q=may+tre+dan&lang=en")
    assert "some with an expired or revoked certificate do" in html
    assert 'class="browse"' in html


# ----------------------------------------------------------------------------- not yet classified


def test_unclassified_filter_matches_products_without_a_group(search_app: Flask, client: FlaskClient) -> None:
    with search_app.app_context(), Session(get_engine()) as session:
        expected = session.exec(
            select(func.count()).select_from(Product).where(col(Product.group).is_(None))
        ).one()
    assert expected > 0
    data = api(client, group="unclassified", status="all")
    assert data["total"] == expected
    assert all(item["group"] is None for item in data["items"])
    facet = {f["value"]: f for f in api(client, status="all", lang="en")["facets"]["group"]}
    assert facet["unclassified"]["count"] == expected
    assert facet["unclassified"]["label"] == "Not yet classified"
    vi = {f["value"]: f for f in api(client, status="all", lang="vi")["facets"]["group"]}
    assert vi["unclassified"]["label"] == "Chưa phân nhóm"
    # The search page: the facet links to the filter, which shows the same count.
    html = page(client, "/search?status=all&lang=en")
    link = r'href="/search\?group=unclassified&amp;status=all"[^>]*><span>Not yet classified</span> '
    assert re.search(link + rf'<span class="n">{expected}</span>', html)
    filtered = page(client, "/search?group=unclassified&status=all&lang=en")
    assert f"{expected} product" in filtered
    assert 'class="chip"' in filtered and "Not yet classified" in filtered


def test_unclassified_by_its_names_too(client: FlaskClient) -> None:
    total = api(client, group="unclassified", status="all")["total"]
    assert api(client, group="Chưa phân nhóm", status="all")["total"] == total
    assert api(client, group="not yet classified", status="all")["total"] == total


def test_api_documents_the_unclassified_value(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    params = spec["paths"]["/api/v1/products"]["get"]["parameters"]
    group = next(p for p in params if p["name"] == "group")
    assert {"const": "unclassified"} in group["schema"]["items"]["anyOf"]


# ----------------------------------------------------------------------------- fairs and showrooms


def _ceramics_showroom(search_app: Flask) -> Event:
    with search_app.app_context(), Session(get_engine()) as session:
        showrooms = session.exec(select(Event).where(Event.kind == EventKind.SHOWROOM.value)).all()
    found = [e for e in showrooms if "gom" in fold(e.name).split()]
    assert found, "the seed has a ceramics (gốm) showroom"
    return found[0]


@pytest.mark.parametrize("q", ["gốm", "gom", "GỐM SỨ"])
def test_gom_lists_the_ceramics_showroom(search_app: Flask, client: FlaskClient, q: str) -> None:
    showroom = _ceramics_showroom(search_app)
    html = page(client, f"/search?q={q}&lang=en")
    block = html[html.index('class="event-matches"') :]
    assert f'href="/events/{showroom.slug}"' in block
    assert "Showroom" in block


def test_events_listed_only_for_matching_words_and_province(search_app: Flask, client: FlaskClient) -> None:
    showroom = _ceramics_showroom(search_app)
    assert 'class="event-matches"' not in page(client, "/search?lang=en")
    assert f"/events/{showroom.slug}" not in page(client, "/search?q=nuoc+mam&lang=en")
    elsewhere = page(client, "/search?q=gom&province=lam-dong&lang=en")
    assert f"/events/{showroom.slug}" not in elsewhere
