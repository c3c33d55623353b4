"""The programme's fixed vocabularies: levels, regions, product groups, producer kinds.

Values are stable ASCII keys stored in the database and used in URLs and the
API; labels are translated at render time (msgids are English, the Vietnamese
catalogue holds the official names).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from flask_babel import gettext as _
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

    @classmethod
    def by_rank(cls, levels: Iterable[Level] | None = None) -> list[Level]:
        """``levels`` (all by default) highest first, as every list of levels is shown."""
        return sorted(cls if levels is None else levels, key=lambda level: -level.rank)

    @property
    def label(self) -> str:
        return str(_LEVEL_LABELS[self])

    @property
    def has_region(self) -> bool:
        """Only a regional certificate (and its round) names a region: required there, dropped elsewhere."""
        return self is Level.KHU_VUC

    def exists_on(self, day: date) -> bool:
        """A district level after 30/6/2025 or a commune level before 1/7/2025 never existed."""
        if self is Level.HUYEN:
            return day < LEVEL_REFORM_DATE
        if self is Level.XA:
            return day >= LEVEL_REFORM_DATE
        return True

    def exists_in(self, year: int) -> bool:
        """Whether the level existed at some time in ``year`` (2025 had both, either side of 1/7)."""
        if self is Level.HUYEN:
            return year <= LEVEL_REFORM_DATE.year
        if self is Level.XA:
            return year >= LEVEL_REFORM_DATE.year
        return True

    def absence(self, day: date | None = None, year: int | None = None) -> str | None:
        """Why a certificate of ``day`` (else of ``year``) cannot have this level; None if it can."""
        if day is not None:
            if self.exists_on(day):
                return None
            return _("The level “%(level)s” did not exist on %(day)s.", level=self.label,
                     day=day.strftime("%d/%m/%Y"))  # fmt: skip
        if year is not None and not self.exists_in(year):
            return _("The level “%(level)s” did not exist in %(year)s.", level=self.label, year=year)
        return None


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
    """The kinds of DESIGN §2; what a decision printed is kept beside it (``kind_as_printed``)."""

    CONG_TY = "cong_ty"
    HTX = "htx"
    TO_HOP_TAC = "to_hop_tac"
    DOANH_NGHIEP_TU_NHAN = "doanh_nghiep_tu_nhan"
    HO_KINH_DOANH = "ho_kinh_doanh"
    KHAC = "khac"

    @property
    def label(self) -> str:
        return str(_KIND_LABELS[self])

    def says_more(self, printed: str | None) -> bool:
        """Whether the kind as printed says something the label does not ("Công ty TNHH")."""
        key = words_key(printed)
        return bool(key) and key not in {words_key(self.label), self.value.replace("_", " ")}


_KIND_LABELS = {
    ProducerKind.CONG_TY: _l("Company"),
    ProducerKind.HTX: _l("Cooperative"),
    ProducerKind.TO_HOP_TAC: _l("Cooperative group"),
    ProducerKind.DOANH_NGHIEP_TU_NHAN: _l("Private enterprise"),
    ProducerKind.HO_KINH_DOANH: _l("Household business"),
    ProducerKind.KHAC: _l("Other"),
}


class EventKind(StrEnum):
    FAIR = "fair"
    SHOWROOM = "showroom"

    @property
    def label(self) -> str:
        return _("Trade fair") if self is EventKind.FAIR else _("Showroom")


class ChangeKind(StrEnum):
    """What a change to a product record was, as the change feed and its readers name it."""

    CREATED = "created"  #: a certificate was published (a new product, or a new certificate of one)
    CORRECTED = "corrected"  #: any other change to the product, its producer, certificates or photos
    REVOKED = "revoked"
    REINSTATED = "reinstated"
    REMOVED = "removed"  #: the product is gone from the registry (merged into another)


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
#: Producer kinds as decisions print them (folded words), mapped to the nearest kind of
#: DESIGN §2. "doanh nghiệp" alone and "cơ sở (sản xuất)" do not say which legal form, and a
#: craft village is no legal form at all: they are "other", with the printed words kept.
_KIND_WORDS = {
    "cong ty": ProducerKind.CONG_TY, "cty": ProducerKind.CONG_TY, "company": ProducerKind.CONG_TY,
    "cong ty co phan": ProducerKind.CONG_TY, "cp": ProducerKind.CONG_TY, "ctcp": ProducerKind.CONG_TY,
    "cong ty cp": ProducerKind.CONG_TY, "cty cp": ProducerKind.CONG_TY,
    "cong ty tnhh": ProducerKind.CONG_TY, "cty tnhh": ProducerKind.CONG_TY, "tnhh": ProducerKind.CONG_TY,
    "cong ty tnhh mtv": ProducerKind.CONG_TY, "cty tnhh mtv": ProducerKind.CONG_TY,
    "tnhh mtv": ProducerKind.CONG_TY, "cong ty trach nhiem huu han": ProducerKind.CONG_TY,
    "cong ty hop danh": ProducerKind.CONG_TY, "joint stock company": ProducerKind.CONG_TY,
    "xi nghiep": ProducerKind.CONG_TY, "xn": ProducerKind.CONG_TY,
    "htx": ProducerKind.HTX, "hop tac xa": ProducerKind.HTX, "cooperative": ProducerKind.HTX,
    "lien hiep hop tac xa": ProducerKind.HTX, "lien hiep htx": ProducerKind.HTX,
    "to hop tac": ProducerKind.TO_HOP_TAC, "tht": ProducerKind.TO_HOP_TAC,
    "cooperative group": ProducerKind.TO_HOP_TAC,
    "doanh nghiep tu nhan": ProducerKind.DOANH_NGHIEP_TU_NHAN, "dntn": ProducerKind.DOANH_NGHIEP_TU_NHAN,
    "private enterprise": ProducerKind.DOANH_NGHIEP_TU_NHAN,
    "ho kinh doanh": ProducerKind.HO_KINH_DOANH, "hkd": ProducerKind.HO_KINH_DOANH,
    "ho kinh doanh ca the": ProducerKind.HO_KINH_DOANH, "ho gia dinh": ProducerKind.HO_KINH_DOANH,
    "ho san xuat": ProducerKind.HO_KINH_DOANH, "household business": ProducerKind.HO_KINH_DOANH,
    "doanh nghiep": ProducerKind.KHAC, "dn": ProducerKind.KHAC,
    "co so": ProducerKind.KHAC, "co so san xuat": ProducerKind.KHAC, "cssx": ProducerKind.KHAC,
    "co so san xuat kinh doanh": ProducerKind.KHAC, "lang nghe": ProducerKind.KHAC,
    "khac": ProducerKind.KHAC, "other": ProducerKind.KHAC,
}  # fmt: skip
#: Longest first, so "công ty TNHH một thành viên" is read by its longest known start.
_KIND_PREFIXES = sorted(_KIND_WORDS, key=len, reverse=True)

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
    """A printed producer kind in any case, with or without diacritics or dots ("H.T.X").

    A longer printed form is read by its longest known start ("Công ty TNHH một thành
    viên" is a company); None when nothing is recognised (the caller keeps the text).
    """
    key = words_key(text)
    if not key:
        return None
    for value in ProducerKind:
        if key == value.value.replace("_", " "):
            return value
    compact = key.replace(" ", "")
    for candidate in (key, compact):
        if candidate in _KIND_WORDS:
            return _KIND_WORDS[candidate]
    for prefix in _KIND_PREFIXES:
        if key.startswith(prefix + " "):
            return _KIND_WORDS[prefix]
    return None


#: How audit entries read to officials; stored values stay stable keys.
AUDIT_ACTIONS = {
    "set_validity": _l("assumed validity set"),
    "create": _l("created"), "update": _l("updated"), "correct": _l("corrected"),
    "revoke": _l("revoked"), "reinstate": _l("revocation withdrawn"), "publish": _l("published"),
    "upload": _l("uploaded"), "discard": _l("discarded"), "add_photo": _l("photo added"),
    "remove_photo": _l("photo removed"), "add_exhibitor": _l("exhibitor added"),
    "remove_exhibitor": _l("exhibitor removed"), "sign_in": _l("signed in"),
    "change_password": _l("password changed"), "activate": _l("account activated"),
    "deactivate": _l("account deactivated"), "issue_reset_link": _l("password reset link issued"),
    "reset_password": _l("password set through a reset link"), "end_session": _l("session ended"),
    "end_other_sessions": _l("other sessions ended"),
    "merge": _l("duplicate merged in"), "unmerge": _l("merge undone"),
    "issue_labels": _l("label run issued"), "withdraw_labels": _l("labels withdrawn"),
    "undo_label_withdrawal": _l("label withdrawal undone"),
}  # fmt: skip
AUDIT_ENTITIES = {
    "validity_policy": _l("Assumed validity"),
    "certificate": _l("Certificate"), "product": _l("Product"), "producer": _l("Producer"),
    "selection_round": _l("Selection round"), "event": _l("Fair or showroom"),
    "import_batch": _l("Import batch"), "photo": _l("Photo"), "user": _l("Account"),
    "revocation_decision": _l("Revocation decision"), "label_run": _l("Label run"),
}  # fmt: skip
