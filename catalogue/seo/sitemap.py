"""Every public page with the time it last changed, for ``/sitemap.xml``.

One grouped query per kind of record, so 100,000 products cost a few scans, not a query each.
A page's time is the latest change to what it shows: a product's page shows its certificates
and photos, a producer's its products, a province's and a round's their products' certificates.
Records without a stored time (fairs, provinces, rounds) take the latest audit entry about them,
else the registry's latest change. Merged-away records are deleted rows: they are not listed,
their old addresses answer with a redirect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

from flask import Flask, url_for
from sqlmodel import Session, col, func, select

from catalogue.audit.models import AuditEntry
from catalogue.clock import aware, utcnow
from catalogue.fairs.models import Event
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, Photo, Producer, Product, SelectionRound, ValidityPolicy
from catalogue.seo.links import absolute

#: The sitemaps protocol's limit per file; beyond it ``/sitemap.xml`` is an index of parts.
MAX_URLS = 50_000
#: Pages without a slug (each listed when the app has that endpoint).
FIXED_PAGES = ("public.home", "public.provinces", "public.rounds", "fairs.events", "public.status_rules",
               "search.search", "api.docs", "api.shapes", "statistics.statistics", "opendata.index",
               "opendata.dictionary")  # fmt: skip
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
#: Where an open-data generation keeps the sitemap it wrote (:func:`write`).
FOLDER = "sitemap"
XHTML = "http://www.w3.org/1999/xhtml"


@dataclass(frozen=True)
class Entry:
    path: str
    lastmod: datetime


def _latest(*moments: datetime | None) -> datetime | None:
    """The newest of the known ``moments`` (stored instants are UTC, naive or not)."""
    known = [aware(m) for m in moments if m is not None]
    return max(known) if known else None


def _audited(session: Session, entity_type: str) -> dict[int, datetime]:
    """The latest audit entry's time per record of ``entity_type``."""
    rows = session.exec(
        select(AuditEntry.entity_id, func.max(AuditEntry.at))
        .where(AuditEntry.entity_type == entity_type, col(AuditEntry.entity_id).is_not(None))
        .group_by(col(AuditEntry.entity_id))
    ).all()  # fmt: skip
    return {int(i): at for i, at in rows if i is not None and at is not None}


def _bump(latest: dict[int, datetime], key: int | None, moment: datetime | None) -> None:
    """Keep in ``latest[key]`` the newest moment seen for ``key``."""
    if key is not None:
        newer = _latest(latest.get(key), moment)
        if newer is not None:
            latest[key] = newer


def _pattern(endpoint: str) -> Callable[[str], str]:
    """A page's path for a slug without building a URL each time (a tenth of the cost at 100,000 pages)."""
    head, _, tail = url_for(endpoint, slug="__slug__").partition("__slug__")
    return lambda slug: head + quote(slug, safe="") + tail


def entries(app: Flask, session: Session) -> list[Entry]:
    """Every public page, fixed pages first, then products, producers, provinces, rounds, fairs."""
    by_product: dict[int, datetime] = {}
    by_round: dict[int, datetime] = {}
    for product_id, round_id, at in session.exec(
        select(Certificate.product_id, Certificate.round_id, func.max(Certificate.updated_at))
        .group_by(col(Certificate.product_id), col(Certificate.round_id))
    ).all():  # fmt: skip
        _bump(by_product, product_id, at)
        _bump(by_round, round_id, at)
    for product_id, at in session.exec(
        select(Photo.product_id, func.max(Photo.created_at)).group_by(col(Photo.product_id))
    ).all():
        _bump(by_product, product_id, at)
    province_of = dict(session.exec(select(Product.id, Product.province_id)).all())
    product_page, producer_page = _pattern("public.product"), _pattern("public.producer")
    products: list[Entry] = []
    by_producer: dict[int, datetime] = {}
    by_province: dict[int, datetime] = {}
    for pid, slug, producer_id, updated in session.exec(
        select(Product.id, Product.slug, Product.producer_id, Product.updated_at)
    ).all():
        at = _latest(updated, by_product.get(pid or 0)) or aware(updated)
        products.append(Entry(product_page(slug), at))
        _bump(by_producer, producer_id, at)
        _bump(by_province, province_of.get(pid), at)
    newest = _latest(*(e.lastmod for e in products), *by_round.values()) or utcnow()

    producers = [
        Entry(producer_page(slug), _latest(updated, by_producer.get(pid or 0)) or newest)
        for pid, slug, updated in session.exec(select(Producer.id, Producer.slug, Producer.updated_at)).all()
    ]
    provinces = Provinces.load(session)
    province_pages = []
    for p in provinces.rows:
        members = provinces.member_ids(p) if p.is_current else {p.id or 0}
        changed = _latest(*(by_province.get(i) for i in members))
        province_pages.append(Entry(url_for("public.province", slug=p.slug), changed or newest))
    audited = _audited(session, "selection_round")
    rounds = [
        Entry(
            url_for("public.round_", slug=slug),
            _latest(by_round.get(rid or 0), audited.get(rid or 0)) or newest,
        )
        for rid, slug in session.exec(select(SelectionRound.id, SelectionRound.slug)).all()
    ]
    audited = _audited(session, "event")
    events = [
        Entry(url_for("fairs.event", slug=slug), audited.get(eid or 0) or newest)
        for eid, slug in session.exec(select(Event.id, Event.slug).order_by(col(Event.id))).all()
    ]
    policy = session.exec(select(func.max(ValidityPolicy.set_at))).one()
    special = {
        "fairs.events": _latest(*(e.lastmod for e in events)),
        "public.status_rules": _latest(policy, newest),
    }
    fixed = [Entry(url_for(endpoint), special.get(endpoint) or newest)
             for endpoint in FIXED_PAGES if endpoint in app.view_functions]  # fmt: skip
    return [*fixed, *products, *producers, *province_pages, *rounds, *events]


