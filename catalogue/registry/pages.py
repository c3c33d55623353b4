"""Read-only queries behind the public pages (home, product, producer, province,
round and fair/showroom pages) and the events API.

Views stay thin: each page asks one function here for a plain dataclass. Counts
are computed with grouped SQL so the home page stays cheap at 100,000 products;
product lists are paginated and rendered from :func:`load_summaries`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal_column
from sqlmodel import Session, col, select

from catalogue.db import pk
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.imports.models import ImportBatch
from catalogue.paging import Pager
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.catalog import ProductSummary, load_summaries
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound
from catalogue.registry.status import Policy, current_policy, valid_sql
from catalogue.text import fold
from catalogue.vocab import EventKind, Level, ProductGroup, Region

PER_PAGE = 40


# ----------------------------------------------------------------------------- helpers


def valid_on(day: date, policy: Policy | None = None) -> Any:
    """SQL condition for "valid on ``day``": the one status rule (:func:`status.valid_sql`),
    with the assumed validity in effect that day. Needs ``certificate`` joined with its
    ``selection_round``."""
    return valid_sql(day, policy or current_policy())


@dataclass
class Page(Pager):
    """One page of product summaries out of ``total``."""

    items: list[ProductSummary] = field(default_factory=list)


def _page_of_products(
    session: Session, condition: Any, page: int, provinces: Provinces, per_page: int = PER_PAGE
) -> Page:
    """Products matching ``condition`` ordered by name, one page of them."""
    total = session.exec(select(func.count()).select_from(Product).where(condition)).one()
    pager = Pager.clamped(page, total, per_page)
    ids = session.exec(
        select(Product.id).where(condition).order_by(Product.name, col(Product.id))
        .offset(pager.offset).limit(per_page)
    ).all()  # fmt: skip
    product_ids = [pid for pid in ids if pid is not None]
    return Page(pager.number, total, per_page, load_summaries(session, product_ids, provinces))


def source_parts(text: str | None) -> list[tuple[str, str | None]]:
    """Split a provenance string ("url ; url" or a note) into ``(label, href)`` pairs.

    Only http(s) addresses become links; a plain note stays text.
    """
    parts: list[tuple[str, str | None]] = []
    for raw in (text or "").split(" ; "):
        part = raw.strip()
        if not part:
            continue
        if part.startswith(("http://", "https://")):
            host = part.split("/", 3)[2]
            parts.append((host.removeprefix("www."), part))
        else:
            parts.append((part, None))
    return parts


# ----------------------------------------------------------------------------- events


@dataclass
class EventView:
    event: Event
    kind: EventKind
    province: Province | None
    current_province: Province | None

    @property
    def last_day(self) -> date | None:
        return self.event.end_date or self.event.start_date

    @property
    def has_calendar(self) -> bool:
        """A fair's .ics needs at least its first day; a guessed day is worse than none."""
        return self.kind is EventKind.FAIR and self.event.start_date is not None


def _event_views(events: list[Event], provinces: Provinces) -> list[EventView]:
    return [
        EventView(e, EventKind(e.kind), provinces.get(e.province_id),
                  provinces.current_of(provinces.get(e.province_id)))
        for e in events
    ]  # fmt: skip


@dataclass
class EventLists:
    upcoming: list[EventView]
    past: list[EventView]
    undated: list[EventView]
    showrooms: list[EventView]


def event_lists(session: Session, provinces: Provinces, today: date) -> EventLists:
    """Fairs split by date (current/upcoming, past, dates unknown) and the showrooms."""
    views = _event_views(list(session.exec(select(Event).order_by(col(Event.id))).all()), provinces)
    fairs = [v for v in views if v.kind is EventKind.FAIR]
    upcoming = sorted((v for v in fairs if v.last_day and v.last_day >= today),
                      key=lambda v: v.event.start_date or v.last_day or today)  # fmt: skip
    past = sorted((v for v in fairs if v.last_day and v.last_day < today),
                  key=lambda v: v.last_day or today, reverse=True)  # fmt: skip
    undated = [v for v in fairs if v.last_day is None]
    showrooms = sorted((v for v in views if v.kind is EventKind.SHOWROOM), key=lambda v: fold(v.event.name))
    return EventLists(upcoming, past, undated, showrooms)


@dataclass
class ExhibitorView:
    exhibitor: Exhibitor
    producer: Producer
    products: list[ProductSummary]


@dataclass
class EventPage:
    view: EventView
    exhibitors: list[ExhibitorView]
    ceremonies: list[SelectionRound]


