"""A fair's iCalendar (.ics) file, written by the ``icalendar`` library (RFC 5545).

One all-day event per file; the library escapes text, folds long lines at 75
octets and ends lines with CRLF.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from catalogue.fairs.pages import EventView

PRODID = "-//catalogue//Registry of outstanding rural industrial products//VI"


def event_ics(view: EventView, *, url: str, host: str, now: datetime, description: str) -> str:
    """An iCalendar file with one all-day event (DTEND is exclusive, so last day + 1).

    When the source gives only the first day, DTSTART alone means a one-day event
    (RFC 5545 §3.6.1) and ``description`` says the end is unknown. The UID stays the
    same for an event, so a calendar updates its entry instead of adding another;
    ``now`` (the app's clock) is the DTSTAMP.
    """
    e = view.event
    assert e.start_date is not None, "no calendar without a first day"
    location = ", ".join(x for x in (e.venue, view.province.name if view.province else None) if x)
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
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
    calendar.add_component(entry)
    return calendar.to_ical().decode("utf-8")
