"""Read a decision's spreadsheet and check it row by row (the dry run); never publishes.

The same functions serve the workspace upload and ``flask import``:

* :func:`read_table` turns file bytes into header-mapped rows (XLSX first sheet,
  or CSV in UTF-8 with or without BOM, UTF-16, or Windows-1258), or raises
  :class:`ImportFileError` with a plain explanation;
* :func:`check_table` types every row through :func:`catalogue.registry.rows.parse_row`
  and adds what only a whole file and an account can tell: duplicate rows, rows
  outside the official's province or levels, certificates owned by another office;
* :func:`stage_batch` stores the rows as a pending :class:`ImportBatch` for the
  preview; :mod:`catalogue.registry.publishing` publishes it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, col, select

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.accounts.services import office_name
from catalogue.audit import services as audit
from catalogue.clock import utcnow
from catalogue.imports import files
from catalogue.imports.files import ImportFileError
from catalogue.imports.models import ImportBatch
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.records import RecordInput, match_record, remember_numbers
from catalogue.registry.rows import HEADERS, REQUIRED, FieldError, header_field, parse_row
from catalogue.text import fold, nfc
from catalogue.vocab import Level, parse_level

#: The template's example row starts with these words; it must never be published.
EXAMPLE_MARKERS = ("vi du", "example")


@dataclass
class Table:
    """A spreadsheet reduced to rows keyed by canonical field name."""

    rows: list[tuple[int, dict[str, Any]]]
    header_line: int
    columns: dict[str, str]  # canonical field → header as written in the file
    ignored: list[str] = field(default_factory=list)
    encoding: str | None = None


@dataclass
class RowReport:
    line: int
    values: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)
    #: Worth a look but never blocking (a value kept as printed, a same-name record elsewhere).
    warnings: list[FieldError] = field(default_factory=list)
    record: RecordInput | None = None
    #: The certificate this row updates, when it exists already.
    existing_id: int | None = None


@dataclass
class ImportReport:
    filename: str
    sha256: str
    rows: list[RowReport] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str | None = None

    @property
    def ok(self) -> bool:
        return not self.file_errors and bool(self.rows) and not self.bad_rows

    @property
    def bad_rows(self) -> list[RowReport]:
        return [r for r in self.rows if r.errors]

    @property
    def new_count(self) -> int:
        return sum(1 for r in self.rows if not r.errors and r.existing_id is None)

    @property
    def update_count(self) -> int:
        return sum(1 for r in self.rows if not r.errors and r.existing_id is not None)

    @property
    def warned_rows(self) -> list[RowReport]:
        return [r for r in self.rows if r.warnings]

    @property
    def warning_count(self) -> int:
        return sum(len(r.warnings) for r in self.rows)

    def warning_lines(self) -> list[str]:
        """Every warning as one line (CLI output); warnings never block publishing."""
        return [_row_line(row, w) for row in self.warned_rows for w in row.warnings]

    def problems(self) -> list[str]:
        """Every problem as one line (CLI output, logs)."""
        return list(self.file_errors) + [_row_line(row, e) for row in self.bad_rows for e in row.errors]


def _row_line(row: RowReport, note: FieldError) -> str:
    return gettext(
        "Row %(line)d, %(column)s: %(message)s",
        line=row.line,
        column=column_label(note.field),
        message=note.message,
    )


def column_label(name: str) -> str:
    """The column's Vietnamese header (as in the template), with the English alias in English."""
    aliases = HEADERS.get(name)
    if not aliases:
        return name
    if str(get_locale() or "vi") == "en":
        return f"{aliases[0]} ({aliases[-1]})"
    return aliases[0]


# ----------------------------------------------------------------------------- reading files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_table(data: bytes, filename: str = "") -> Table:
    """Header-mapped rows of an XLSX (first sheet) or CSV file, judged by content.

    Reading is bounded by :mod:`catalogue.imports.files`: a hostile file is refused
    with a plain explanation before it can cost much memory or time.
    """
    grid, encoding = files.read_grid(data)
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
        if line > files.HEADER_SEARCH_ROWS:
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
            if label:
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
        if len(rows) > files.MAX_ROWS:
            raise files.too_many_rows()
    if not rows:
        raise ImportFileError(gettext("The file has a header row but no product rows."))
    return Table(rows=rows, header_line=header_line, columns=written, ignored=ignored, encoding=encoding)


