"""Read-only queries behind the fairs' public pages, the events API and the fairs shown on registry pages.

Views stay thin: each page asks one function here for a plain dataclass.
:class:`OnRegistryPages` is this feature's share of the registry's home, product
and round pages (see :mod:`catalogue.registry.parts`): the registry is below
fairs and never imports them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from catalogue.db import pk
from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.catalog import ProductSummary, load_summaries
from catalogue.registry.models import Producer, SelectionRound
from catalogue.text import fold
from catalogue.vocab import EventKind


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


def event_views(events: list[Event], provinces: Provinces) -> list[EventView]:
    """Each event with its kind, its province and that province's current unit."""
    return [
        EventView(e, EventKind(e.kind), provinces.get(e.province_id),
                  provinces.current_of(provinces.get(e.province_id)))
        for e in events
    ]  # fmt: skip


# ----------------------------------------------------------------------------- the list


@dataclass
class EventLists:
    upcoming: list[EventView]
    past: list[EventView]
    undated: list[EventView]
    showrooms: list[EventView]


def event_lists(session: Session, provinces: Provinces, today: date) -> EventLists:
    """Fairs split by date (current/upcoming, past, dates unknown) and the showrooms."""
    views = event_views(list(session.exec(select(Event).order_by(col(Event.id))).all()), provinces)
    fairs = [v for v in views if v.kind is EventKind.FAIR]
    upcoming = sorted((v for v in fairs if v.last_day and v.last_day >= today),
                      key=lambda v: v.event.start_date or v.last_day or today)  # fmt: skip
    past = sorted((v for v in fairs if v.last_day and v.last_day < today),
                  key=lambda v: v.last_day or today, reverse=True)  # fmt: skip
    undated = [v for v in fairs if v.last_day is None]
    showrooms = sorted((v for v in views if v.kind is EventKind.SHOWROOM), key=lambda v: fold(v.event.name))
    return EventLists(upcoming, past, undated, showrooms)


def calendar_views(session: Session, provinces: Provinces) -> list[EventView]:
    """Every fair with a known first day, past and upcoming, in date order: the subscribable calendar.

    A subscriber keeps the fairs they went to, so past ones stay; showrooms have no dates.
    """
    dated = select(Event).where(Event.kind == EventKind.FAIR.value, col(Event.start_date).is_not(None))
    fairs = session.exec(dated.order_by(col(Event.start_date), col(Event.id))).all()
    return [v for v in event_views(list(fairs), provinces) if v.has_calendar]


# ----------------------------------------------------------------------------- one fair or showroom


@dataclass
class ExhibitorView:
    exhibitor: Exhibitor
    producer: Producer
    products: list[ProductSummary]
    #: The producer's province as recorded, and the unit it is part of now.
    province: Province | None = None
    current_province: Province | None = None


@dataclass
class EventPage:
    view: EventView
    exhibitors: list[ExhibitorView]
    ceremonies: list[SelectionRound]


def event_page(session: Session, slug: str, provinces: Provinces) -> EventPage | None:
    """A fair or showroom with its exhibitors (by booth) and the rounds awarded there."""
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
            # Two products merged into one leave two exhibit rows (kept, so the merge can be undone).
            if product_id not in shown[exhibitor_id]:
                shown[exhibitor_id].append(product_id)
    summaries = {s.product.id: s for s in load_summaries(
        session, sorted({pid for ids in shown.values() for pid in ids}), provinces)}  # fmt: skip
    items = []
    for ex, producer in exhibitors:
        home = provinces.get(producer.province_id)
        products = [summaries[pid] for pid in shown[pk(ex)] if pid in summaries]
        items.append(ExhibitorView(ex, producer, products, home, provinces.current_of(home)))
    # Booth numbers sort naturally when numeric ("2" before "10"); unknown booths last.
    items.sort(key=lambda x: (x.exhibitor.booth is None, _natural(x.exhibitor.booth), fold(x.producer.name)))
    ceremonies = list(session.exec(
        select(SelectionRound).where(SelectionRound.ceremony_event_id == event.id)
        .order_by(col(SelectionRound.year).desc(), col(SelectionRound.id))
    ).all())  # fmt: skip
    return EventPage(event_views([event], provinces)[0], items, ceremonies)


def _natural(text: str | None) -> tuple[int, str]:
    digits = "".join(c for c in text or "" if c.isdigit())
    return (int(digits) if digits else 0, text or "")


# ----------------------------------------------------------------------------- on the registry's pages


def home_fairs(session: Session, provinces: Provinces, today: date) -> list[EventView]:
    """The home page's fairs: every current and upcoming one, then the last three past."""
    lists = event_lists(session, provinces, today)
    return lists.upcoming + lists.past[:3]


@dataclass
class Exhibition:
    view: EventView
    booth: str | None


def exhibitions(session: Session, product_id: int, provinces: Provinces) -> list[Exhibition]:
    """Where a product was shown (each fair or showroom once), latest first."""
    rows = session.exec(
        select(Event, Exhibitor.booth)
        .join(Exhibitor, col(Exhibitor.event_id) == Event.id)
        .join(Exhibit, col(Exhibit.exhibitor_id) == Exhibitor.id)
        .where(Exhibit.product_id == product_id)
    ).all()  # fmt: skip
    seen: set[int] = set()
    out = []
    for event, booth in rows:
        if event.id not in seen:
            seen.add(pk(event))
            out.append(Exhibition(event_views([event], provinces)[0], booth))
    out.sort(key=lambda x: x.view.last_day or date.min, reverse=True)
    return out


def ceremonies(session: Session, summary: ProductSummary, provinces: Provinces) -> dict[int, EventView]:
    """Certificate id → the event where its round's awards were presented."""
    event_ids = {v.round.ceremony_event_id for v in summary.certificates if v.round.ceremony_event_id}
    if not event_ids:
        return {}
    found = session.exec(select(Event).where(col(Event.id).in_(event_ids))).all()
    events = {v.event.id: v for v in event_views(list(found), provinces)}
    return {
        v.cert.id: events[v.round.ceremony_event_id]
        for v in summary.certificates
        if v.round.ceremony_event_id in events and v.cert.id is not None
    }


def round_ceremony(session: Session, round_: SelectionRound, provinces: Provinces) -> EventView | None:
    """The event where a round's awards were presented, when recorded."""
    if not round_.ceremony_event_id:
        return None
    event = session.get(Event, round_.ceremony_event_id)
    return event_views([event], provinces)[0] if event else None


class OnRegistryPages:
    """The fairs on the registry's pages (a :class:`~catalogue.registry.parts.PageParts`)."""

    def home(self, session: Session, provinces: Provinces, today: date) -> dict[str, object]:
        return {"fairs": home_fairs(session, provinces, today)}

    def product(self, session: Session, provinces: Provinces, summary: ProductSummary) -> dict[str, object]:
        return {
            "exhibitions": exhibitions(session, pk(summary.product), provinces),
            "ceremonies": ceremonies(session, summary, provinces),
        }

    def round(self, session: Session, provinces: Provinces, round_: SelectionRound) -> dict[str, object]:
        return {"ceremony": round_ceremony(session, round_, provinces)}
