"""A run's codes as a CSV of URLs for label printers (variable-data printing).

Streams: a million rows are computed and written in a few seconds without holding
them in memory. Columns: ``serial``, ``code``, ``url`` (the QR's content). UTF-8
without BOM (printer software reads plain ASCII; every value here is ASCII).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from catalogue.db import pk
from catalogue.label_runs import codes
from catalogue.label_runs.models import LabelRun

HEADER = "serial,code,url\n"
#: Rows joined per write, and between progress reports.
CHUNK = 20_000


def write_csv(
    out: IO[str],
    run: LabelRun,
    *,
    keys: dict[str, str],
    base_url: str,
    first: int = 1,
    last: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write serials ``first..last`` (default: the whole run); returns how many rows."""
    last = run.count if last is None else last
    if not 1 <= first <= last <= run.count:
        raise ValueError("serial range outside the run")
    prefix = f"{base_url.rstrip('/')}/v/"
    total = last - first + 1
    out.write(HEADER)
    done = 0
    batch: list[str] = []
    for serial, code in enumerate(codes.serial_codes(keys, run.key_id, pk(run), first, last), start=first):
        batch.append(f"{serial},{code},{prefix}{code}\n")
        if len(batch) == CHUNK:
            out.write("".join(batch))
            done += len(batch)
            batch.clear()
            if progress is not None:
                progress(done, total)
    out.write("".join(batch))
    done += len(batch)
    if progress is not None:
        progress(done, total)
    return done