def event_page(session: Session, slug: str, provinces: Provinces) -> EventPage | None:
    event = session.exec(select(Event).where(Event.slug == slug)).first()
    if event is None:
        return None
    exhibitors = session.exec(
        select(Exhibitor, Producer).join(Producer, col(Producer.id) == Exhibitor.producer_id)
        .where(Exhibitor.event_id == event.id)
    ).all()  # fmt: skip
    shown: dict[int, list[int]] = defaultdict(list)
    if exhibitors:
        rows = session.exec(
            select(Exhibit.exhibitor_id, Exhibit.product_id)
            .where(col(Exhibit.exhibitor_id).in_([ex.id for ex, _ in exhibitors]))
            .order_by(col(Exhibit.id))
        ).all()  # fmt: skip
        for exhibitor_id, product_id in rows:
            shown[exhibitor_id].append(product_id)
    summaries = {s.product.id: s for s in load_summaries(
        session, sorted({pid for ids in shown.values() for pid in ids}), provinces)}  # fmt: skip
    items = [
        ExhibitorView(ex, producer, [summaries[pid] for pid in shown[pk(ex)] if pid in summaries])
        for ex, producer in exhibitors
    ]
    # Booth numbers sort naturally when numeric ("2" before "10"); unknown booths last.
    items.sort(key=lambda x: (x.exhibitor.booth is None, _natural(x.exhibitor.booth), fold(x.producer.name)))
    ceremonies = list(session.exec(
        select(SelectionRound).where(SelectionRound.ceremony_event_id == event.id)
        .order_by(col(SelectionRound.year).desc(), col(SelectionRound.id))
    ).all())  # fmt: skip
    return EventPage(_event_views([event], provinces)[0], items, ceremonies)


def _natural(text: str | None) -> tuple[int, str]:
    digits = "".join(c for c in text or "" if c.isdigit())
    return (int(digits) if digits else 0, text or "")


def _ics_escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))  # fmt: skip


