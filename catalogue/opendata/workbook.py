"""The bulk download's workbook: XlsxWriter in constant-memory mode, one sheet per dataset.

openpyxl's write-only mode builds a cell object per value (about 2 ms a row of 31 columns
here: minutes for the whole registry); XlsxWriter streams each row to a temporary file and
is several times faster with flat memory. Text is never read as a formula, number or link
(the caller neutralises what a spreadsheet would run anyway); dates carry a date format.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
    "default_date_format": "yyyy-mm-dd",
}


class Sheet:
    """One worksheet being written; rows are appended in order."""

    def __init__(self, sheet: Worksheet, bold: Any) -> None:
        self._sheet, self._bold, self._row = sheet, bold, 0

    def append(self, values: Iterable[Any], *, bold: bool = False) -> None:
        self._sheet.write_row(self._row, 0, list(values), self._bold if bold else None)
        self._row += 1

    def close(self) -> None:
        """Nothing to do: the workbook writes each sheet out when it is closed."""


class StreamingWorkbook:
    def __init__(self, path: Path, created: datetime) -> None:
        """``created`` goes into the file (and its zip entries): the same rows on the same day make the
        same bytes, so an unchanged workbook keeps its SHA-256 and mirrors need not fetch it again."""
        self._book = xlsxwriter.Workbook(str(path), _OPTIONS)
        self._book.set_properties({"created": created})
        self._heading = self._book.add_format({"bold": True})

    def add_sheet(self, name: str, width: int) -> Sheet:
        sheet = self._book.add_worksheet(name[:31])
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, max(0, width - 1), 18)
        return Sheet(sheet, self._heading)

    def close(self) -> None:
        self._book.close()

    def __enter__(self) -> StreamingWorkbook:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
