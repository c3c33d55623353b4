"""The official's own file with the dry run's problems marked on it, to fix where they work and upload again.

For an XLSX upload the official's workbook is opened and kept whole (their sheets,
formatting, column order); for a CSV upload a workbook is written with their rows
at the same row numbers. On the sheet the import read, each cell with a problem
gets a fill (errors red, warnings amber) and a comment with the messages; a
problem that belongs to no column of the file goes on the row's first cell; a
last column (:data:`~catalogue.imports.files.PROBLEMS_HEADER`) lists each row's
problems and its header's comment says what concerns the whole file. Rows
without problems are left as they are. A re-upload reads past that column, and
marks left from an earlier round (our comments, our fills) are cleared first.

Built by the dry-run job (:mod:`catalogue.imports.tasks`), never in a request,
in the language of the official who uploaded the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from copy import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet.worksheet import Worksheet

from catalogue.i18n import fmt_time
from catalogue.imports.bounds import MAX_COLUMNS
from catalogue.imports.checking import ImportReport, RowReport, column_label
from catalogue.imports.files import PROBLEMS_HEADER, is_problems_header, read_grid, sniff
from catalogue.imports.workbook import MAX_COMMENTS_INFLATED, inspect_xlsx

#: Who wrote the comments: marks of an earlier round carry it, and are cleared before marking again.
AUTHOR = "Sản phẩm CNNT — kiểm tra"
ERROR_FILL = "FFF4C7C3"
WARNING_FILL = "FFFCE8B2"
_OUR_FILLS = {ERROR_FILL, WARNING_FILL}
#: Bytes of comments the marks may bring the sheet to; beyond it cells get no comment (fills and
#: the problems column still show every problem): the reader refuses a workbook whose comments pass
#: :data:`~catalogue.imports.workbook.MAX_COMMENTS_INFLATED` once unpacked, and the marked file must
#: go back in. Each comment costs its text and about 700 bytes of XML and drawing (measured).
COMMENT_BUDGET = MAX_COMMENTS_INFLATED * 3 // 4
COMMENT_OVERHEAD = 700
#: The widest text put in one comment (a cell's messages), in characters.
MAX_COMMENT_CHARS = 1000
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class _Mark:
    """What goes on one cell: its messages, and whether any is an error."""

    lines: list[str] = field(default_factory=list)
    error: bool = False


def has_marks(report: ImportReport) -> bool:
    """Whether the dry run found anything to mark (errors or warnings)."""
    return any(r.errors or r.warnings for r in report.rows)


def mark_file(data: bytes, report: ImportReport, checked_at: datetime) -> bytes:
    """The uploaded file (XLSX or CSV bytes) as an XLSX workbook with ``report``'s problems marked."""
    if sniff(data) == "xlsx":
        inspect_xlsx(data)  # the upload's bounds, again, before openpyxl opens it whole
        book = load_workbook(io.BytesIO(data), rich_text=True)
        first = book.worksheets[0] if book.worksheets else None
        if not isinstance(first, Worksheet):
            raise ValueError("the workbook's first sheet is not a worksheet")
        sheet = first
        styles = _Styles(book)
        spent = _clear_old_marks(sheet, styles)
    else:
        book = Workbook()
        sheet = book.worksheets[0]
        assert isinstance(sheet, Worksheet)
        styles = _Styles(book)
        spent = 0
        _copy_grid(sheet, read_grid(data)[0])
    _mark(sheet, styles, report, checked_at, spent)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _copy_grid(sheet: Worksheet, rows: Iterable[list[Any]]) -> None:
    """A CSV's records at the rows they were read from (so "Row 12" is row 12), all as text."""
    for line, values in enumerate(rows, start=1):
        for index, value in enumerate(values, start=1):
            if value not in (None, ""):
                _text(_cell(sheet, line, index), str(value))


def _cell(sheet: Worksheet, line: int, column: int) -> Cell:
    """The cell at ``line``, ``column``; inside a merged range, the range's first cell (the one shown)."""
    cell = sheet.cell(row=line, column=column)
    if isinstance(cell, Cell):
        return cell
    for merged in sheet.merged_cells.ranges:
        if cell.coordinate in merged:
            top = sheet.cell(row=merged.min_row, column=merged.min_col)
            if isinstance(top, Cell):
                return top
    raise ValueError(f"no cell at {cell.coordinate}")


def _text(cell: Cell, value: str) -> None:
    """Text that stays text: a value starting with "=" is never turned into a formula."""
    cell.value = value
    cell.data_type = "s"


class _Styles:
    """Our fills and the problems column's alignment, registered once in the workbook.

    Set through the cell's style indices: assigning a style object to each of
    thousands of cells makes openpyxl hash it every time (seconds on a large file).
    """

    def __init__(self, book: Workbook) -> None:
        self.fills: Any = getattr(book, "_fills")  # noqa: B009 - openpyxl's style table, not typed
        self.error = self._fill(ERROR_FILL)
        self.warning = self._fill(WARNING_FILL)
        self.wrap = int(getattr(book, "_alignments").add(Alignment(wrap_text=True, vertical="top")))  # noqa: B009

    def _fill(self, colour: str) -> int:
        return int(self.fills.add(PatternFill("solid", fgColor=colour)))

    def ours(self) -> set[int]:
        """Indices of fills with our colours (also those an earlier round's file brought back)."""
        return {i for i, fill in enumerate(self.fills) if _colour(fill) in _OUR_FILLS}

    def fill(self, cell: Cell, error: bool) -> None:
        _own_style(cell).fillId = self.error if error else self.warning

    def wrap_text(self, cell: Cell) -> None:
        _own_style(cell).alignmentId = self.wrap


