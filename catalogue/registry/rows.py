"""What one row says, typed (:class:`RecordInput`), and how a row of the import format becomes one.

:class:`RecordInput` is what the write path (:mod:`catalogue.registry.records`)
and its matching (:mod:`catalogue.registry.matching`) take; :func:`parse_row`
turns one row of the import format (DESIGN §4) into it, for the spreadsheet
import, the CLI import and seeding. Every problem is reported per field in
plain words; nothing is guessed silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from catalogue import clock
from catalogue.places.models import Province
from catalogue.places.services import Provinces
from catalogue.registry.gtins import GtinError, parse_gtins
from catalogue.text import fold, nfc, words_key
from catalogue.vocab import (
    Level,
    ProducerKind,
    ProductGroup,
    Region,
    parse_group,
    parse_level,
    parse_producer_kind,
    parse_region,
)


@dataclass
class RecordInput:
    """One certified product as published in a decision or source, already typed."""

    product: str
    province: Province
    level: Level
    year: int
    producer: str | None = None
    producer_kind: ProducerKind | None = None
    producer_kind_as_printed: str | None = None
    locality: str | None = None
    group: ProductGroup | None = None
    group_assigned: bool = False
    region: Region | None = None
    certificate_number: str | None = None
    issued_on: date | None = None
    expires_on: date | None = None
    decision_number: str | None = None
    decision_date: date | None = None
    description: str | None = None
    photo: str | None = None
    is_set: bool = False
    components: str | None = None
    source: str | None = None
    edition: str | None = None
    organiser: str | None = None
    issuing_authority: str | None = None
    source_note: str | None = None
    #: Set by the workspace's "add a certificate" form: the product is known, not matched by name.
    product_id: int | None = None
    #: GTINs printed on the product (GTIN-14 form, :mod:`catalogue.registry.gtins`); an import only adds them.
    gtins: tuple[str, ...] = ()


#: Canonical field → accepted headers (Vietnamese first, English alias).
HEADERS: dict[str, tuple[str, ...]] = {
    "product": ("Tên sản phẩm", "product"),
    "producer": ("Tên cơ sở", "producer"),
    "producer_kind": ("Loại hình cơ sở", "producer_kind"),
    "locality": ("Địa chỉ", "locality"),
    "province": ("Tỉnh/Thành phố", "province"),
    "category": ("Nhóm sản phẩm", "category"),
    "level": ("Cấp", "level"),
    "region": ("Khu vực", "region"),
    "year": ("Năm", "year"),
    "certificate_number": ("Số giấy chứng nhận", "certificate_number"),
    "issued_on": ("Ngày cấp", "issued_on"),
    "expires_on": ("Ngày hết hạn", "expires_on"),
    "decision": ("Số quyết định", "decision"),
    "description": ("Mô tả", "description"),
    "photo": ("Ảnh", "photo"),
    # Several per product (commas, semicolons or new lines); the key of a GS1 Digital Link QR.
    "gtin": ("Mã GTIN", "gtin"),
    # Optional extras used by the seed data and accepted from officials too.
    "decision_date": ("Ngày quyết định", "decision_date"),
    "source": ("Nguồn", "source"),
    "group_assigned": ("Nhóm do biên tập viên xác định", "group_assigned"),
    "edition": ("Lần thứ", "edition"),
    "organiser": ("Đơn vị tổ chức", "organiser"),
    # The source's remark on the row, shown publicly as a "source remark", never in a name.
    # Deliberately not a bare "Ghi chú": officials keep internal notes under that header,
    # and those must stay ignored, never published.
    "note": ("Ghi chú nguồn", "Ghi chú về nguồn", "source_note", "source note"),
}
REQUIRED = ("product", "producer", "province", "category", "level", "year", "certificate_number")

_HEADER_KEYS = {words_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}
_DATE_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_SET_PREFIXES = ("bo san pham", "product set")


@dataclass
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def header_field(header: Any) -> str | None:
    """Canonical field for a column header, or None for an unknown column."""
    return _HEADER_KEYS.get(words_key(str(header or "")))


def cell_text(value: Any) -> str:
    """A cell's value as text: a whole-number float (Excel's 12.0) as 12, NFC-normalised."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(str(value))


