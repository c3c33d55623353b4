"""Reading an XLSX upload within bounds: its zip and XML parts are checked before openpyxl opens it.

An XLSX is a zip of XML parts, and small zips can hide huge work. openpyxl's
read-only mode streams rows, but it reads the shared-strings table whole and
pads every row to the sheet's *declared* dimension, so a 220 KB file declaring
column XFD on 20,000 rows becomes 327 million empty cells. Before openpyxl
sees a workbook we therefore check the zip's directory (member count, names,
encryption, inflated sizes — zipfile never inflates a member beyond its
declared size, so these are real bounds) and stream the parts openpyxl will
read (first sheet, shared strings) through cheap byte scans: declared and
actual dimensions, filled cells, shared-string count, longest text. Rows are
then read with the dimension reset and the columns capped.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from posixpath import join, normpath
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import ElementTree
from flask_babel import gettext

from catalogue.imports.bounds import (
    HEADER_SEARCH_ROWS,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_LINES,
    MAX_ROWS,
    ImportFileError,
    cell_too_long,
    figure,
    megabytes,
    password_protected,
    too_many_columns,
    too_many_lines,
    too_many_rows,
)

#: Filled cells in the first sheet: 20,000 rows of 25 filled columns.
MAX_CELLS = 500_000
#: Bytes of XML text between two tags: a cell of MAX_CELL_CHARS in UTF-8, escaped.
MAX_TEXT_BYTES = 4 * MAX_CELL_CHARS
#: An XLSX is a zip: refuse one that inflates beyond this (zip bomb).
MAX_XLSX_INFLATED = 200 * 1024 * 1024
MAX_XLSX_MEMBERS = 500
MAX_SHEET_INFLATED = 64 * 1024 * 1024
MAX_SHARED_STRINGS = 400_000
MAX_SHARED_STRINGS_INFLATED = 32 * 1024 * 1024
#: Comments (notes) of all sheets together, with their drawings.
MAX_COMMENTS_INFLATED = 2 * 1024 * 1024
#: Any other XML part openpyxl parses (styles, theme, workbook, properties).
MAX_PART_INFLATED = 4 * 1024 * 1024
#: Images and other binary parts, never parsed by the read-only reader.
MAX_MEDIA_INFLATED = 16 * 1024 * 1024

_CHUNK = 1024 * 1024

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([^"]*)"')
#: A filled cell with its reference; ``/`` marks an empty (formatting-only) cell.
_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"[^>]*?(/?)>')
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_UNIQUE_COUNT = re.compile(rb'\buniqueCount="([0-9]+)"')
_SST_PREFIX = re.compile(rb"<(\w+:)?sst\b")
_COMMENT_PART = re.compile(r"(comments|threadedcomments|vmldrawing|persons?/)", re.IGNORECASE)
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


@dataclass
class SheetScan:
    """What a byte scan of a sheet part found: the extent of its filled cells."""

    max_row: int = 0
    max_column: int = 0
    cells: int = 0
    #: Rows holding at least one filled cell.
    rows: int = 0


class _TextScanner:
    """Feed an XML part chunk by chunk; refuse a text run longer than any cell can be.

    Chunks are cut at the last ``<`` so every tag and text run is seen whole.
    """

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, chunk: bytes, final: bool = False) -> bytes:
        buffer = self.carry + chunk
        cut = len(buffer) if final else buffer.rfind(b"<")
        if cut <= 0:
            if len(buffer) > MAX_TEXT_BYTES:
                raise cell_too_long()
            self.carry = buffer
            return b""
        done, self.carry = buffer[:cut], buffer[cut:]
        if len(done) > MAX_TEXT_BYTES and max(map(len, done.split(b"<"))) > MAX_TEXT_BYTES:
            raise cell_too_long()
        return done


def _chunks(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with archive.open(name) as part:
        while chunk := part.read(_CHUNK):
            yield chunk


def scan_sheet(archive: zipfile.ZipFile, name: str) -> SheetScan:
    """Declared and actual extent of a sheet, refused as soon as a limit is passed."""
    scan = SheetScan()
    scanner = _TextScanner()
    first = True
    last_line = 0
    for data, final in _with_final(_chunks(archive, name)):
        done = scanner.feed(data, final)
        if first and done:
            first = False
            declared = _DIMENSION.search(done[:65536])
            if declared:
                _check_declared(declared.group(1).decode("ascii", "replace"))
        # Cells written without a reference (allowed, rare) are counted by their tags.
        unreferenced = done.count(b"<c>") + done.count(b"<c ")
        for match in _CELL.finditer(done):
            unreferenced -= 1
            if match.group(3):
                continue
            column = _column_index(match.group(1).decode())
            line = int(match.group(2))
            scan.cells += 1
            if line != last_line:
                last_line = line
                scan.rows += 1
                if scan.rows > MAX_ROWS + HEADER_SEARCH_ROWS + 1:
                    # Refused here, before openpyxl spends seconds on 20,000 rows.
                    raise too_many_rows()
            if column > scan.max_column:
                scan.max_column = column
                if column > MAX_COLUMNS:
                    raise too_many_columns(column)
            if line > scan.max_row:
                scan.max_row = line
                if line > MAX_LINES:
                    raise too_many_lines(line)
        scan.cells += max(0, unreferenced)
        if scan.cells > MAX_CELLS:
            raise ImportFileError(
                gettext(
                    "The sheet has more than %(limit)s filled cells. Split it into several files.",
                    limit=figure(MAX_CELLS),
                )
            )
    return scan


def _with_final(pieces: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    yield from ((piece, False) for piece in pieces)
    yield b"", True


def _check_declared(ref: str) -> None:
    """The sheet's own ``<dimension ref="A1:XFD20001">``: openpyxl pads every row to it."""
    last = ref.split(":")[-1].strip()
    match = _REF.match(last)
    if not match:
        return
    column, line = _column_index(match.group(1)), int(match.group(2))
    if column > MAX_COLUMNS:
        raise too_many_columns(column)
    if line > MAX_LINES:
        raise too_many_lines(line)


