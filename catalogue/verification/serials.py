"""A serial code's own signal: who checked this one label first, and on how many device-days since.

Only a code printed on a single package can say this: a sealed product just bought whose
label was already checked elsewhere carries a copied label. The certificate's verdict
stays the certificate's; a withdrawn label (a lost roll) reads "label withdrawn".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from catalogue.i18n import local_time
from catalogue.label_runs.codes import parse_serial, printed_serial
from catalogue.label_runs.lookup import SerialCheck, Withdrawn, find_serial
from catalogue.verification import counting
from catalogue.verification.counting import Tally


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


def count(conn: Connection, found: SerialCheck, device: str, counted: bool) -> LabelState:
    """Count this check of the label when ``counted`` (a person's plain scan of the page), else only
    read its history (the API, ``?as_of``, HEAD, preview fetchers)."""
    if counted:
        return label_state(found, counting.record(found.code, device, registry=conn), own=True)
    # Not counted (a date question, the API…): still the first if this device was, earlier today.
    return label_state(found, counting.tally(found.code), own=counting.seen(found.code, device))