def _ics_fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets continue after CRLF + space."""
    out: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def event_ics(view: EventView, *, url: str, host: str, now: datetime, description: str) -> str:
    """An iCalendar file with one all-day event (DTEND is exclusive, so last day + 1).

    When the source gives only the first day, DTSTART alone means a one-day event
    (RFC 5545 §3.6.1) and ``description`` says the end is unknown.
    """
    e = view.event
    assert e.start_date is not None, "no calendar without a first day"
    location = ", ".join(x for x in (e.venue, view.province.name if view.province else None) if x)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//catalogue//Registry of outstanding rural industrial products//VI",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:event-{e.id}-{e.slug[:40]}@{host}",
        f"DTSTAMP:{now.strftime('%Y%m%dT%H%M%SZ')}",
        f"DTSTART;VALUE=DATE:{e.start_date.strftime('%Y%m%d')}",
    ]
    if e.end_date is not None and e.end_date >= e.start_date:
        lines.append(f"DTEND;VALUE=DATE:{(e.end_date + timedelta(days=1)).strftime('%Y%m%d')}")
    lines.append(f"SUMMARY:{_ics_escape(e.name)}")
    if location:
        lines.append(f"LOCATION:{_ics_escape(location)}")
    if description:
        lines.append(f"DESCRIPTION:{_ics_escape(description)}")
    lines += [f"URL:{url}", "END:VEVENT", "END:VCALENDAR"]
    return "".join(_ics_fold(line) + "\r\n" for line in lines)


# ----------------------------------------------------------------------------- home


@dataclass
class LevelCount:
    level: Level
    valid: int
    total: int


def level_counts(session: Session, today: date, product_condition: Any = None) -> list[LevelCount]:
    """Certificates at each level, valid today and in all, highest level first.

    Counted per round over the certificate table's round index, then summed by
    level in Python (rounds are few), so the home page stays fast at 100k rows.
    """
    # "+ 0" keeps SQLite from walking the round_id index row by row (random reads:
    # 95 ms at 100k certificates) instead of one sequential scan (35 ms); harmless on PG.
    round_key = col(Certificate.round_id) + literal_column("0")
    query = (
        select(
            SelectionRound.level,
            func.sum(case((valid_on(today), 1), else_=0)),
            func.count(),
        )
        .join(SelectionRound, col(SelectionRound.id) == round_key)
        .group_by(round_key, SelectionRound.level)
    )
    if product_condition is not None:
        query = query.join(Product, col(Product.id) == Certificate.product_id).where(product_condition)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for level, valid, total in session.exec(query).all():  # the round's level comes with its counts
        counts[level][0] += int(valid or 0)
        counts[level][1] += total
    return [LevelCount(lv, *counts[lv.value]) for lv in Level.by_rank()
            if lv.value in counts]  # fmt: skip


@dataclass
class Home:
    products: int
    producers: int
    valid_certificates: int
    levels: list[LevelCount]
    provinces: list[tuple[Province, int]]
    groups: list[tuple[ProductGroup | None, int]]
    latest_year: int | None
    latest_rounds: list[SelectionRound]
    latest: list[ProductSummary]
    fairs: list[EventView]


def home(session: Session, provinces: Provinces, today: date, top: int = 10, latest: int = 6) -> Home:
    """Everything the home page shows, in a fixed number of grouped queries."""
    products = session.exec(select(func.count()).select_from(Product)).one()
    producers = session.exec(select(func.count()).select_from(Producer)).one()

    levels = level_counts(session, today)
    valid_total = sum(c.valid for c in levels)

    per_current: dict[int, int] = defaultdict(int)
    for province_id, count in session.exec(
        select(Product.province_id, func.count()).group_by(col(Product.province_id))
    ).all():
        current = provinces.current_of(provinces.get(province_id))
        if current is not None and current.id is not None:
            per_current[current.id] += count
    top_provinces = sorted(
        ((provinces.by_id[pid], n) for pid, n in per_current.items()),
        key=lambda pn: (-pn[1], fold(pn[0].short_name)),
    )[:top]

    group_counts = dict(session.exec(select(Product.group, func.count()).group_by(Product.group)).all())
    groups: list[tuple[ProductGroup | None, int]] = [(g, group_counts[g.value]) for g in ProductGroup
                                                    if group_counts.get(g.value)]  # fmt: skip
    if group_counts.get(None):
        groups.append((None, group_counts[None]))

    latest_year = session.exec(
        select(func.max(SelectionRound.year)).where(col(SelectionRound.id).in_(select(Certificate.round_id)))
    ).one()
    latest_rounds: list[SelectionRound] = []
    latest_items: list[ProductSummary] = []
    if latest_year is not None:
        latest_rounds = sorted(
            session.exec(select(SelectionRound).where(SelectionRound.year == latest_year)).all(),
            key=lambda r: (-Level(r.level).rank, r.slug),
        )
        ids = session.exec(
            select(Certificate.product_id)
            .join(SelectionRound, col(SelectionRound.id) == Certificate.round_id)
            .where(SelectionRound.year == latest_year)
            .order_by(col(Certificate.id).desc()).limit(latest)
        ).all()  # fmt: skip
        latest_items = load_summaries(session, list(dict.fromkeys(ids)), provinces)

    lists = event_lists(session, provinces, today)
    fairs = lists.upcoming + lists.past[:3]
    return Home(products, producers, valid_total, levels, top_provinces, groups,
                latest_year, latest_rounds, latest_items, fairs)  # fmt: skip


# ----------------------------------------------------------------------------- product


@dataclass
class Exhibition:
    view: EventView
    booth: str | None


@dataclass
class ProductPage:
    summary: ProductSummary
    exhibitions: list[Exhibition]
    #: certificate id → the event where it was presented.
    ceremonies: dict[int, EventView]
    #: batch id → the batch (office and decision) that published a certificate.
    batches: dict[int, ImportBatch]


def product_page(session: Session, slug: str, provinces: Provinces, today: date) -> ProductPage | None:
    product_id = session.exec(select(Product.id).where(Product.slug == slug)).first()
    if product_id is None:
        return None
    summary = load_summaries(session, [product_id], provinces, today)[0]
    rows = session.exec(
        select(Event, Exhibitor.booth)
        .join(Exhibitor, col(Exhibitor.event_id) == Event.id)
        .join(Exhibit, col(Exhibit.exhibitor_id) == Exhibitor.id)
        .where(Exhibit.product_id == product_id)
    ).all()  # fmt: skip
    seen: set[int] = set()
    exhibitions = []
    for event, booth in rows:
        if event.id not in seen:
            seen.add(pk(event))
            exhibitions.append(Exhibition(_event_views([event], provinces)[0], booth))
    exhibitions.sort(key=lambda x: x.view.last_day or date.min, reverse=True)

    event_ids = {v.round.ceremony_event_id for v in summary.certificates if v.round.ceremony_event_id}
    events = {
        e.id: v for e, v in (
            (v.event, v) for v in _event_views(
                list(session.exec(select(Event).where(col(Event.id).in_(event_ids))).all()), provinces)
        )
    } if event_ids else {}  # fmt: skip
    ceremonies = {
        v.cert.id: events[v.round.ceremony_event_id]
        for v in summary.certificates
        if v.round.ceremony_event_id in events and v.cert.id is not None
    }
    batch_ids = {v.cert.batch_id for v in summary.certificates if v.cert.batch_id}
    batches = {
        pk(b): b for b in session.exec(select(ImportBatch).where(col(ImportBatch.id).in_(batch_ids))).all()
    } if batch_ids else {}  # fmt: skip
    return ProductPage(summary, exhibitions, ceremonies, batches)


# ----------------------------------------------------------------------------- producer


@dataclass
class ProducerPage:
    producer: Producer
    province: Province | None
    current_province: Province | None
    products: list[ProductSummary]


def producer_page(session: Session, slug: str, provinces: Provinces, today: date) -> ProducerPage | None:
    producer = session.exec(select(Producer).where(Producer.slug == slug)).first()
    if producer is None:
        return None
    ids = session.exec(
        select(Product.id).where(Product.producer_id == producer.id).order_by(Product.name).limit(200)
    ).all()
    product_ids = [pid for pid in ids if pid is not None]
    province = provinces.get(producer.province_id)
    return ProducerPage(producer, province, provinces.current_of(province),
                        load_summaries(session, product_ids, provinces, today))  # fmt: skip


# ----------------------------------------------------------------------------- provinces


@dataclass
class ProvinceEntry:
    province: Province
    former: list[Province]
    products: int


def province_list(session: Session, provinces: Provinces) -> list[ProvinceEntry]:
    """The 34 current units by name, each with its former units and product count."""
    counts: dict[int, int] = defaultdict(int)
    for province_id, count in session.exec(
        select(Product.province_id, func.count()).group_by(col(Product.province_id))
    ).all():
        current = provinces.current_of(provinces.get(province_id))
        if current is not None and current.id is not None:
            counts[current.id] += count
    return sorted(
        (ProvinceEntry(p, provinces.predecessors(p), counts.get(p.id or 0, 0)) for p in provinces.current()),
        key=lambda e: fold(e.province.short_name),
    )


@dataclass
class ProvincePage:
    province: Province
    #: For a current unit: the units it was formed from. For a former one: empty.
    former: list[Province]
    #: For a former unit: the current unit it became part of.
    successor: Province | None
    levels: list[LevelCount]
    page: Page


def province_page(
    session: Session, slug: str, provinces: Provinces, today: date, page: int = 1
) -> ProvincePage | None:
    """A current unit covers its predecessors' products; a former unit shows only its own."""
    province = next((p for p in provinces.rows if p.slug == slug), None)
    if province is None:
        return None
    if province.is_current:
        ids = provinces.member_ids(province)
        former = [p for p in provinces.predecessors(province)]
        successor = None
    else:
        ids = {pk(province)}
        former = []
        successor = provinces.current_of(province)
    condition = col(Product.province_id).in_(ids)
    levels = level_counts(session, today, condition)
    return ProvincePage(province, former, successor, levels,
                        _page_of_products(session, condition, page, provinces))  # fmt: skip