def scan_shared_strings(archive: zipfile.ZipFile, name: str) -> int:
    """Declared and actual number of shared strings, refused as soon as the limit is passed."""
    scanner = _TextScanner()
    count = 0
    opening: tuple[bytes, bytes] | None = None
    for data, final in _with_final(_chunks(archive, name)):
        done = scanner.feed(data, final)
        if not done:
            continue
        if opening is None:
            head = done[:65536]
            prefix_match = _SST_PREFIX.search(head)
            prefix = (prefix_match.group(1) or b"") if prefix_match else b""
            opening = (b"<" + prefix + b"si>", b"<" + prefix + b"si ")
            declared = _UNIQUE_COUNT.search(head)
            if declared and int(declared.group(1)) > MAX_SHARED_STRINGS:
                raise _too_many_strings(int(declared.group(1)))
        count += done.count(opening[0]) + done.count(opening[1])
        if count > MAX_SHARED_STRINGS:
            raise _too_many_strings(count, at_least=True)
    return count


def _too_many_strings(n: int, at_least: bool = False) -> ImportFileError:
    if at_least:
        return ImportFileError(
            gettext(
                "The file holds more than %(limit)s different texts; a decision list needs far "
                "fewer. Split it into several files.",
                limit=figure(MAX_SHARED_STRINGS),
            )
        )
    return ImportFileError(
        gettext(
            "The file holds %(n)s different texts; at most %(limit)s are read. Split it into several files.",
            n=figure(n),
            limit=figure(MAX_SHARED_STRINGS),
        )
    )


def _first_sheet(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    """The part name of the workbook's first worksheet (the one the import reads)."""
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels_name = "xl/_rels/workbook.xml.rels"
        rels = ElementTree.fromstring(archive.read(rels_name)) if rels_name in names else None
    except (ParseError, ValueError, zipfile.BadZipFile, KeyError):
        return None
    if rels is None:
        return None
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in rels.iter(f"{{{_PKG_REL_NS}}}Relationship")
        if rel.get("Type", "").endswith("/worksheet")
    }
    for sheet in book.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        target = targets.get(sheet.get(f"{{{_REL_NS}}}id"))
        if target:
            return target.lstrip("/") if target.startswith("/") else normpath(join("xl", target))
    return None


def _shared_strings_part(names: set[str]) -> str | None:
    for name in names:
        if name.lower() == "xl/sharedstrings.xml":
            return name
    return None


def _unsafe(name: str) -> bool:
    path = name.replace("\\", "/")
    return path.startswith("/") or ".." in path.split("/") or ":" in path.split("/")[0]


