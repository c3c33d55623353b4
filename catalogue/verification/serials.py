"""A package's own code (a label run's serial): what it names, and who checked it first.

Only a code printed on a single package can say "first checked on …": a sealed product
just bought whose label was already checked elsewhere carries a copied label. The
certificate's verdict stays the certificate's; a withdrawn label (a lost roll) reads
"label withdrawn". Looking a code up only reads (three short SELECTs), so a publish
holding the registry's write lock never delays it; a serial past its run's count is
unknown, like a forged one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select

from catalogue.i18n import local_time
from catalogue.verification import counting
from catalogue.verification import services as svc
from catalogue.verification.counting import Tally
from catalogue.verification.models import LabelRun, LabelWithdrawal
from catalogue.verification.serial_codes import SerialCode, is_serial, parse_serial, printed_serial

_run = svc.core_table(LabelRun)
_w = svc.core_table(LabelWithdrawal)


@dataclass(frozen=True)
class Withdrawn:
    withdrawn_on: datetime
    reason: str
    first_serial: int
    last_serial: int


@dataclass(frozen=True)
class SerialCheck:
    """A serial code as the verify page and the API show it."""

    code: str
    run_id: int
    serial: int
    check: svc.CertificateCheck
    withdrawn: Withdrawn | None


def labels_since(conn: Connection, certificate_id: int) -> datetime | None:
    """When the certificate's first label run was issued: packages made since carry their own code."""
    first = select(func.min(_run.c.created_at)).where(_run.c.certificate_id == certificate_id)
    started: datetime | None = conn.execute(first).scalar()
    return started


def find_serial(conn: Connection, serial: SerialCode) -> SerialCheck | None:
    """The run, certificate and withdrawal of a (parsed, authentic) serial code; None if unknown."""
    run = conn.execute(select(_run.c.certificate_id, _run.c.count).where(_run.c.id == serial.run_id)).first()
    if run is None or serial.serial > run[1]:
        return None
    check = svc.find_by_id(conn, run[0])
    if check is None:
        return None
    row = conn.execute(
        select(_w.c.withdrawn_on, _w.c.reason, _w.c.first_serial, _w.c.last_serial)
        .where(_w.c.run_id == serial.run_id)
        .where(_w.c.first_serial <= serial.serial, _w.c.last_serial >= serial.serial)
        .order_by(_w.c.id)
        .limit(1)
    ).first()
    withdrawn = Withdrawn(*row) if row is not None else None
    return SerialCheck(serial.code, serial.run_id, serial.serial, check, withdrawn)


@dataclass(frozen=True)
class LabelState:
    code: str
    run_id: int
    serial: int
    withdrawn: Withdrawn | None
    #: None when the check log could not be read.
    device_days: int | None
    first_checked_at: datetime | None
    #: This request is the label's first device-day (its own reloads included).
    first_to_check: bool

    @property
    def withdrawn_day(self) -> date | None:
        """The withdrawal's day in Vietnam time."""
        return local_time(self.withdrawn.withdrawn_on).date() if self.withdrawn is not None else None

    @property
    def printed_serial(self) -> str:
        return printed_serial(self.serial)

    @property
    def days_since_first(self) -> int:
        """Device-days after the first one."""
        return max((self.device_days or 0) - 1, 0)


def label_state(found: SerialCheck, tally: Tally | None, own: bool) -> LabelState:
    """``tally``: the label's check log after this request (None: the log is down);
    ``own``: this device's check is in it (this request was counted, or it checked earlier today)."""
    days = tally.device_days if tally is not None else None
    return LabelState(
        code=found.code, run_id=found.run_id, serial=found.serial, withdrawn=found.withdrawn,
        device_days=days,
        first_checked_at=tally.first_at if tally is not None else None,
        first_to_check=own and days == 1,
    )  # fmt: skip


def look_up(conn: Connection, code: str, keys: dict[str, str]) -> SerialCheck | None:
    """The run, certificate and withdrawal of a canonical serial code; None if unknown."""
    parsed = parse_serial(code, keys)
    return find_serial(conn, parsed) if parsed is not None else None


def look_up_any(
    conn: Connection, code: str, keys: dict[str, str]
) -> tuple[SerialCheck | None, svc.CertificateCheck | None]:
    """A canonical code of either kind: (its label when it is a package's code, the certificate it names)."""
    found = look_up(conn, code, keys) if is_serial(code) else None
    return found, found.check if found is not None else svc.find_by_code(conn, code)


def count(conn: Connection, found: SerialCheck, device: str, counted: bool) -> LabelState:
    """Count this check of the label when ``counted`` (a person's plain scan of the page), else only
    read its history (the API, ``?as_of``, HEAD, preview fetchers)."""
    if counted:
        return label_state(found, counting.record(found.code, device, registry=conn), own=True)
    # Not counted (a date question, the API…): still the first if this device was, earlier today.
    return label_state(found, counting.tally(found.code), own=counting.seen(found.code, device))