def _own_style(cell: Any) -> StyleArray:
    """The cell's style indices, its own to change (a loaded cell may share them, or have none)."""
    style = copy(cell._style) if cell._style else StyleArray()
    cell._style = style
    return style


def _colour(fill: Any) -> str | None:
    if not isinstance(fill, PatternFill) or fill.fill_type != "solid" or fill.fgColor is None:
        return None
    colour = fill.fgColor.rgb
    return colour if isinstance(colour, str) else None


def _cost(text: str) -> int:
    """What a comment adds to the workbook's comment parts, in bytes (about)."""
    return len(text.encode("utf-8")) + COMMENT_OVERHEAD


def _clear_old_marks(sheet: Worksheet, styles: _Styles) -> int:
    """Our comments and fills from an earlier download; the official's own stay (their cost returned)."""
    ours = styles.ours()
    kept = 0
    cell: Any
    for cell in sheet._cells.values():
        if cell.comment is not None and cell.comment.author == AUTHOR:
            cell.comment = None
        elif cell.comment is not None:
            kept += _cost(str(cell.comment.text))
        if cell.has_style and cell._style.fillId in ours:
            _own_style(cell).fillId = 0
    return kept


def _last_column(sheet: Worksheet) -> int:
    """The rightmost column holding a value (formatting alone may reach column XFD)."""
    return max((c for (_r, c), cell in sheet._cells.items() if cell.value not in (None, "")), default=0)


def _problems_column(sheet: Worksheet, header_line: int) -> int | None:
    """Where the problems go: our column from an earlier round (emptied), or a new last column.

    None when the table already reaches the last column the reader accepts: a column beyond
    it would get the marked file refused when it comes back.
    """
    for (line, column), cell in list(sheet._cells.items()):
        if line == header_line and is_problems_header(cell.value):
            for (other, same), old in list(sheet._cells.items()):
                if same == column and other > header_line:
                    old.value = None
                    old.comment = None
            return column
    column = _last_column(sheet) + 1
    return column if column <= MAX_COLUMNS else None


def _row_marks(row: RowReport, positions: dict[str, int], first: int) -> dict[int, _Mark]:
    marks: dict[int, _Mark] = {}
    for notes, error in ((row.errors, True), (row.warnings, False)):
        for note in notes:
            column = positions.get(note.field, first)
            mark = marks.setdefault(column, _Mark())
            where = "" if note.field in positions else f"{column_label(note.field)}: "
            prefix = gettext("Error") if error else gettext("Warning")
            mark.lines.append(f"{prefix} · {where}{note.message}")
            mark.error = mark.error or error
    return marks


def _problem_line(note_field: str, message: str, error: bool) -> str:
    prefix = gettext("Error") if error else gettext("Warning")
    return f"{prefix} · {column_label(note_field)}: {message}"


def _comment(text: str, lines: int) -> Comment:
    comment = Comment(text[:MAX_COMMENT_CHARS], AUTHOR)
    comment.width = 320
    comment.height = min(400, 40 + 18 * max(lines, 1) + len(text) // 3)
    return comment


def _mark(sheet: Worksheet, styles: _Styles, report: ImportReport, checked_at: datetime, spent: int) -> None:
    header_line = report.header_line or 1
    positions = report.positions
    first = min(positions.values(), default=1)
    column = _problems_column(sheet, header_line)
    left_out = 0
    marked_rows = 0
    for row in report.rows:
        if not (row.errors or row.warnings):
            continue
        marked_rows += 1
        for at, mark in _row_marks(row, positions, first).items():
            cell = _cell(sheet, row.line, at)
            styles.fill(cell, mark.error)
            text = "\n".join(mark.lines)[:MAX_COMMENT_CHARS]
            if spent + _cost(text) <= COMMENT_BUDGET:
                cell.comment = _comment(text, len(mark.lines))
                spent += _cost(text)
            else:
                left_out += 1
        if column is None:
            continue
        listed = [_problem_line(e.field, e.message, True) for e in row.errors]
        listed += [_problem_line(w.field, w.message, False) for w in row.warnings]
        cell = _cell(sheet, row.line, column)
        _text(cell, "\n".join(listed))
        styles.wrap_text(cell)
        styles.fill(cell, bool(row.errors))
    note = _comment(*_file_note(report, checked_at, marked_rows, left_out))
    if column is None:  # the note goes on the table's first header cell instead
        _cell(sheet, header_line, first).comment = note
        return
    header = _cell(sheet, header_line, column)
    _text(header, PROBLEMS_HEADER)
    header.font = Font(bold=True)
    header.comment = note
    sheet.column_dimensions[header.column_letter].width = 60


def _file_note(
    report: ImportReport, checked_at: datetime, marked_rows: int, left_out: int
) -> tuple[str, int]:
    """The header's comment: when it was checked, what it found, and what concerns the whole file."""
    lines = [
        gettext("Checked by the registry on %(when)s.", when=fmt_time(checked_at)),
        gettext(
            "Rows with errors: %(bad)s; rows with warnings only: %(warned)s; rows in all: %(n)s. "
            "Errors (red) must be fixed before publishing; warnings (amber) are worth a look. "
            "Fix the cells, save and upload "
            "this file again; this column is not read.",
            bad=len(report.bad_rows),
            warned=marked_rows - len(report.bad_rows),
            n=len(report.rows),
        ),
    ]
    if left_out:
        lines.append(
            gettext(
                "%(n)s problem cells have no comment: more would make the file too large to upload "
                "again. This column lists every problem.",
                n=left_out,
            )
        )
    if report.ignored_columns:
        lines.append(
            gettext(
                "Columns not read (their header is not one of the template's): %(names)s.",
                names=", ".join(report.ignored_columns),
            )
        )
    lines.extend(report.file_errors)
    return "\n".join(lines), len(lines) * 2