# ----------------------------------------------------------------------------- checking rows


def _dup_key(values: dict[str, Any]) -> tuple[str, str] | None:
    number = fold(nfc(str(values.get("certificate_number") or "")))
    level, _ = parse_level(nfc(str(values.get("level") or "")))
    if not number or level is None:
        return None
    return number, level.value


def _scope_errors(actor: permissions.Actor, rec: RecordInput, provinces: Provinces) -> list[FieldError]:
    if rec.level not in permissions.levels_for(actor):
        return [FieldError("level", permissions.explain(actor, "publish", level=rec.level))]
    if not permissions.can(actor, "publish", province=rec.province, level=rec.level):
        own = provinces.get(permissions.province_scope(actor))
        current = provinces.current_of(rec.province)
        return [
            FieldError(
                "province",
                gettext(
                    "%(province)s is outside your province (%(own)s): you may publish only for %(own)s.",
                    province=current.short_name if current else rec.province.short_name,
                    own=own.short_name if own else "?",
                ),
            )
        ]
    return []


def check_table(
    session: Session,
    *,
    actor: permissions.Actor,
    table: Table,
    provinces: Provinces | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RowReport]:
    """Every row typed and checked; no writes. ``progress(done, total)`` follows the rows (jobs)."""
    permissions.require(actor, "import")
    provinces = provinces or Provinces.load(session)
    reports: list[RowReport] = []
    first_line: dict[tuple[str, str], int] = {}
    for done, (line, values) in enumerate(table.rows):
        if progress is not None and done % 100 == 0:
            progress(done, len(table.rows))
        report = RowReport(line=line, values=values)
        if fold(nfc(str(values.get("product") or ""))).startswith(EXAMPLE_MARKERS):
            report.errors.append(
                FieldError(
                    "product", gettext("This is the template's example row, not a real product: delete it.")
                )
            )
        key = _dup_key(values)
        if key is not None and key in first_line:
            report.errors.append(
                FieldError(
                    "certificate_number",
                    gettext(
                        "Duplicate row: row %(line)d has the same certificate number and level.",
                        line=first_line[key],
                    ),
                )
            )
        elif key is not None:
            first_line[key] = line
        record, errors, warnings = parse_row(values, provinces)
        report.errors.extend(errors)
        report.warnings.extend(warnings)
        if record is not None:
            report.errors.extend(_scope_errors(actor, record, provinces))
            report.record = None if report.errors else record
        reports.append(report)
    _match_existing(session, actor, reports, provinces)
    return reports


def _match_existing(
    session: Session, actor: permissions.Actor, reports: list[RowReport], provinces: Provinces
) -> None:
    """Find what each row would update, by the write path's own matching (one rule).

    A row that would change another office's record is a row error naming that
    office; a same-name record in another province is a warning (it stays a
    different record).
    """
    remember_numbers(session, {
        (nfc(r.record.certificate_number), r.record.level, r.record.year)
        for r in reports if r.record is not None and r.record.certificate_number
    })  # fmt: skip
    for report in reports:
        rec = report.record
        if rec is None:
            continue
        match = match_record(session, rec, provinces, actor)
        if match.conflicts:
            report.errors.append(
                FieldError(
                    "certificate_number" if match.certificate is not None else "product",
                    gettext(
                        "This row would change a record of %(owner)s; only that office may change it.",
                        owner=", ".join(match.conflicts),
                    ),
                )
            )
            report.record = None
            continue
        if match.certificate is not None:
            report.existing_id = match.certificate.id
        for kind, name, province in match.elsewhere:
            message = (
                _l(
                    "A producer named “%(name)s” exists in %(province)s; this row keeps its own "
                    "producer in %(here)s.",
                    name=name, province=province, here=_short(provinces, rec),
                )
                if kind == "producer"
                else _l(
                    "A product named “%(name)s” exists in %(province)s; this row keeps its own "
                    "product in %(here)s.",
                    name=name, province=province, here=_short(provinces, rec),
                )
            )  # fmt: skip
            report.warnings.append(FieldError(kind, str(message)))


def _short(provinces: Provinces, rec: RecordInput) -> str:
    current = provinces.current_of(rec.province)
    return (current or rec.province).short_name


