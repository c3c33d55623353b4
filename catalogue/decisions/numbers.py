"""The certificate numbers a decision lists, read from pasted text or an uploaded CSV, XLSX or TXT file.

Files go through the imports' bounded readers (:func:`catalogue.imports.files.read_grid`):
a hostile file is refused the same way an upload of a decision list is. The numbers
are the column headed like the import format's certificate number ("Số giấy chứng
nhận", :func:`catalogue.registry.rows.header_field`), or else the first column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext

from catalogue.imports.bounds import HEADER_SEARCH_ROWS, ImportFileError, figure
from catalogue.imports.files import read_grid
from catalogue.registry.rows import cell_text, header_field
from catalogue.text import nfc

#: The most certificates one decision applies to, in one request: applying 1,000 took 2.9 s on
#: SQLite and 4.3 s on PostgreSQL (2 cores), over the few seconds a request may work (see README).
MAX_CERTIFICATES = 500

_SEPARATORS = re.compile(r"[\n\r,;\t]+")


@dataclass(frozen=True)
class Asked:
    """One certificate number as the official listed it, with its place in the list (1 for the first)."""

    position: int
    number: str


def too_many() -> ImportFileError:
    return ImportFileError(
        gettext(
            "One decision applies to at most %(limit)s certificates; this list has more. "
            "Split it into several decisions.",
            limit=figure(MAX_CERTIFICATES),
        )
    )


def _numbered(values: list[str]) -> list[Asked]:
    out = [Asked(i, v) for i, v in enumerate(values, start=1)]
    if len(out) > MAX_CERTIFICATES:
        raise too_many()
    return out


def from_text(text: str) -> list[Asked]:
    """Numbers pasted one per line, or separated by commas, semicolons or tabs."""
    return _numbered([n for n in (nfc(part) for part in _SEPARATORS.split(text or "")) if n])


def from_file(data: bytes) -> list[Asked]:
    """Numbers in an uploaded file: its certificate-number column, or its first column."""
    grid, _encoding = read_grid(data)
    rows = [list(r) for r in _bounded(grid)]
    column = 0
    start = 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = [i for i, cell in enumerate(row) if header_field(cell) == "certificate_number"]
        if found:
            column, start = found[0], index + 1
            break
    values = [cell_text(row[column]) if column < len(row) else "" for row in rows[start:]]
    numbers = [v for v in values if v]
    if not numbers:
        raise ImportFileError(gettext("The file lists no certificate numbers."))
    return _numbered(numbers)


def _bounded(grid: Any) -> Any:
    """The grid's rows, stopping with a refusal once the list is clearly over the cap."""
    kept = 0
    for row in grid:
        if any(cell_text(c) for c in row):
            kept += 1
            if kept > MAX_CERTIFICATES + HEADER_SEARCH_ROWS:
                raise too_many()
        yield row