def inspect_xlsx(data: bytes) -> SheetScan | None:
    """Refuse a workbook whose zip or parts are beyond the limits, before openpyxl opens it.

    Returns the scan of the first sheet (``None`` when the workbook names none).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_XLSX_MEMBERS:
                raise ImportFileError(
                    gettext(
                        "The workbook holds %(n)s parts; a spreadsheet has far fewer. "
                        "Save it again in Excel as .xlsx.",
                        n=figure(len(members)),
                    )
                )
            names = {m.filename for m in members}
            for member in members:
                if _unsafe(member.filename):
                    raise ImportFileError(
                        gettext(
                            "The workbook contains a part with an unsafe name (%(name)s). "
                            "Save it again in Excel as .xlsx.",
                            name=member.filename[:80],
                        )
                    )
                if member.flag_bits & 0x1:
                    raise password_protected()
            inflated = sum(m.file_size for m in members)
            if inflated > MAX_XLSX_INFLATED:
                raise ImportFileError(
                    gettext(
                        "The spreadsheet is too large once unpacked: %(size)s MB; the limit is "
                        "%(limit)s MB. Split it into several files.",
                        size=megabytes(inflated),
                        limit=MAX_XLSX_INFLATED // 1048576,
                    )
                )
            if "xl/workbook.xml" not in names:
                raise ImportFileError(
                    gettext(
                        "This is a zip file, not an Excel workbook. Upload the .xlsx or .csv file itself."
                    )
                )
            sheet = _first_sheet(archive, names)
            strings = _shared_strings_part(names)
            _check_part_sizes(members, sheet, strings)
            if strings:
                scan_shared_strings(archive, strings)
            return scan_sheet(archive, sheet) if sheet and sheet in names else None
    except zipfile.BadZipFile:
        raise ImportFileError(gettext("The file looks like an XLSX file but is damaged.")) from None
    except (EOFError, OSError, NotImplementedError, RuntimeError, ValueError, zlib.error) as exc:
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(gettext("The file looks like an XLSX file but is damaged.")) from None


def _check_part_sizes(members: list[zipfile.ZipInfo], sheet: str | None, strings: str | None) -> None:
    comments = sum(m.file_size for m in members if _COMMENT_PART.search(m.filename))
    if comments > MAX_COMMENTS_INFLATED:
        raise ImportFileError(
            gettext(
                "The comments (notes) in the file take %(size)s MB once unpacked; at most %(limit)s MB. "
                "Delete the comments and upload again.",
                size=megabytes(comments),
                limit=MAX_COMMENTS_INFLATED // 1048576,
            )
        )
    for member in members:
        name = member.filename
        lower = name.lower()
        if name == strings:
            limit = MAX_SHARED_STRINGS_INFLATED
        elif name == sheet or lower.startswith("xl/worksheets/"):
            limit = MAX_SHEET_INFLATED
        elif lower.endswith((".xml", ".rels", ".vml")):
            limit = MAX_PART_INFLATED
        else:
            limit = MAX_MEDIA_INFLATED
        if member.file_size > limit and not _COMMENT_PART.search(name):
            raise ImportFileError(
                gettext(
                    "A part of the workbook (%(name)s) is too large once unpacked: %(size)s MB; "
                    "at most %(limit)s MB. Split the file or save it again in Excel.",
                    name=name[:80],
                    size=megabytes(member.file_size),
                    limit=limit // 1048576,
                )
            )


def xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    """Rows of the first sheet, at most :data:`MAX_COLUMNS` wide, after :func:`inspect_xlsx`."""
    scan = inspect_xlsx(data)
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a malformed workbook
        raise ImportFileError(gettext("The Excel workbook could not be read; it may be damaged.")) from None
    return _stream_rows(book, scan)


def _stream_rows(book: Any, scan: SheetScan | None) -> Iterator[list[Any]]:
    try:
        if not book.worksheets:
            raise ImportFileError(gettext("The Excel workbook could not be read; it may be damaged."))
        sheet = book.worksheets[0]
        # The declared dimension may lie; never pad rows to it.
        sheet.reset_dimensions()
        last = scan.max_row if scan and scan.max_row else MAX_LINES + 1
        try:
            for line, values in enumerate(
                sheet.iter_rows(min_row=1, max_row=last, max_col=MAX_COLUMNS, values_only=True), start=1
            ):
                if line > MAX_LINES:
                    if any(v not in (None, "") for v in values):
                        raise too_many_lines(line)
                    break
                for value in values:
                    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                        raise cell_too_long(line)
                yield list(values)
        except ImportFileError:
            raise
        except Exception:  # noqa: BLE001 - a malformed sheet fails inside openpyxl's parser
            raise ImportFileError(
                gettext("The Excel workbook could not be read; it may be damaged.")
            ) from None
    finally:
        book.close()