def parse_date(value: Any) -> date | None:
    """dd/mm/yyyy, ISO, a spreadsheet date, or an Excel serial number; ValueError if bad."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 100000:  # Excel serial day (1900 date system)
            return date(1899, 12, 30) + timedelta(days=int(value))
        raise ValueError(str(value))
    text = cell_text(value)
    match = _DATE_DMY.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return date(year, month, day)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        if re.fullmatch(r"\d{5}(\.0)?", text):
            return parse_date(float(text))
        raise


def _as_printed_on(issued_on: date | None, decided_on: date | None, year: int) -> date:
    """The day that decides which unit a printed province name means.

    Without a date, a year up to 2024 means the pre-2025 unit and a later year
    the current one (the new units began on 1/7/2025).
    """
    return issued_on or decided_on or (date(year, 6, 30) if year <= 2024 else date(year, 12, 31))


#: An issue date this far before the decision's own date is worth a look: a certificate is issued
#: under the decision that recognises it, and the whole procedure from dossier to certificate takes
#: 30 working days (about six weeks), so a quarter of a year earlier is a slip in one of the dates.
ISSUE_BEFORE_DECISION = timedelta(days=90)


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def date_warnings(issued_on: date | None, decided_on: date | None, year: int | None) -> list[FieldError]:
    """Dates that do not fit together, pointed out but never refused (the row can still be right).

    The decision that recognises a round's products is taken in the year of selection
    or early in the next (a round "năm 2024" recognised by QĐ 44/QĐ-CTĐP of 13/5/2024; a late
    round decided in January), and its certificates are issued then too. Only dates given
    on the row are compared; the publish form's decision date comes later.
    """
    warnings: list[FieldError] = []
    if issued_on and year and issued_on.year not in (year, year + 1):
        warnings.append(FieldError("issued_on", _(
            "The issue date %(day)s is neither in the year of selection %(year)s nor in the next "
            "year: check the year and the date.", day=_day(issued_on), year=year)))  # fmt: skip
    if decided_on and year and decided_on.year not in (year, year + 1):
        warnings.append(FieldError("decision_date", _(
            "The decision date %(day)s is neither in the year of selection %(year)s nor in the next "
            "year: check the year and the date.", day=_day(decided_on), year=year)))  # fmt: skip
    if issued_on and decided_on and issued_on > decided_on:
        warnings.append(FieldError("issued_on", _(
            "The issue date %(issued)s is after the decision date %(decided)s: a certificate is "
            "usually dated with the decision that recognises it. Check both dates.",
            issued=_day(issued_on), decided=_day(decided_on))))  # fmt: skip
    elif issued_on and decided_on and decided_on - issued_on > ISSUE_BEFORE_DECISION:
        warnings.append(FieldError("issued_on", _(
            "The issue date %(issued)s is more than %(days)s days before the decision date "
            "%(decided)s: a certificate is issued under its decision, not long before it. "
            "Check both dates.",
            issued=_day(issued_on), days=ISSUE_BEFORE_DECISION.days, decided=_day(decided_on))))  # fmt: skip
    return warnings


def _yes(value: Any) -> bool:
    return fold(cell_text(value)) in {"1", "x", "co", "yes", "true", "y"}


def parse_row(
    raw: dict[str, Any],
    provinces: Provinces,
    *,
    require_number: bool = True,
    require_producer: bool = True,
) -> tuple[RecordInput | None, list[FieldError], list[FieldError]]:
    """Type-check one row keyed by canonical field names: ``(record, errors, warnings)``.

    Errors refuse the row. Warnings never do: an optional value we cannot read
    (a producer kind outside our list) is kept as printed and pointed out.
    Seeding passes ``require_number=False`` and ``require_producer=False``:
    public sources rarely print a certificate number and sometimes name only
    a brand; those facts stay unknown rather than invented.
    """
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    get = {k: cell_text(v) for k, v in raw.items()}
    required = [
        f for f in REQUIRED
        if (f != "certificate_number" or require_number)
        and (f != "producer" or require_producer)
        and (f != "category" or require_number)
    ]  # fmt: skip
    for name in required:
        if not get.get(name):
            errors.append(FieldError(name, _("This value is required.")))

    province = None
    if get.get("province"):
        province = provinces.match(get["province"])
        if province is None:
            hints = provinces.suggest(get["province"])
            message = _l("Unknown province “%(name)s”.", name=get["province"])
            if hints:
                message = _l(
                    "Unknown province “%(name)s”. Did you mean: %(hints)s?",
                    name=get["province"],
                    hints=", ".join(hints),
                )
            errors.append(FieldError("province", str(message)))

    level, region = parse_level(get.get("level"))
    if get.get("level") and level is None:
        errors.append(FieldError("level", _(
            "Unknown level “%(value)s”: use xã, huyện, tỉnh, khu vực or quốc gia.",
            value=get["level"])))  # fmt: skip
    if get.get("region") and level is not None and not level.has_region:
        # Only a regional certificate has a region: any value here is not needed.
        warnings.append(FieldError("region", _(
            "“%(value)s” was ignored: only regional certificates have a region.",
            value=get["region"])))  # fmt: skip
    elif get.get("region"):
        region = parse_region(get["region"])
        if region is None:
            errors.append(FieldError("region", _(
                "Unknown region “%(value)s”: use phía Bắc, miền Trung - Tây Nguyên or phía Nam.",
                value=get["region"])))  # fmt: skip
    if (
        level is not None
        and level.has_region
        and region is None
        and not any(e.field == "region" for e in errors)
    ):
        errors.append(FieldError("region", _("A regional certificate needs its region.")))
    if level is not None and not level.has_region:
        region = None

    group = None
    if get.get("category"):
        group = parse_group(get["category"])
        if group is None:
            errors.append(FieldError("category", _(
                "Unknown product group “%(value)s”.", value=get["category"])))  # fmt: skip

    kind = None
    if get.get("producer_kind"):
        kind = parse_producer_kind(get["producer_kind"])
        if kind is None:
            warnings.append(FieldError("producer_kind", _(
                "Kind of producer “%(value)s” not recognised: it is kept as printed, "
                "without a kind.", value=get["producer_kind"])))  # fmt: skip

    year = None
    if get.get("year"):
        try:
            year = int(get["year"])
            if not 2000 <= year <= clock.today().year + 1:
                raise ValueError
        except ValueError:
            errors.append(FieldError("year", _(
                "“%(value)s” is not a year of selection.", value=get["year"])))  # fmt: skip
            year = None

    dates: dict[str, date | None] = {}
    for name in ("issued_on", "expires_on", "decision_date"):
        try:
            dates[name] = parse_date(raw.get(name))
        except (ValueError, TypeError, OverflowError):
            dates[name] = None
            errors.append(FieldError(name, _(
                "“%(value)s” is not a valid date (use dd/mm/yyyy).", value=get.get(name, ""))))  # fmt: skip
    issued_on = dates["issued_on"]
    if issued_on and dates["expires_on"] and dates["expires_on"] <= issued_on:
        errors.append(FieldError("expires_on", _("The expiry date must come after the issue date.")))
    absent = level.absence(issued_on or dates["decision_date"], year) if level is not None else None
    if absent:
        errors.append(FieldError("level", absent))
    warnings.extend(date_warnings(issued_on, dates["decision_date"], year))
    gtins: list[str] = []
    try:
        gtins = parse_gtins(raw.get("gtin"))
    except GtinError as exc:
        errors.append(FieldError("gtin", str(exc)))

    if errors or province is None or level is None or year is None:
        return None, errors, warnings
    name = get["product"]
    return (
        RecordInput(
            product=name,
            producer=get.get("producer") or None,
            producer_kind=kind,
            producer_kind_as_printed=get.get("producer_kind") or None,
            locality=get.get("locality") or None,
            province=provinces.match(get["province"], _as_printed_on(issued_on, dates["decision_date"], year))
            or province,
            group=group,
            group_assigned=_yes(raw.get("group_assigned")) if group else False,
            level=level,
            region=region,
            year=year,
            certificate_number=get.get("certificate_number") or None,
            issued_on=issued_on,
            expires_on=dates["expires_on"],
            decision_number=get.get("decision") or None,
            decision_date=dates["decision_date"],
            description=get.get("description") or None,
            photo=get.get("photo") or None,
            is_set=fold(name).startswith(_SET_PREFIXES),
            source=get.get("source") or None,
            edition=get.get("edition") or None,
            organiser=get.get("organiser") or None,
            source_note=get.get("note") or None,
            gtins=tuple(gtins),
        ),
        [],
        warnings,
    )
