"""The data dictionary of the bulk downloads: every dataset, every column, what it means.

One list drives both the files and their explanation: the dump writer
(:mod:`catalogue.opendata.dumps`) writes exactly these columns in this order, and the
``/data/dictionary`` page and ``dictionary.csv`` show them in Vietnamese and English, so a
column can never be written without being explained.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class Column:
    name: str
    #: "integer", "text", "date", "boolean", "url" or "code" (a stable key, listed on the page).
    kind: str
    meaning: LazyString


@dataclass(frozen=True)
class Dataset:
    name: str  #: file stem and workbook sheet name, e.g. "certificates"
    title: LazyString
    description: LazyString
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


KINDS: dict[str, LazyString] = {
    "integer": _l("whole number"),
    "text": _l("text"),
    "date": _l("date (YYYY-MM-DD)"),
    "boolean": _l("true or false"),
    "url": _l("web address"),
    "code": _l("stable key"),
}

# Columns several datasets share, defined once so their meaning reads the same everywhere.
_PRINTED = Column(
    "province_as_printed",
    "text",
    _l("The province as printed in the record (may be a unit from before the 2025 reorganisation)."),
)
_NOW = Column("province_now", "text", _l("The current province (after 1 July 2025) it belongs to now."))
_NOW_SLUG = Column("province_now_slug", "code", _l("Its key: see provinces, and the API's province filter."))
_SOURCE = Column("source", "text", _l("The decision or public source the record comes from."))
_LEVEL = Column(
    "level",
    "code",
    _l("Level: xa (commune), huyen (district), tinh (provincial), khu_vuc (regional), quoc_gia (national)."),
)
_REGION = Column(
    "region",
    "code",
    _l("Region of a regional-level round (phia_bac, mien_trung_tay_nguyen, phia_nam); empty otherwise."),
)
_YEAR = Column("year", "integer", _l("Year of selection."))
_DECISION = Column("decision", "text", _l("Number of the decision that recognised it."))
_DECISION_DATE = Column("decision_date", "date", _l("Date of that decision."))
_URL = Column("url", "url", _l("Its public page."))
_SLUG = Column("slug", "code", _l("Its key in the address of its public page."))

CERTIFICATES = Dataset(
    "certificates",
    _l("Certificates"),
    _l("One row per certificate, of every status, with its product, producer, round and province."),
    (
        Column("certificate_id", "integer", _l("The certificate's id: stable, never reused.")),
        Column(
            "product_id",
            "integer",
            _l(
                "The product's id (the API's id); certificates of a merged "
                "duplicate carry the surviving product's id."
            ),
        ),
        Column("producer_id", "integer", _l("The producer's id (see producers); empty when unknown.")),
        Column("round_id", "integer", _l("The selection round's id (see rounds).")),
        Column(
            "certificate_number", "text", _l("The certificate number as printed; empty when not published.")
        ),
        _LEVEL,
        _REGION,
        _YEAR,
        Column("round", "code", _l("The selection round's key (its page is /rounds/<key>).")),
        Column("issued_on", "date", _l("Issue date; empty when only the year is known.")),
        Column(
            "expires_on",
            "date",
            _l("Effective expiry: the decision's, or the one the registry assumes (see expiry_basis)."),
        ),
        Column(
            "expiry_basis",
            "code",
            _l(
                "decision: the expiry is printed in the decision; policy: the "
                "decision states none and the registry assumes its standard "
                "validity for the level."
            ),
        ),
        Column(
            "status",
            "code",
            _l(
                "valid, expired or revoked on the day in status_as_of (the rule is "
                "explained on the page “How status is decided”)."
            ),
        ),
        Column(
            "status_as_of",
            "date",
            _l("The day the status was worked out: the day the file was made (Vietnam time)."),
        ),
        Column("revoked_on", "date", _l("The day a revocation took effect; empty when not revoked.")),
        Column("revoked_reason", "text", _l("The reason for the revocation.")),
        _PRINTED,
        _NOW,
        _NOW_SLUG,
        Column("product_name", "text", _l("The product's name.")),
        Column(
            "product_group",
            "code",
            _l(
                "Product group (thu_cong_my_nghe, "
                "che_bien_nong_lam_thuy_san_thuc_pham, "
                "thiet_bi_may_moc_dung_cu_phu_tung_co_khi, khac); empty when "
                "not yet classified."
            ),
        ),
        Column("product_is_set", "boolean", _l("true for a product set (bộ sản phẩm).")),
        Column("product_locality", "text", _l("The product's commune or district as printed.")),
        Column("product_url", "url", _l("The product's public page.")),
        Column(
            "gtins",
            "text",
            _l(
                "The product's GTINs (the numbers under its barcodes) as 14 digits, separated by "
                "spaces; empty when none is registered. Each leads to the product at /01/<gtin>."
            ),
        ),
        Column("producer_name", "text", _l("The producer's name.")),
        _DECISION,
        _DECISION_DATE,
        Column("office", "text", _l("The office that published the certificate in the registry.")),
        _SOURCE,
        Column("source_note", "text", _l("The source's remark on this record.")),
        Column("verify_url", "url", _l("The verification address printed as a QR code (/v/<code>).")),
    ),
)

PRODUCERS = Dataset(
    "producers",
    _l("Producers"),
    _l("One row per producer; contact details only where the producer agreed to publish them."),
    (
        Column("producer_id", "integer", _l("The producer's id: stable, never reused.")),
        _SLUG,
        Column("name", "text", _l("The producer's name.")),
        Column(
            "kind",
            "code",
            _l(
                "Kind (cong_ty, htx, to_hop_tac, doanh_nghiep_tu_nhan, ho_kinh_doanh, "
                "khac); empty when the source does not say."
            ),
        ),
        Column("kind_as_printed", "text", _l("The kind as the decision printed it.")),
        Column("address", "text", _l("Address as published.")),
        Column("commune", "text", _l("Commune or ward as published.")),
        _PRINTED,
        _NOW,
        _NOW_SLUG,
        Column("phone", "text", _l("Phone (only when contact details are public).")),
        Column("email", "text", _l("Email (only when contact details are public).")),
        Column("website", "url", _l("Website (only when contact details are public).")),
        _SOURCE,
        _URL,
    ),
)

ROUNDS = Dataset(
    "rounds",
    _l("Selection rounds"),
    _l("One row per selection round (bình chọn): the level, year and body that certified."),
    (
        Column("round_id", "integer", _l("The round's id: stable, never reused.")),
        _SLUG,
        _LEVEL,
        _REGION,
        _YEAR,
        _PRINTED,
        _NOW,
        _NOW_SLUG,
        Column("locality", "text", _l("District or commune of a local round, as printed.")),
        Column("edition", "text", _l("Edition, as published.")),
        Column("organiser", "text", _l("Organiser, as published.")),
        Column("issuing_authority", "text", _l("The body that issued the certificates.")),
        _DECISION,
        _DECISION_DATE,
        Column("fair_id", "integer", _l("The fair where the certificates were presented (see fairs).")),
        _SOURCE,
        _URL,
    ),
)

FAIRS = Dataset(
    "fairs",
    _l("Fairs and showrooms"),
    _l("One row per trade fair or showroom."),
    (
        Column("fair_id", "integer", _l("The fair's or showroom's id: stable, never reused.")),
        _SLUG,
        Column("kind", "code", _l("fair (dated) or showroom (standing).")),
        Column("name", "text", _l("Name, as published.")),
        Column("start_date", "date", _l("First day; empty when unknown.")),
        Column("end_date", "date", _l("Last day; empty when unknown.")),
        Column("opening_hours", "text", _l("Opening hours of a showroom.")),
        Column("venue", "text", _l("Venue.")),
        _PRINTED,
        _NOW,
        _NOW_SLUG,
        Column("organiser", "text", _l("Organiser, as published.")),
        Column("booths", "text", _l("Number of booths as published (may read “>500”).")),
        _SOURCE,
        _URL,
    ),
)

PROVINCES = Dataset(
    "provinces",
    _l("Provinces"),
    _l("The 34 current provinces and the 63 from before 1 July 2025, each with the unit it became part of."),
    (
        Column("province_id", "integer", _l("The unit's id in the registry.")),
        Column("slug", "code", _l("The unit's key.")),
        Column("name", "text", _l("Official name with its prefix (Tỉnh, Thành phố).")),
        Column("short_name", "text", _l("The name as people write it, without prefix.")),
        Column("kind", "code", _l("tinh (province) or thanh_pho (centrally governed city).")),
        Column("code", "text", _l("Official code of a current unit (Decision 19/2025/QĐ-TTg).")),
        Column("region", "code", _l("Region of a current unit as published; empty when mixed.")),
        Column("valid_from", "date", _l("The day the unit came into being, when known.")),
        Column("valid_to", "date", _l("The last day of a unit from before 2025; empty for a current one.")),
        Column("is_current", "boolean", _l("true for the 34 current units.")),
        Column(
            "became_part_of_id",
            "integer",
            _l("For a unit from before 2025: the id of the current unit it became part of."),
        ),
        Column("became_part_of", "text", _l("That unit's name.")),
        Column("became_part_of_slug", "code", _l("That unit's key.")),
    ),
)

DICTIONARY = Dataset(
    "dictionary",
    _l("Data dictionary"),
    _l("Every column of every file, with its meaning in Vietnamese and English."),
    (
        Column("dataset", "code", _l("The file (certificates, producers, …) the column belongs to.")),
        Column("column", "code", _l("The column's name, as in the file's first row.")),
        Column("type", "code", _l("integer, text, date, boolean, url or code (a stable key).")),
        Column("meaning_vi", "text", _l("Its meaning in Vietnamese.")),
        Column("meaning_en", "text", _l("Its meaning in English.")),
    ),
)

#: Every dataset, in the order of the page and the workbook's sheets.
DATASETS: tuple[Dataset, ...] = (CERTIFICATES, PRODUCERS, ROUNDS, FAIRS, PROVINCES, DICTIONARY)


def dataset(name: str) -> Dataset | None:
    return next((d for d in DATASETS if d.name == name), None)
