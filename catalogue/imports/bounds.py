"""The bounds every reader of an uploaded decision list keeps, and the refusals that explain them.

Shared by :mod:`.files` (what kind of file), :mod:`.workbook` (XLSX) and
:mod:`.csv_files` (CSV). Every refusal is an :class:`ImportFileError` whose
message is for the official, with real figures in the official's locale.
"""

from __future__ import annotations

from babel.numbers import format_decimal
from flask_babel import get_locale, gettext

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
#: Title lines above the header row that we look past ("DANH SÁCH SẢN PHẨM…").
HEADER_SEARCH_ROWS = 15
#: The format has 15 columns; officials add a few (STT, Ghi chú). Column BL is the last read.
MAX_COLUMNS = 64
#: Sheet lines with data (blank lines between rows are allowed, so more than MAX_ROWS).
MAX_LINES = 2 * MAX_ROWS
#: The most an Excel cell can hold; longer text is not a product description.
MAX_CELL_CHARS = 32_767


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message is for the official."""


def _decimal(value: float, pattern: str = "#,##0.0") -> str:
    """A figure in the official's locale (15.0 in English, 15,0 in Vietnamese)."""
    return format_decimal(value, pattern, locale=str(get_locale() or "en"))


def megabytes(size: int) -> str:
    """Bytes as megabytes with one decimal, in the official's locale."""
    return _decimal(size / 1048576)


def figure(n: int) -> str:
    """A whole number with thousands separators, in the official's locale."""
    return _decimal(n, "#,##0")


def column_letters(index: int) -> str:
    """1 → A, 64 → BL, 16384 → XFD."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def too_large(size: int) -> ImportFileError:
    return ImportFileError(
        gettext(
            "The file is too large: %(size)s MB; the limit is %(limit)s MB. Split it into several files.",
            size=megabytes(size),
            limit=MAX_FILE_BYTES // 1048576,
        )
    )


def password_protected() -> ImportFileError:
    return ImportFileError(
        gettext(
            "The file is protected by a password. Remove the password in Excel "
            "(File → Info → Protect Workbook), save it and upload it again."
        )
    )


def too_many_columns(column: int) -> ImportFileError:
    return ImportFileError(
        gettext(
            "The sheet has data in column %(column)s; at most %(limit)s columns are read "
            "(up to column %(last)s). Delete the columns to the right of the table.",
            column=column_letters(column),
            limit=MAX_COLUMNS,
            last=column_letters(MAX_COLUMNS),
        )
    )


def too_many_lines(line: int) -> ImportFileError:
    return ImportFileError(
        gettext(
            "The sheet has data down to row %(row)s; at most %(limit)s rows are read. "
            "Delete the rows below the table or split the file.",
            row=figure(line),
            limit=figure(MAX_LINES),
        )
    )


def too_many_rows() -> ImportFileError:
    return ImportFileError(
        gettext("The file has more than %(n)s rows. Split it into several files.", n=figure(MAX_ROWS))
    )


def cell_too_long(line: int | None = None) -> ImportFileError:
    if line is None:
        return ImportFileError(
            gettext(
                "A cell holds more than %(limit)s characters, the most an Excel cell can hold. "
                "Shorten it and upload again.",
                limit=figure(MAX_CELL_CHARS),
            )
        )
    return ImportFileError(
        gettext(
            "Row %(line)s has a cell longer than %(limit)s characters, the most an Excel cell "
            "can hold. Shorten it and upload again.",
            line=figure(line),
            limit=figure(MAX_CELL_CHARS),
        )
    )