def check_file(
    session: Session,
    *,
    actor: permissions.Actor,
    filename: str,
    data: bytes,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ImportReport, Table | None]:
    """The dry run of a file: every problem, nothing written."""
    permissions.require(actor, "import")
    report = ImportReport(filename=filename, sha256=sha256(data))
    try:
        table = read_table(data, filename)
    except ImportFileError as exc:
        report.file_errors.append(str(exc))
        return report, None
    report.encoding = table.encoding
    report.ignored_columns = table.ignored
    report.rows = check_table(session, actor=actor, table=table, progress=progress)
    return report, table


def _common(values: Iterable[Any]) -> Any:
    distinct = {v for v in values if v not in (None, "")}
    return distinct.pop() if len(distinct) == 1 else None


def stage_batch(
    session: Session,
    *,
    actor: permissions.Actor,
    filename: str,
    data: bytes,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ImportBatch | None, ImportReport]:
    """Check a file and keep its rows as a pending batch for the preview (flushes, no commit).

    A file that cannot be read at all is not stored; rows with problems are,
    so the preview can list them. Earlier pending uploads of the same file name
    by the same official are discarded: the new upload replaces them.
    """
    report, table = check_file(session, actor=actor, filename=filename, data=data, progress=progress)
    if table is None:
        return None, report
    user = actor if isinstance(actor, User) else None
    province = session.get(Province, user.province_id) if user and user.province_id else None
    for old in session.exec(
        select(ImportBatch).where(
            ImportBatch.state == "pending",
            ImportBatch.created_by == (user.id if user else None),
            ImportBatch.filename == filename[:300],
        )
    ).all():
        old.state = "discarded"
        audit.record(
            session,
            **permissions.audit_actor(actor),
            action="discard",
            entity_type="import_batch",
            entity_id=old.id,
            province_id=old.province_id,
            summary=old.filename,
            changes={"state": ["pending", "discarded"]},
        )
    decision = _common(r.values.get("decision") for r in report.rows)
    batch = ImportBatch(
        created_by=user.id if user else None,
        office=office_name(user, province),
        province_id=province.id if province else None,
        filename=filename[:300] or "upload",
        file_sha256=report.sha256,
        state="pending",
        decision_number=nfc(str(decision))[:100] if decision else None,
        row_count=len(table.rows),
        rows=[{"line": line, "values": values} for line, values in table.rows],
    )
    session.add(batch)
    session.flush()
    audit.record(
        session,
        **permissions.audit_actor(actor),
        action="upload",
        entity_type="import_batch",
        entity_id=batch.id,
        province_id=batch.province_id,
        summary=f"{batch.filename} ({batch.row_count}) sha256={batch.file_sha256[:12]}",
    )
    return batch, report


def batch_table(batch: ImportBatch) -> Table:
    rows = [(int(r["line"]), dict(r["values"])) for r in (batch.rows or [])]
    return Table(rows=rows, header_line=1, columns={})


