"""An uploaded decision list as header-mapped rows; hostile files are refused, cheaply and clearly.

:func:`sniff` tells an XLSX from text by content (refusing legacy and
password-protected Excel files); :func:`read_grid` returns the raw rows of the
first sheet (:mod:`.workbook`) or of a CSV file (:mod:`.csv_files`), and
:func:`read_table` finds the header row and keys every row by the format's
field names (:data:`catalogue.registry.rows.HEADERS`). The bounds all keep, and
the :class:`~catalogue.imports.bounds.ImportFileError` that explains a refusal,
are in :mod:`.bounds`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext

from catalogue.imports.bounds import (
    HEADER_SEARCH_ROWS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    ImportFileError,
    password_protected,
    too_large,
    too_many_rows,
)
from catalogue.imports.csv_files import csv_rows, decode_text
from catalogue.imports.workbook import xlsx_rows
from catalogue.registry.rows import HEADERS, REQUIRED, header_field
from catalogue.text import nfc, words_key

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls, or an encrypted OOXML package
_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")

#: The column the marked-up download adds (:mod:`.annotated`), in both languages; a re-upload
#: of that file reads past it silently.
PROBLEMS_HEADER = "Vấn đề cần sửa (problems)"
_PROBLEMS_KEY = words_key(PROBLEMS_HEADER)


def is_problems_header(value: Any) -> bool:
    """The marked-up download's own problems column (never a field, never an unknown column)."""
    return value is not None and words_key(str(value)) == _PROBLEMS_KEY


def check_size(data: bytes) -> None:
    """Refuse a file over :data:`~catalogue.imports.bounds.MAX_FILE_BYTES`."""
    if len(data) > MAX_FILE_BYTES:
        raise too_large(len(data))


def sniff(data: bytes) -> str:
    """``xlsx``, ``text``, or a refusal for the kinds we recognise but cannot read."""
    if not data or not data.strip():
        raise ImportFileError(gettext("The file is empty."))
    check_size(data)
    if data.startswith(_XLSX_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC):
        if _ENCRYPTED_MARK in data:
            raise password_protected()
        raise ImportFileError(
            gettext(
                "This is an old Excel file (.xls). Open it in Excel and save it as .xlsx "
                "(Excel Workbook) or as CSV UTF-8."
            )
        )
    return "text"


def read_grid(data: bytes) -> tuple[Iterator[list[Any]], str | None]:
    """Rows of an XLSX (first sheet) or CSV file, judged by content; the text encoding for CSV."""
    if sniff(data) == "xlsx":
        return xlsx_rows(data), None
    text, encoding = decode_text(data)
    return csv_rows(text), encoding


@dataclass
class Table:
    """A spreadsheet reduced to rows keyed by canonical field name."""

    rows: list[tuple[int, dict[str, Any]]]
    header_line: int
    columns: dict[str, str]  # canonical field → header as written in the file
    ignored: list[str] = field(default_factory=list)
    encoding: str | None = None
    #: Canonical field → its column (1 for A), where the marked-up download puts a problem.
    positions: dict[str, int] = field(default_factory=dict)


def read_table(data: bytes, filename: str = "") -> Table:
    """Header-mapped rows of an XLSX (first sheet) or CSV file, judged by content.

    Reading is bounded (:mod:`.bounds`): a hostile file is refused with a plain
    explanation before it can cost much memory or time.
    """
    grid, encoding = read_grid(data)
    return _map_headers(grid, encoding)


def _cell(value: Any) -> Any:
    """A JSON-safe cell value: text trimmed and NFC, dates as ISO, numbers kept."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "x" if value else ""
    if isinstance(value, int | float):
        return value
    text = nfc(str(value))
    return text or None


def _map_headers(grid: Iterable[list[Any]], encoding: str | None) -> Table:
    iterator = iter(grid)
    header: list[Any] | None = None
    header_line = 0
    for line, row in enumerate(iterator, start=1):
        if line > HEADER_SEARCH_ROWS:
            break
        if sum(1 for c in row if header_field(c)) >= 3:
            header, header_line = row, line
            break
    if header is None:
        hint = ""
        if encoding == "cp1258":
            hint = " " + gettext(
                "If the file was saved in an old Vietnamese encoding (TCVN3/ABC or VNI), "
                "save it again as “CSV UTF-8” or .xlsx."
            )

        raise ImportFileError(
            gettext(
                "No header row found. The first row of the table must name the columns, "
                "as in the template: %(headers)s.",
                headers=", ".join(HEADERS[f][0] for f in REQUIRED),
            )
            + hint
        )

    columns: dict[int, str] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        name = header_field(cell)
        label = nfc(str(cell)) if cell is not None else ""
        if name is None:
            if label and not is_problems_header(cell):
                ignored.append(label)
            continue
        if name in written:
            raise ImportFileError(gettext("The column “%(column)s” appears twice.", column=label))
        columns[index] = name
        written[name] = label
    missing = [HEADERS[f][0] for f in REQUIRED if f not in written]
    if missing:
        raise ImportFileError(
            gettext("Required columns are missing: %(columns)s.", columns=", ".join(missing))
        )

    rows: list[tuple[int, dict[str, Any]]] = []
    for line, row in enumerate(iterator, start=header_line + 1):
        values = {name: _cell(row[i]) for i, name in columns.items() if i < len(row)}
        if not any(v not in (None, "") for v in values.values()):
            continue
        rows.append((line, values))
        if len(rows) > MAX_ROWS:
            raise too_many_rows()
    if not rows:
        raise ImportFileError(gettext("The file has a header row but no product rows."))
    positions = {name: index + 1 for index, name in columns.items()}
    return Table(
        rows=rows,
        header_line=header_line,
        columns=written,
        ignored=ignored,
        encoding=encoding,
        positions=positions,
    )
