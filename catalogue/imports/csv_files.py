"""Reading a CSV upload within bounds: its encoding guessed safely, every row checked while streaming.

CSV goes through :mod:`csv` with its field-size limit caught, and every row is
checked for width and cell length as it is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterator
from typing import IO, Any

from flask_babel import gettext

from catalogue.imports.bounds import (
    HEADER_SEARCH_ROWS,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_LINES,
    ImportFileError,
    cell_too_long,
    figure,
    too_many_lines,
)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode a CSV file: UTF-8 (BOM or not), UTF-16 (Excel "Unicode text"), or Windows-1258.

    Legacy font encodings (TCVN3, VNI) cannot be told apart from Windows-1258
    reliably; they are caught later because the headers are not recognised.
    """
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif b"\x00" in data[:4096]:
        head = data[:4096]
        # ASCII text in UTF-16 has NUL in every other byte: odd positions for little-endian.
        candidates = ["utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"]
    else:
        candidates = ["utf-8", "cp1258"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break
        # Windows-1258 writes tones as combining marks: compose them (NFC).
        return unicodedata.normalize("NFC", text), encoding
    raise ImportFileError(
        gettext(
            "This file is neither a spreadsheet (XLSX) nor a text file we can read. "
            "In Excel choose “Save as” → “CSV UTF-8” or “Excel Workbook (.xlsx)”."
        )
    )


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\r\n\t")
    return controls > max(2, len(sample) // 100)


def csv_rows(text: str) -> Iterator[list[Any]]:
    """Rows of a decoded CSV, refused at the first one too wide or with a cell too long.

    ``csv`` refuses a field over its process-wide limit (128 KB) with ``csv.Error``;
    we leave that global alone and refuse longer-than-Excel cells ourselves.
    """
    head = [line for line in text[:65536].splitlines()[:HEADER_SEARCH_ROWS] if line.strip()]
    # Excel writes ";" where the list separator is ";" and tabs for "Unicode text".
    delimiter = max((",", ";", "\t"), key=lambda d: sum(line.count(d) for line in head))
    return _bounded_csv(io.StringIO(text, newline=""), delimiter)


def _bounded_csv(stream: IO[str], delimiter: str) -> Iterator[list[Any]]:
    reader = csv.reader(stream, delimiter=delimiter)
    line = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise cell_too_long(line + 1) from None
            raise ImportFileError(
                gettext(
                    "The CSV file could not be read near row %(line)s. Save it again as “CSV UTF-8”.",
                    line=figure(line + 1),
                )
            ) from None
        line += 1
        if line > MAX_LINES and any(v.strip() for v in values):
            raise too_many_lines(line)
        if len(values) > MAX_COLUMNS and any(v.strip() for v in values[MAX_COLUMNS:]):
            raise ImportFileError(
                gettext(
                    "Row %(line)s has %(n)s columns; at most %(limit)s columns are read. "
                    "Delete the columns to the right of the table.",
                    line=figure(line),
                    n=figure(len(values)),
                    limit=MAX_COLUMNS,
                )
            )
        if any(len(v) > MAX_CELL_CHARS for v in values):
            raise cell_too_long(line)
        yield values[:MAX_COLUMNS]