def check_batch(
    session: Session,
    *,
    actor: permissions.Actor,
    batch: ImportBatch,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Re-run the dry run on a stored batch (the database may have changed since upload)."""
    permissions.require(actor, "view_batch", province=batch.province_id)
    report = ImportReport(filename=batch.filename, sha256=batch.file_sha256)
    report.rows = check_table(session, actor=actor, table=batch_table(batch), progress=progress)
    return report


def visible_batches(session: Session, *, actor: permissions.Actor, limit: int = 100) -> list[ImportBatch]:
    """Batches this official may see: their province's, or every batch for the ministry."""
    permissions.require(actor, "import")
    query = select(ImportBatch).where(ImportBatch.state != "discarded")
    scope = permissions.province_scope(actor)
    if scope is not None:
        query = query.where(ImportBatch.province_id == scope)
    return list(session.exec(query.order_by(col(ImportBatch.id).desc()).limit(limit)).all())


def published_twin(session: Session, batch: ImportBatch) -> ImportBatch | None:
    """An earlier published batch of the very same file, if any (re-import is allowed)."""
    return session.exec(
        select(ImportBatch).where(
            ImportBatch.file_sha256 == batch.file_sha256,
            ImportBatch.state == "published",
            ImportBatch.id != batch.id,
        )
    ).first()


def example_values() -> dict[str, str]:
    """The template's example row: plainly an example, never a real product."""
    return {
        "product": "VÍ DỤ – Tên sản phẩm (xoá dòng này)",
        "producer": "VÍ DỤ – Tên cơ sở sản xuất",
        "producer_kind": "Hợp tác xã",
        "locality": "Xã …",
        "province": "Tỉnh/Thành phố …",
        "category": "Thủ công mỹ nghệ",
        "level": "Tỉnh",
        "region": "",
        "year": str(utcnow().year),
        "certificate_number": "…/GCN-SCT",
        "issued_on": "dd/mm/yyyy",
        "expires_on": "",
        "decision": "…/QĐ-UBND",
        "description": "",
        "photo": "ten-anh.jpg",
    }


TEMPLATE_FIELDS = (
    "product",
    "producer",
    "producer_kind",
    "locality",
    "province",
    "category",
    "level",
    "region",
    "year",
    "certificate_number",
    "issued_on",
    "expires_on",
    "decision",
    "description",
    "photo",
)


def template_xlsx(provinces: Provinces) -> bytes:
    """The downloadable template: Vietnamese headers, one example row, allowed values."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook's only sheet
    sheet.title = "Danh sách"
    sheet.append([HEADERS[f][0] for f in TEMPLATE_FIELDS])
    example = example_values()
    sheet.append([example[f] for f in TEMPLATE_FIELDS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    grey = PatternFill("solid", fgColor="FFF2CC")
    for cell in sheet[2]:
        cell.fill = grey
        cell.font = Font(italic=True, color="7F6000")
    for column, width in zip(
        "ABCDEFGHIJKLMNO", (40, 32, 18, 24, 20, 26, 10, 22, 8, 20, 12, 12, 18, 40, 18), strict=True
    ):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"

    lists = book.create_sheet("Giá trị hợp lệ")
    columns = {
        "Cấp": ["Xã", "Huyện", "Tỉnh", "Khu vực", "Quốc gia"],
        "Nhóm sản phẩm": [
            "Thủ công mỹ nghệ",
            "Chế biến nông, lâm, thủy sản và thực phẩm",
            "Thiết bị, máy móc, dụng cụ và phụ tùng cơ khí",
            "Sản phẩm khác",
        ],
        "Khu vực": ["Phía Bắc", "Miền Trung - Tây Nguyên", "Phía Nam"],
        "Loại hình cơ sở": ["Công ty", "Hợp tác xã", "Tổ hợp tác", "Doanh nghiệp tư nhân", "Hộ kinh doanh"],
        "Tỉnh/Thành phố": [p.short_name for p in provinces.current()],
    }
    for number, (title, values) in enumerate(columns.items(), start=1):
        lists.cell(row=1, column=number, value=title).font = Font(bold=True)
        for row, value in enumerate(values, start=2):
            lists.cell(row=row, column=number, value=value)
    notes = book.create_sheet("Hướng dẫn")
    for line in (
        "Điền mỗi sản phẩm một dòng trên trang “Danh sách”; xoá dòng VÍ DỤ (tô vàng) trước khi tải lên.",
        "Bắt buộc: Tên sản phẩm, Tên cơ sở, Tỉnh/Thành phố, Nhóm sản phẩm, Cấp, Năm, Số giấy chứng nhận.",
        "Ngày ghi dd/mm/yyyy. “Khu vực” chỉ điền cho cấp khu vực. “Ảnh” là tên tệp ảnh trong tệp zip.",
        "Cấp huyện chỉ có đến 30/6/2025; cấp xã có từ 1/7/2025.",
        "Tải lại cùng số giấy chứng nhận và cấp sẽ cập nhật bản ghi, không tạo bản trùng.",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 110

    letters = {f: "ABCDEFGHIJKLMNO"[i] for i, f in enumerate(TEMPLATE_FIELDS)}
    for name, letter in (("level", "A"), ("category", "B"), ("region", "C"), ("producer_kind", "D")):
        n = len(columns[HEADERS[name][0]]) + 1
        rule = DataValidation(
            type="list", formula1=f"='Giá trị hợp lệ'!${letter}$2:${letter}${n}", allow_blank=True
        )
        rule.showErrorMessage = False
        sheet.add_data_validation(rule)
        rule.add(f"{letters[name]}2:{letters[name]}5000")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def levels_label(actor: permissions.Actor) -> list[Level]:
    """Levels an account publishes, highest first, for the upload page."""
    return Level.by_rank(permissions.levels_for(actor))
