"""The programme's fixed vocabularies: levels, regions, product groups, producer kinds.

Values are stable ASCII keys stored in the database and used in URLs and the
API; labels are translated at render time (msgids are English, the Vietnamese
catalogue holds the official names).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from flask_babel import lazy_gettext as _l

from catalogue.text import words_key

#: The day the district level ended and the commune level began (TT 38/2025).
LEVEL_REFORM_DATE = date(2025, 7, 1)


class Level(StrEnum):
    XA = "xa"
    HUYEN = "huyen"
    TINH = "tinh"
    KHU_VUC = "khu_vuc"
    QUOC_GIA = "quoc_gia"

    @property
    def rank(self) -> int:
        """Higher is more prestigious; pages list the highest valid level first."""
        return _LEVEL_RANK[self]

    @property
    def label(self) -> str:
        return str(_LEVEL_LABELS[self])

    def exists_on(self, day: date) -> bool:
        """A district level after 30/6/2025 or a commune level before 1/7/2025 never existed."""
        if self is Level.HUYEN:
            return day < LEVEL_REFORM_DATE
        if self is Level.XA:
            return day >= LEVEL_REFORM_DATE
        return True


_LEVEL_RANK = {Level.XA: 1, Level.HUYEN: 2, Level.TINH: 3, Level.KHU_VUC: 4, Level.QUOC_GIA: 5}
_LEVEL_LABELS = {
    Level.XA: _l("Commune level"),
    Level.HUYEN: _l("District level"),
    Level.TINH: _l("Provincial level"),
    Level.KHU_VUC: _l("Regional level"),
    Level.QUOC_GIA: _l("National level"),
}


class Region(StrEnum):
    PHIA_BAC = "phia_bac"
    MIEN_TRUNG_TAY_NGUYEN = "mien_trung_tay_nguyen"
    PHIA_NAM = "phia_nam"

    @property
    def label(self) -> str:
        return str(_REGION_LABELS[self])


_REGION_LABELS = {
    Region.PHIA_BAC: _l("Northern region"),
    Region.MIEN_TRUNG_TAY_NGUYEN: _l("Central and Central Highlands region"),
    Region.PHIA_NAM: _l("Southern region"),
}


class ProductGroup(StrEnum):
    THU_CONG_MY_NGHE = "thu_cong_my_nghe"
    CHE_BIEN = "che_bien_nong_lam_thuy_san_thuc_pham"
    CO_KHI = "thiet_bi_may_moc_dung_cu_phu_tung_co_khi"
    KHAC = "khac"

    @property
    def label(self) -> str:
        return str(_GROUP_LABELS[self])


_GROUP_LABELS = {
    ProductGroup.THU_CONG_MY_NGHE: _l("Handicrafts"),
    ProductGroup.CHE_BIEN: _l("Processed agricultural, forestry and fishery products and foods"),
    ProductGroup.CO_KHI: _l("Equipment, machinery, tools and mechanical parts"),
    ProductGroup.KHAC: _l("Other products"),
}


class ProducerKind(StrEnum):
    CONG_TY = "cong_ty"
    HTX = "htx"
    TO_HOP_TAC = "to_hop_tac"
    DOANH_NGHIEP_TU_NHAN = "doanh_nghiep_tu_nhan"
    DOANH_NGHIEP = "doanh_nghiep"
    HO_KINH_DOANH = "ho_kinh_doanh"
    CO_SO = "co_so"
    KHAC = "khac"

    @property
    def label(self) -> str:
        return str(_KIND_LABELS[self])


_KIND_LABELS = {
    ProducerKind.CONG_TY: _l("Company"),
    ProducerKind.HTX: _l("Cooperative"),
    ProducerKind.TO_HOP_TAC: _l("Cooperative group"),
    ProducerKind.DOANH_NGHIEP_TU_NHAN: _l("Private enterprise"),
    ProducerKind.DOANH_NGHIEP: _l("Enterprise (type not stated)"),
    ProducerKind.HO_KINH_DOANH: _l("Household business"),
    ProducerKind.CO_SO: _l("Production establishment"),
    ProducerKind.KHAC: _l("Other"),
}


class EventKind(StrEnum):
    FAIR = "fair"
    SHOWROOM = "showroom"

    @property
    def label(self) -> str:
        return str(_l("Trade fair") if self is EventKind.FAIR else _l("Showroom"))


class CertificateStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return str(_STATUS_LABELS[self])


_STATUS_LABELS = {
    CertificateStatus.VALID: _l("Valid"),
    CertificateStatus.EXPIRED: _l("Expired"),
    CertificateStatus.REVOKED: _l("Revoked"),
}


# Lenient matching of the Vietnamese words officials and sources use.
_LEVEL_WORDS = {
    "xa": Level.XA, "cap xa": Level.XA, "commune": Level.XA,
    "huyen": Level.HUYEN, "cap huyen": Level.HUYEN, "district": Level.HUYEN,
    "tinh": Level.TINH, "cap tinh": Level.TINH, "provincial": Level.TINH, "province": Level.TINH,
    "khu vuc": Level.KHU_VUC, "cap khu vuc": Level.KHU_VUC, "regional": Level.KHU_VUC,
    "quoc gia": Level.QUOC_GIA, "cap quoc gia": Level.QUOC_GIA, "national": Level.QUOC_GIA,
}  # fmt: skip
_REGION_WORDS = {
    "phia bac": Region.PHIA_BAC, "bac": Region.PHIA_BAC, "north": Region.PHIA_BAC,
    "northern": Region.PHIA_BAC,
    "mien trung tay nguyen": Region.MIEN_TRUNG_TAY_NGUYEN,
    "mien trung": Region.MIEN_TRUNG_TAY_NGUYEN, "central": Region.MIEN_TRUNG_TAY_NGUYEN,
    "phia nam": Region.PHIA_NAM, "nam": Region.PHIA_NAM, "south": Region.PHIA_NAM,
    "southern": Region.PHIA_NAM,
}  # fmt: skip
_GROUP_WORDS = {
    "thu cong my nghe": ProductGroup.THU_CONG_MY_NGHE, "handicrafts": ProductGroup.THU_CONG_MY_NGHE,
    "che bien nong lam thuy san va thuc pham": ProductGroup.CHE_BIEN,
    "bao quan che bien nong lam thuy san va thuc pham": ProductGroup.CHE_BIEN,
    "che bien nong lam thuy san thuc pham va do uong": ProductGroup.CHE_BIEN,
    "che bien nong lam thuy san va thuc pham do uong": ProductGroup.CHE_BIEN,
    "che bien": ProductGroup.CHE_BIEN, "processed foods": ProductGroup.CHE_BIEN,
    "thiet bi may moc dung cu va phu tung co khi": ProductGroup.CO_KHI,
    "thiet bi may moc dung cu phu tung co khi": ProductGroup.CO_KHI,
    "co khi": ProductGroup.CO_KHI, "machinery": ProductGroup.CO_KHI,
    "khac": ProductGroup.KHAC, "san pham khac": ProductGroup.KHAC,
    "cac san pham khac": ProductGroup.KHAC, "other": ProductGroup.KHAC,
}  # fmt: skip
_KIND_WORDS = {
    "cong ty": ProducerKind.CONG_TY, "company": ProducerKind.CONG_TY,
    "htx": ProducerKind.HTX, "hop tac xa": ProducerKind.HTX, "cooperative": ProducerKind.HTX,
    "to hop tac": ProducerKind.TO_HOP_TAC, "tht": ProducerKind.TO_HOP_TAC,
    "doanh nghiep tu nhan": ProducerKind.DOANH_NGHIEP_TU_NHAN, "dntn": ProducerKind.DOANH_NGHIEP_TU_NHAN,
    "doanh nghiep": ProducerKind.DOANH_NGHIEP,
    "ho kinh doanh": ProducerKind.HO_KINH_DOANH, "hkd": ProducerKind.HO_KINH_DOANH,
    "co so": ProducerKind.CO_SO, "khac": ProducerKind.KHAC, "other": ProducerKind.KHAC,
}  # fmt: skip

_GROUP_PREFIX = ("nhom cac san pham ", "nhom san pham ", "nhom ", "san pham ")


def parse_level(text: str | None) -> tuple[Level | None, Region | None]:
    """Read a level, and a region when it is written with it ("khu vực phía Nam")."""
    key = words_key(text)
    if not key:
        return None, None
    for value in Level:
        if key == value.value.replace("_", " "):
            return value, None
    if key in _LEVEL_WORDS:
        return _LEVEL_WORDS[key], None
    for prefix in ("cap khu vuc ", "khu vuc "):
        if key.startswith(prefix):
            return Level.KHU_VUC, parse_region(key.removeprefix(prefix))
    return None, None


def parse_region(text: str | None) -> Region | None:
    key = words_key(text)
    for prefix in ("khu vuc ",):
        key = key.removeprefix(prefix)
    for value in Region:
        if key == value.value.replace("_", " "):
            return value
    return _REGION_WORDS.get(key)


def parse_group(text: str | None) -> ProductGroup | None:
    key = words_key(text)
    for value in ProductGroup:
        if key == value.value.replace("_", " "):
            return value
    for prefix in _GROUP_PREFIX:
        if key.startswith(prefix) and key.removeprefix(prefix) in _GROUP_WORDS:
            return _GROUP_WORDS[key.removeprefix(prefix)]
    return _GROUP_WORDS.get(key)


def parse_producer_kind(text: str | None) -> ProducerKind | None:
    key = words_key(text)
    for value in ProducerKind:
        if key == value.value.replace("_", " "):
            return value
    return _KIND_WORDS.get(key)


#: How audit entries read to officials; stored values stay stable keys.
AUDIT_ACTIONS = {
    "create": _l("created"), "update": _l("updated"), "correct": _l("corrected"),
    "revoke": _l("revoked"), "reinstate": _l("revocation withdrawn"), "publish": _l("published"),
    "upload": _l("uploaded"), "discard": _l("discarded"), "add_photo": _l("photo added"),
    "remove_photo": _l("photo removed"), "add_exhibitor": _l("exhibitor added"),
    "remove_exhibitor": _l("exhibitor removed"), "sign_in": _l("signed in"),
    "change_password": _l("password changed"), "activate": _l("account activated"),
    "deactivate": _l("account deactivated"),
}  # fmt: skip
AUDIT_ENTITIES = {
    "certificate": _l("Certificate"), "product": _l("Product"), "producer": _l("Producer"),
    "selection_round": _l("Selection round"), "event": _l("Fair or showroom"),
    "import_batch": _l("Import batch"), "photo": _l("Photo"), "user": _l("Account"),
}  # fmt: skip
