"""Time comes from the application's clock (``catalogue.clock``), never from the
machine's date or the database server's: the suite gives the same answers in any
year, and moving the clock (the ``clock`` fixture) moves every date the app shows
or stores."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from flask import Flask
from sqlmodel import Session, select
from time_machine import Traveller

from catalogue import clock as app_clock
from catalogue.audit.models import AuditEntry, OutboxEvent
from catalogue.config import PROJECT_ROOT
from catalogue.db import get_engine
from catalogue.registry.models import Certificate
from tests.conftest import FROZEN

LATER = datetime(2031, 6, 30, 9, 0, tzinfo=app_clock.VIETNAM)

#: Reading the time anywhere but catalogue/clock.py: the machine's or the database's clock.
_DIRECT = re.compile(r"\b(?:date|datetime)\.(?:today|now|utcnow)\(")
_SERVER_CLOCK = re.compile(
    r"func\.(?:now|current_date|current_timestamp|current_time|localtimestamp|sysdate)\b"
    r"|\bcurrent_(?:date|timestamp|time)\b|\blocaltimestamp\b|\b(?:clock|statement|transaction)_timestamp\b"
    r"|(?<![\w.])now\(\)|['\"]now['\"]\s*\)",
    re.IGNORECASE,
)


def _utc_day(value: datetime) -> date:
    """The UTC day of a stored timestamp (SQLite gives it back without a zone)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()


def test_every_test_starts_on_the_frozen_day_whatever_the_machine_says() -> None:
    assert app_clock.today() == FROZEN.date()
    assert app_clock.utcnow().date() == FROZEN.astimezone(UTC).date()


def test_status_follows_the_applications_clock(
    seeded_app: Flask, make_certificate: Callable[..., str], clock: Traveller
) -> None:
    code = make_certificate(certificate_number="31/GCN-SCT", year=2025, issued_on=date(2025, 8, 15),
                            expires_on=date(2027, 8, 14))  # fmt: skip
    client = seeded_app.test_client()
    assert client.get(f"/api/v1/verify/{code}").get_json()["status"] == "valid"
    clock.move_to(LATER)
    assert client.get(f"/api/v1/verify/{code}").get_json()["status"] == "expired"
    assert 'max="2031-06-30"' in client.get(f"/v/{code}").get_data(as_text=True)  # the as-of picker's today


def test_stored_timestamps_come_from_the_applications_clock(
    seeded_app: Flask, make_certificate: Callable[..., str], clock: Traveller
) -> None:
    """Not the database server's: on PostgreSQL its clock is the real one."""
    clock.move_to(LATER)
    code = make_certificate(certificate_number="32/GCN-SCT", year=2031, issued_on=date(2031, 6, 1))
    with seeded_app.app_context(), Session(get_engine()) as session:
        cert = session.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        audit = session.exec(select(AuditEntry).where(AuditEntry.entity_type == "certificate",
                                                      AuditEntry.entity_id == cert.id)).all()  # fmt: skip
        outbox = session.exec(select(OutboxEvent).where(OutboxEvent.product_id == cert.product_id)).all()
    assert audit and outbox
    stamps = [cert.created_at, cert.updated_at, *(a.at for a in audit), *(o.created_at for o in outbox)]
    assert {_utc_day(s) for s in stamps} == {LATER.date()}


def test_no_code_reads_the_machines_or_the_database_servers_clock() -> None:
    offenders = []
    sources = [
        *(PROJECT_ROOT / "catalogue").rglob("*.py"),
        *(PROJECT_ROOT / "migrations").rglob("*.py"),
        *(PROJECT_ROOT / "tests").rglob("*.py"),
    ]
    for path in sorted(sources):
        if path in (Path(app_clock.__file__).resolve(), Path(__file__).resolve()):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if _DIRECT.search(code) or _SERVER_CLOCK.search(code):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{n}: {line.strip()}")
    assert offenders == [], "read the time through catalogue.clock:\n" + "\n".join(offenders)