def parts(count: int, limit: int = MAX_URLS) -> int:
    """How many sitemap files ``count`` addresses need (at least one, even when empty)."""
    return max(1, -(-count // limit))


def _w3c(moment: datetime) -> str:
    return aware(moment).isoformat(timespec="seconds")


def urlset(items: Iterable[Entry]) -> Iterator[str]:
    """A ``<urlset>`` document, line by line.

    Each page is listed by its canonical address (the Vietnamese one, as the page's own
    ``rel=canonical`` names it) with its English and language-neutral alternates, as the
    pages' ``hreflang`` links do: a sitemap never submits an address the page disowns.
    """
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{NS}" xmlns:xhtml="{XHTML}">\n'
    for e in items:
        bare = absolute(e.path)
        alternates = "".join(f'<xhtml:link rel="alternate" hreflang="{code}" href="{escape(href)}"/>'
                             for code, href in (("vi", f"{bare}?lang=vi"), ("en", f"{bare}?lang=en"),
                                                ("x-default", bare)))  # fmt: skip
        yield (f"<url><loc>{escape(bare)}?lang=vi</loc><lastmod>{_w3c(e.lastmod)}</lastmod>"
               f"{alternates}</url>\n")  # fmt: skip
    yield "</urlset>\n"


def index(items: list[Entry], limit: int = MAX_URLS) -> Iterator[str]:
    """A ``<sitemapindex>`` of the parts, each dated by its newest page."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{NS}">\n'
    for n in range(1, parts(len(items), limit) + 1):
        chunk = items[(n - 1) * limit : n * limit]
        loc = absolute(url_for("seo.sitemap_part", number=n))
        newest = max(e.lastmod for e in chunk)
        yield f"<sitemap><loc>{escape(loc)}</loc><lastmod>{_w3c(newest)}</lastmod></sitemap>\n"
    yield "</sitemapindex>\n"


def write(app: Flask, session: Session, folder: Path) -> None:
    """Write the sitemap (and its parts) into ``folder``: the open-data generation does, in the
    background after each change, so a crawler's request only sends a file. Computing it takes
    seconds at 100,000 products (``make bench-opendata``), too long for a request."""
    items, limit = entries(app, session), limit_of(app)
    folder.mkdir(parents=True, exist_ok=True)
    if len(items) <= limit:
        (folder / "sitemap.xml").write_text("".join(urlset(items)), encoding="utf-8")
        return
    (folder / "sitemap.xml").write_text("".join(index(items, limit)), encoding="utf-8")
    for number in range(1, parts(len(items), limit) + 1):
        chunk = items[(number - 1) * limit : number * limit]
        (folder / f"sitemap-{number}.xml").write_text("".join(urlset(chunk)), encoding="utf-8")


def limit_of(app: Flask) -> int:
    return int(app.config.get("SITEMAP_MAX_URLS", MAX_URLS))
