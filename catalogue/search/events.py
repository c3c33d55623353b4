"""Fairs and showrooms a search's words find, listed beside the products.

Events are few (dozens), so they are matched in memory with the search's own
parsing and accent folding rather than indexed: a new fair shows up at once,
and ``gốm`` finds the ceramics showroom exactly as ``gom`` does.
"""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session, col, select

from catalogue.fairs.models import Event, Exhibit, Exhibitor
from catalogue.fairs.pages import EventView, event_views
from catalogue.places.services import Provinces
from catalogue.registry.models import Product
from catalogue.search.analysis import folded_tokens
from catalogue.search.params import SearchParams
from catalogue.search.query import ParsedQuery, parse
from catalogue.search.schema import GROUP_VI, english
from catalogue.text import nfc
from catalogue.vocab import EventKind, ProductGroup

#: At most this many events are listed above the products.
MAX_EVENTS = 5


def matching_events(session: Session, params: SearchParams, provinces: Provinces) -> list[EventView]:
    """Fairs and showrooms whose words hold every word of the query, within the province filter.

    An event's words: its name, organiser, venue, description, province (printed, current and
    former names) and the groups of the products its exhibitors show. Showrooms (always open)
    come first, then fairs, latest first. Empty without words.
    """
    parsed = parse(params.q)
    if not parsed.clauses:
        return []
    groups: dict[int, set[str]] = defaultdict(set)
    for event_id, group in session.exec(
        select(Exhibitor.event_id, Product.group).distinct()
        .join(Exhibit, col(Exhibit.exhibitor_id) == Exhibitor.id)
        .join(Product, col(Product.id) == Exhibit.product_id)
        .where(col(Product.group).is_not(None))
    ).all():  # fmt: skip
        if group:
            groups[event_id].add(group)
    found = []
    for view in event_views(list(session.exec(select(Event).order_by(col(Event.id))).all()), provinces):
        if params.provinces and (view.current_province is None
                                 or view.current_province.slug not in params.provinces):  # fmt: skip
            continue
        if _matches(parsed, folded_tokens(_words(view, groups[view.event.id or 0], provinces))):
            found.append(view)
    found.sort(key=_showrooms_then_latest)
    return found[:MAX_EVENTS]


def _showrooms_then_latest(view: EventView) -> tuple[bool, int]:
    return view.kind is not EventKind.SHOWROOM, -(view.last_day.toordinal() if view.last_day else 0)


def _words(view: EventView, groups: set[str], provinces: Provinces) -> str:
    e = view.event
    parts = [e.name, e.organiser or "", e.venue or "", e.description or ""]
    if view.province is not None:
        parts.append(view.province.short_name)
    if view.current_province is not None:
        parts += [view.current_province.short_name,
                  *(p.short_name for p in provinces.predecessors(view.current_province))]  # fmt: skip
    for value in sorted(groups):
        group = ProductGroup(value)
        parts += [GROUP_VI[group], english(group)]
    return nfc(" ".join(parts))


def _matches(parsed: ParsedQuery, tokens: list[str]) -> bool:
    """Every word and prefix among ``tokens``, every phrase as consecutive tokens."""
    words = set(tokens)
    if any(folded not in words for _, folded in parsed.words):
        return False
    if any(not any(t.startswith(prefix) for t in words) for prefix in parsed.prefixes):
        return False
    for phrase in parsed.phrases:
        n = len(phrase)
        if not any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1)):
            return False
    return True
