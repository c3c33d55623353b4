"""Atom feeds of newly certified products and of revocations, for all or one province, group or level.

A feed reader, a journalist's alert or a provincial portal subscribes once and learns of
each new certificate and each revocation (and its withdrawal). The filters are the
search's own (:class:`~catalogue.search.params.SearchParams`: same values, same lenient
names, same messages); a current province includes its pre-2025 predecessors. Entries
are read from the registry's rows in the order they were recorded, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from feedgen.feed import FeedGenerator
from flask_babel import gettext as _
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from catalogue.clock import aware, utcnow
from catalogue.places.services import Provinces
from catalogue.registry.models import Certificate, CertificateEvent, Producer, Product, SelectionRound
from catalogue.search import filters_sql
from catalogue.search.labels import facet_label
from catalogue.search.params import SearchParams
from catalogue.text import xml_safe
from catalogue.vocab import Level

#: Entries per feed: readers poll; a week of a busy ministry's publishing fits.
ENTRIES = 50
KINDS = ("certified", "revoked")
#: Filters a feed takes (the search's, less the words, years and status).
FILTERS = ("province", "group", "level")


@dataclass(frozen=True)
class Entry:
    key: str  #: stable part of the entry's id
    at: datetime
    cert: Certificate
    product: Product
    producer: Producer | None
    round: SelectionRound
    event: CertificateEvent | None


def entries(session: Session, kind: str, params: SearchParams, provinces: Provinces) -> list[Entry]:
    """The newest :data:`ENTRIES` certificates published, or revocations and their withdrawals."""
    where = filters_sql.conditions(params, provinces)
    if kind == "certified":
        # The newest ids first (a narrow sort), then their rows: sorting every certificate with the
        # columns of four tables took half a second at 120,000 certificates (make bench-opendata).
        newest = (
            _joined(select(Certificate.id))
            .where(*where)
            .order_by(col(Certificate.created_at).desc(), col(Certificate.id).desc())
            .limit(ENTRIES)
        )
        ids = list(session.execute(newest).scalars().all())
        found = _joined(select(Certificate, Product, Producer, SelectionRound))
        rows = {r[0].id: r for r in session.execute(found.where(col(Certificate.id).in_(ids))).all()}
        return [Entry(f"certificate/{i}", aware(cert.created_at), cert, product, producer, round_, None)
                for i in ids for cert, product, producer, round_ in [rows[i]]]  # fmt: skip
    events = (
        _joined(sa_select(Certificate, Product, Producer, SelectionRound, CertificateEvent))
        .join(CertificateEvent, col(CertificateEvent.certificate_id) == Certificate.id)
        .where(col(CertificateEvent.kind).in_(("revoked", "reinstated")), *where)
        .order_by(col(CertificateEvent.recorded_at).desc(), col(CertificateEvent.id).desc())
        .limit(ENTRIES)
    )
    return [Entry(f"certificate-event/{e.id}", aware(e.recorded_at), cert, product, producer, round_, e)
            for cert, product, producer, round_, e in session.execute(events).all()]  # fmt: skip


def _joined(query: Any) -> Any:
    return (
        query.join(Product, col(Product.id) == Certificate.product_id)
        .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
        .outerjoin(Producer, col(Producer.id) == Product.producer_id)
    )


def _title(kind: str, params: SearchParams, provinces: Provinces) -> str:
    base = _("Newly certified products") if kind == "certified" else _("Revoked certificates")
    parts = []
    for province in provinces.current():
        if province.slug in params.provinces:
            parts.append(province.name)
    parts += [facet_label("group", g, provinces) for g in params.groups]
    parts += [Level(level).label for level in params.levels]
    return f"{base} — {', '.join(parts)}" if parts else base


def atom(
    kind: str,
    items: list[Entry],
    params: SearchParams,
    provinces: Provinces,
    *,
    base_url: str,
    self_path: str,
    product_path: Any,
    locale: str,
) -> bytes:
    """The feed document (Atom 1.0)."""
    host = urlsplit(base_url).hostname or "localhost"
    query = urlencode([(k, v) for k, v in params.to_args() if k in FILTERS])
    feed = FeedGenerator()
    feed.id(f"tag:{host},2025:cnnt/feeds/{kind}" + (f"?{query}" if query else ""))
    feed.title(xml_safe(_title(kind, params, provinces)))
    feed.subtitle(_("Registry of outstanding rural industrial products of Viet Nam"))
    feed.author({"name": _("CNNT Registry")})
    feed.link(href=base_url + self_path + (f"?{query}" if query else ""), rel="self")
    search = [(k, v) for k, v in params.to_args() if k in FILTERS] + [("status", "all")]
    feed.link(href=f"{base_url}/search?{urlencode(search)}", rel="alternate", type="text/html")
    feed.language(locale)
    feed.updated(max((e.at for e in items), default=utcnow()))
    for item in reversed(items):  # feedgen prepends: the newest ends up first
        entry = feed.add_entry()
        entry.id(f"tag:{host},2025:cnnt/{item.key}")
        url = base_url + product_path(item.product.slug)
        entry.link(href=url, rel="alternate", type="text/html")
        level = Level(item.round.level).label
        number = item.cert.number or _("number not published")
        numbered = (_("Certificate %(number)s", number=item.cert.number) if item.cert.number
                    else _("Certificate number not published"))  # fmt: skip
        name = item.product.name
        if item.event is None:
            title = f"{name} — {level} {item.round.year}"
            detail = [numbered]
        elif item.event.kind == "revoked":
            title = _("Revoked: %(product)s — %(number)s", product=name, number=number)
            detail = [item.event.reason or ""]
        else:
            title = _("Revocation withdrawn: %(product)s — %(number)s", product=name, number=number)
            detail = [item.event.reason or ""]
        entry.title(xml_safe(title))
        province = provinces.current_of(provinces.get(item.product.province_id))
        who = [item.producer.name if item.producer else "", province.name if province else ""]
        entry.summary(xml_safe(" · ".join(p for p in [*who, f"{level} {item.round.year}", *detail] if p)))
        entry.updated(item.at)
        entry.published(item.at)
        entry.category(term=item.round.level, label=level)
    return bytes(feed.atom_str(pretty=True))