# ----------------------------------------------------------------------------- rounds


@dataclass
class RoundEntry:
    round: SelectionRound
    level: Level
    region: Region | None
    province: Province | None
    certificates: int


def _round_entry(r: SelectionRound, provinces: Provinces, count: int) -> RoundEntry:
    return RoundEntry(r, Level(r.level), Region(r.region) if r.region else None,
                      provinces.get(r.province_id), count)  # fmt: skip


def round_list(session: Session, provinces: Provinces) -> list[RoundEntry]:
    """Every round, newest year first, highest level first within a year."""
    counts = dict(session.exec(
        select(Certificate.round_id, func.count()).group_by(col(Certificate.round_id))
    ).all())  # fmt: skip
    rounds = session.exec(select(SelectionRound)).all()
    entries = [_round_entry(r, provinces, counts.get(pk(r), 0)) for r in rounds]
    return sorted(entries, key=lambda e: (-e.round.year, -e.level.rank, e.round.slug))


@dataclass
class RoundPage:
    entry: RoundEntry
    ceremony: EventView | None
    page: Page


def round_page(session: Session, slug: str, provinces: Provinces, page: int = 1) -> RoundPage | None:
    round_ = session.exec(select(SelectionRound).where(SelectionRound.slug == slug)).first()
    if round_ is None:
        return None
    count = session.exec(
        select(func.count()).select_from(Certificate).where(Certificate.round_id == round_.id)
    ).one()
    ceremony = None
    if round_.ceremony_event_id:
        event = session.get(Event, round_.ceremony_event_id)
        ceremony = _event_views([event], provinces)[0] if event else None
    condition = col(Product.id).in_(select(Certificate.product_id).where(Certificate.round_id == round_.id))
    return RoundPage(_round_entry(round_, provinces, count), ceremony,
                     _page_of_products(session, condition, page, provinces))  # fmt: skip
