"""A run's codes as a CSV of URLs for label printers (variable-data printing).

Streams: a million rows are computed and written in a few seconds without holding
them in memory. Columns: ``serial``, ``code``, ``url`` (the QR's content). UTF-8
without BOM (printer software reads plain ASCII; every value here is ASCII).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import IO

from catalogue.db import pk
from catalogue.verification import serial_codes as codes
from catalogue.verification.models import LabelRun

HEADER = "serial,code,url\n"
#: Rows joined per write, and between progress reports.
CHUNK = 20_000


def labels(
    run: LabelRun, ranges: Sequence[tuple[int, int]], keys: dict[str, str], base_url: str
) -> Iterator[tuple[int, str, str]]:
    """``(serial, code, url)`` of every serial in ``ranges`` (each ``first..last`` of the run)."""
    prefix = f"{base_url.rstrip('/')}/v/"
    for first, last in ranges:
        run_codes = codes.serial_codes(keys, run.key_id, pk(run), first, last)
        for serial, code in enumerate(run_codes, start=first):
            yield serial, code, prefix + code


def write_csv(
    out: IO[str],
    run: LabelRun,
    ranges: Sequence[tuple[int, int]],
    *,
    keys: dict[str, str],
    base_url: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the serials of ``ranges`` (see :func:`catalogue.label_runs.runs.printable_ranges`)
    under one header; returns how many rows."""
    total = sum(last - first + 1 for first, last in ranges)
    out.write(HEADER)
    done = 0
    batch: list[str] = []
    for serial, code, url in labels(run, ranges, keys, base_url):
        batch.append(f"{serial},{code},{url}\n")
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
