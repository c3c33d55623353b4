"""What a scanned serial code names: its run, the certificate, and whether its label is withdrawn.

Reads only (three short SELECTs): a publish holding the registry's write lock never delays it.
A code whose serial lies beyond its run's count is unknown, like a forged one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from catalogue.label_runs.codes import SerialCode
from catalogue.label_runs.models import LabelRun, LabelWithdrawal
from catalogue.verification import services as svc

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
        .where(
            _w.c.run_id == serial.run_id,
            _w.c.first_serial <= serial.serial,
            _w.c.last_serial >= serial.serial,
        )
        .order_by(_w.c.id)
        .limit(1)
    ).first()
    withdrawn = Withdrawn(*row) if row is not None else None
    return SerialCheck(serial.code, serial.run_id, serial.serial, check, withdrawn)
