"""Read a decision's spreadsheet and check it row by row (the dry run); never publishes.

The same functions serve the workspace upload and ``flask import``:

* :func:`catalogue.imports.files.read_table` turns file bytes into header-mapped
  rows (XLSX first sheet, or CSV in UTF-8 with or without BOM, UTF-16, or
  Windows-1258), or raises :class:`ImportFileError` with a plain explanation;
* :func:`check_table` types every row through :func:`catalogue.registry.rows.parse_row`
  and adds what only a whole file and an account can tell: duplicate rows, rows
  outside the official's province or levels, certificates owned by another office;
* :func:`stage_batch` stores the rows as a pending :class:`ImportBatch` for the
  preview; :mod:`catalogue.imports.publishing` publishes it.

The downloadable template the officials fill in is :mod:`catalogue.imports.template`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, col, select

from catalogue.accounts import permissions
from catalogue.accounts.models import User
from catalogue.accounts.services import office_name
from catalogue.audit import services as audit
from catalogue.imports.bounds import ImportFileError
from catalogue.imports.files import Table, read_table
from catalogue.imports.template import EXAMPLE_MARKERS
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry import gtins
from catalogue.registry.matching import match_record, remember_numbers
from catalogue.registry.models import ImportBatch
from catalogue.registry.records import PublishError
from catalogue.registry.rows import HEADERS, FieldError, RecordInput, parse_row
from catalogue.text import fold, nfc
from catalogue.vocab import parse_level


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
    #: Where the file's table is: its header row and each field's column (1 for A).
    header_line: int = 0
    positions: dict[str, int] = field(default_factory=dict)

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


def sha256(data: bytes) -> str:
    """The upload's fingerprint, kept with its batch (a re-upload of the same file is recognised)."""
    return hashlib.sha256(data).hexdigest()


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
    named_gtins: list[tuple[int, Hashable, int | None, tuple[str, ...]]] = []
    for report in reports:
        rec = report.record
        if rec is None:
            continue
        match = match_record(session, rec, provinces, actor)
        if rec.gtins:
            product_id = match.product.id if match.product else None
            key = gtins.row_key(product_id, rec.product, rec.producer, provinces.current_id(rec.province.id))
            named_gtins.append((report.line, key, product_id, rec.gtins))
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
    # A GTIN leads to one product: named for two in the file, or already another's, is a row error.
    by_line = {r.line: r for r in reports}
    for line, problems in gtins.file_problems(session, named_gtins).items():
        by_line[line].errors.extend(FieldError("gtin", message) for message in problems)
        by_line[line].record = None


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
    report.header_line, report.positions = table.header_line, table.positions
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
        discard_batch(session, actor=actor, batch=old)
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


def discard_batch(session: Session, *, actor: permissions.Actor, batch: ImportBatch) -> None:
    """Set a pending batch aside unpublished (kept, with an audit entry)."""
    permissions.require(actor, "view_batch", province=batch.province_id)
    if batch.state != "pending":
        raise PublishError(gettext("Only a pending batch can be discarded."))
    batch.state = "discarded"
    session.add(batch)
    audit.record(
        session,
        **permissions.audit_actor(actor),
        action="discard",
        entity_type="import_batch",
        entity_id=batch.id,
        province_id=batch.province_id,
        summary=batch.filename,
        changes={"state": ["pending", "discarded"]},
    )


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
