"""The read models behind the public pages: event grouping by date, calendar
files, provenance links, pagination and the home page's counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar
from flask import Flask
from sqlmodel import Session, select

from catalogue.clock import today, utcnow
from catalogue.db import get_session
from catalogue.fairs import calendar
from catalogue.fairs import pages as fair_pages
from catalogue.fairs.models import Event
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry import pages
from catalogue.vocab import EventKind
from tests import seeddata


def _fair(session: Session, name: str, start: date | None, end: date | None, **kw: object) -> Event:
    event = Event(
        slug=name.lower().replace(" ", "-"), kind="fair", name=name, start_date=start, end_date=end, **kw
    )  # type: ignore[arg-type]
    session.add(event)
    session.commit()
    return event


def test_a_fair_still_running_or_to_come_is_upcoming_and_a_finished_one_is_past(db_session: Session) -> None:
    day = date(2024, 5, 18)
    lists = fair_pages.event_lists(db_session, Provinces.load(db_session), day)
    upcoming = {v.event.name for v in lists.upcoming}
    # The northern regional fair ran 16–19/5/2024: on the 18th it is current.
    assert any("khu vực phía Bắc năm 2024" in name for name in upcoming)
    counts = seeddata.fairs_on(day)
    assert (len(lists.upcoming), len(lists.past), len(lists.undated)) == counts and min(counts) > 0
    assert all(v.last_day is not None and v.last_day >= day for v in lists.upcoming)
    assert all(v.last_day is not None and v.last_day < day for v in lists.past)
    assert all(v.kind is EventKind.FAIR and v.last_day is None for v in lists.undated)
    assert {v.kind for v in lists.showrooms} == {EventKind.SHOWROOM}
    assert len(lists.showrooms) == seeddata.events("showroom") > 0
    listed = len(lists.upcoming) + len(lists.past) + len(lists.undated) + len(lists.showrooms)
    assert listed == seeddata.events()


def test_an_upcoming_fair_shows_on_the_home_page(seeded_app: Flask, db_session: Session) -> None:
    start = today() + timedelta(days=20)
    _fair(db_session, "Hoi cho CNNT sap toi", start, start + timedelta(days=3), venue="Nhà văn hóa tỉnh")
    fairs = fair_pages.home_fairs(db_session, Provinces.load(db_session), today())
    assert fairs[0].event.name == "Hoi cho CNNT sap toi"
    home = seeded_app.test_client().get("/?lang=en").get_data(as_text=True)
    assert home.index("<h2>Fairs and showrooms") < home.index("Hoi cho CNNT sap toi")
    body = seeded_app.test_client().get("/events?lang=en").get_data(as_text=True)
    current = body.index("Current and upcoming fairs")
    assert current < body.index("Hoi cho CNNT sap toi") < body.index("<h2>Showrooms")


def test_calendar_text_is_escaped_and_folded_at_75_octets(db_session: Session) -> None:
    province = db_session.exec(select(Province).where(Province.slug == "ha-noi")).one()
    name = "Hội chợ; triển lãm, hàng công nghiệp nông thôn tiêu biểu khu vực phía Bắc năm 2026"
    event = _fair(db_session, name, date(2026, 12, 30), date(2027, 1, 2),
                  venue="Cung Triển lãm, Hà Nội", province_id=province.id)  # fmt: skip
    view = fair_pages.EventView(event, EventKind.FAIR, province, province)
    ics = calendar.event_ics(
        view, url="http://registry.test/events/x", host="registry.test",
        now=datetime(2026, 11, 1, 8, 0, tzinfo=UTC), description="Line one\nLine two",
    )  # fmt: skip
    lines = ics.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    unfolded = ics.replace("\r\n ", "")
    assert "SUMMARY:Hội chợ\\; triển lãm\\, hàng công nghiệp" in unfolded
    assert "LOCATION:Cung Triển lãm\\, Hà Nội\\, Thành phố Hà Nội" in unfolded
    assert "DESCRIPTION:Line one\\nLine two" in unfolded
    assert "DTSTART;VALUE=DATE:20261230" in unfolded and "DTEND;VALUE=DATE:20270103" in unfolded
    assert "DTSTAMP:20261101T080000Z" in unfolded


def test_the_calendar_file_parses_back_with_every_field(db_session: Session) -> None:
    """Read by a calendar library (icalendar), the file holds one all-day event with our fields."""
    province = db_session.exec(select(Province).where(Province.slug == "ha-noi")).one()
    name = "Hội chợ; triển lãm, hàng công nghiệp nông thôn tiêu biểu khu vực phía Bắc năm 2026"
    event = _fair(db_session, name, date(2026, 12, 30), date(2027, 1, 2),
                  venue="Cung Triển lãm, Hà Nội", province_id=province.id)  # fmt: skip
    view = fair_pages.EventView(event, EventKind.FAIR, province, province)
    now = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def ics(stamp: datetime) -> str:
        return calendar.event_ics(
            view, url="http://registry.test/events/x", host="registry.test",
            now=stamp, description="Line one\nLine two",
        )  # fmt: skip

    text = ics(now)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    parsed = icalendar.Calendar.from_ical(text)
    assert str(parsed["VERSION"]) == "2.0" and str(parsed["METHOD"]) == "PUBLISH"
    (entry,) = parsed.walk("VEVENT")
    # All-day: DTSTART and DTEND are dates, DTEND the day after the last day.
    start, end = entry.decoded("DTSTART"), entry.decoded("DTEND")
    assert type(start) is date and type(end) is date
    assert (start, end) == (date(2026, 12, 30), date(2027, 1, 3))
    assert str(entry["SUMMARY"]) == name
    assert str(entry["LOCATION"]) == "Cung Triển lãm, Hà Nội, Thành phố Hà Nội"
    assert str(entry["DESCRIPTION"]) == "Line one\nLine two"
    assert str(entry["URL"]) == "http://registry.test/events/x"
    assert entry.decoded("DTSTAMP") == now
    # The UID names the event, so a calendar updates its entry rather than adding one.
    uid = str(entry["UID"])
    assert uid == f"event-{event.id}-{event.slug[:40]}@registry.test"
    later = icalendar.Calendar.from_ical(ics(now + timedelta(days=3))).walk("VEVENT")[0]
    assert str(later["UID"]) == uid and later.decoded("DTSTAMP") == now + timedelta(days=3)


def test_the_calendar_stamp_is_the_app_clock(seeded_app: Flask) -> None:
    """DTSTAMP is the moment of the download by the app's clock (frozen in tests), in UTC."""
    with seeded_app.app_context():
        session = get_session()
        past = fair_pages.event_lists(session, Provinces.load(session), today()).past
        slug = next(v.event.slug for v in past if v.has_calendar)
    before = utcnow().replace(microsecond=0)
    body = seeded_app.test_client().get(f"/events/{slug}.ics").get_data(as_text=True)
    (entry,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert before <= entry.decoded("DTSTAMP") <= utcnow()


def test_a_fair_with_only_a_first_day_has_a_one_day_calendar_entry(db_session: Session) -> None:
    event = _fair(db_session, "Hoi cho mot ngay", date(2026, 3, 8), None)
    view = fair_pages.EventView(event, EventKind.FAIR, None, None)
    assert view.has_calendar
    ics = calendar.event_ics(view, url="u", host="h", now=datetime(2026, 1, 1, tzinfo=UTC), description="")
    assert "DTSTART;VALUE=DATE:20260308" in ics and "DTEND" not in ics and "LOCATION" not in ics
    only_end = fair_pages.EventView(_fair(db_session, "Chi biet ngay cuoi", None, date(2013, 12, 11)),
                               EventKind.FAIR, None, None)  # fmt: skip
    assert not only_end.has_calendar


def test_provenance_splits_into_links_and_notes() -> None:
    assert pages.source_parts("http://a.vn/x ; https://www.b.gov.vn/y") == [
        ("a.vn", "http://a.vn/x"), ("b.gov.vn", "https://www.b.gov.vn/y")]  # fmt: skip
    assert pages.source_parts("Quyết định 123/QĐ-UBND") == [("Quyết định 123/QĐ-UBND", None)]
    assert pages.source_parts("javascript:alert(1)") == [("javascript:alert(1)", None)]
    assert pages.source_parts(None) == []
    # A remark after an address (as the seed prints them) is text beside the link, never part of it.
    assert pages.source_parts("https://binhdinh.gov.vn/a.html (QĐ công nhận 60 sản phẩm; lists elided)") == [
        ("binhdinh.gov.vn", "https://binhdinh.gov.vn/a.html"),
        ("(QĐ công nhận 60 sản phẩm; lists elided)", None),
    ]


def test_province_page_number_out_of_range_is_the_last_page_not_an_error(seeded_app: Flask) -> None:
    client = seeded_app.test_client()
    for query in ("page=99", "page=abc", "page=-1", "page=0"):
        response = client.get(f"/provinces/dak-lak?{query}&lang=en")
        assert response.status_code == 200
        assert "Khay trà" not in response.get_data(as_text=True)
    page = pages.Page(items=[], number=2, total=81, per_page=40)
    assert page.pages == 3 and page.has_prev and page.has_next


def test_home_counts_products_under_their_current_province(db_session: Session) -> None:
    home = pages.home(db_session, Provinces.load(db_session), today())
    counts = {p.slug: n for p, n in home.provinces}
    # Đà Nẵng's count includes the products certified under Quảng Nam before 2025.
    assert counts["da-nang"] == seeddata.products_now_in("Đà Nẵng") > 0
    assert all(p.is_current for p, _ in home.provinces)
    assert sum(n for _, n in home.groups) == home.products == seeddata.products()
    levels = {c.level.value: c for c in home.levels}
    assert sum(c.total for c in levels.values()) == seeddata.certificates() > 0
    assert all(c.valid <= c.total for c in levels.values())
    # Levels are listed highest first.
    assert [c.level.rank for c in home.levels] == sorted((c.level.rank for c in home.levels), reverse=True)
