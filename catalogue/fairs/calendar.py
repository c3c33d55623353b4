"""Fairs' iCalendar (.ics) files, written by the ``icalendar`` library (RFC 5545).

One file per fair, and one with every dated fair for subscribing (``/events.ics``);
both are built from :func:`vevent`, so an entry is the same (same UID) in either.
The library escapes text, folds long lines at 75 octets and ends lines with CRLF.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import icalendar
from flask_babel import gettext as _

from catalogue.fairs.pages import EventView

PRODID = "-//catalogue//Registry of outstanding rural industrial products//VI"
#: How often a subscribed calendar should look again (fairs change rarely).
REFRESH = timedelta(days=1)


def notes(view: EventView, url: str) -> str:
    """The entry's description: a missing last day said plainly, the organiser and the fair's page."""
    lines = [_("End date unknown.") if view.event.end_date is None else "", view.event.organiser or "", url]
    return "\n".join(line for line in lines if line)


def vevent(view: EventView, *, url: str, host: str, now: datetime, description: str) -> icalendar.Event:
    """A fair as one all-day event (DTEND is exclusive, so last day + 1).

    When the source gives only the first day, DTSTART alone means a one-day event
    (RFC 5545 §3.6.1) and ``description`` says the end is unknown. The UID stays the
    same for an event, so a calendar updates its entry instead of adding another;
    ``now`` (the app's clock) is the DTSTAMP.
    """
    e = view.event
    assert e.start_date is not None, "no calendar without a first day"
    location = ", ".join(x for x in (e.venue, view.province.name if view.province else None) if x)
    entry = icalendar.Event()
    entry.add("uid", f"event-{e.id}-{e.slug[:40]}@{host}")
    # DTSTAMP is in UTC ("Z"); a naive time is taken to be UTC already.
    entry.add("dtstamp", now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC))
    entry.add("dtstart", e.start_date)
    if e.end_date is not None and e.end_date >= e.start_date:
        entry.add("dtend", e.end_date + timedelta(days=1))
    entry.add("summary", e.name)
    if location:
        entry.add("location", location)
    if description:
        entry.add("description", description)
    entry.add("url", url)
    return entry


def calendar_file(entries: Iterable[icalendar.Event], *, name: str | None = None) -> str:
    """A VCALENDAR holding ``entries``; ``name`` makes it a named, subscribable calendar."""
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
        calendar.add("name", name)  # RFC 7986
        calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", "P1D")  # the same, as Outlook reads it
    for entry in entries:
        calendar.add_component(entry)
    return calendar.to_ical().decode("utf-8")


def event_ics(view: EventView, *, url: str, host: str, now: datetime, description: str) -> str:
    """An iCalendar file with one fair."""
    return calendar_file([vevent(view, url=url, host=host, now=now, description=description)])
