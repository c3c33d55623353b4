"""The index schema and the one function that turns a product into a document.

Two text field pairs: ``name_*`` (product name, weighted) and ``body_*``
(everything else a buyer may type), each as *exact* (accents kept) and
*folded* (accents removed, ``đ``→``d``). ``gtin`` holds each GTIN as stored
(14 digits; a typed one, in any of its forms, is read into that form), whole, outside
the text fields so it never weighs on their ranking (a typed GTIN is matched by
:meth:`catalogue.search.engine.Scorer.gtin`). ``meta`` stores what filters and
facets need (group, current province, and per certificate: level, region,
year, the decision's expiry, revocation and issue dates) so status is computed
at query time, with the validity policy then in effect (services.status), and
nothing needs reindexing when a certificate expires or the policy changes.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from flask_babel import force_locale
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from catalogue.places.services import Provinces
from catalogue.registry.catalog import ProductSummary
from catalogue.search.analysis import TOKEN_PATTERN, exact_analyzer, folded_analyzer
from catalogue.text import fold, nfc
from catalogue.vocab import Level, ProductGroup, Region

#: Bump when documents change shape; an index of another version is rebuilt.
SCHEMA_VERSION = 5  # 5: the gtin field

#: Official Vietnamese names, indexed whatever the compiled catalogues hold.
GROUP_VI = {
    ProductGroup.THU_CONG_MY_NGHE: "Thủ công mỹ nghệ",
    ProductGroup.CHE_BIEN: "Chế biến nông, lâm, thủy sản và thực phẩm",
    ProductGroup.CO_KHI: "Thiết bị, máy móc, dụng cụ và phụ tùng cơ khí",
    ProductGroup.KHAC: "Sản phẩm khác",
}
LEVEL_VI = {
    Level.XA: "cấp xã", Level.HUYEN: "cấp huyện", Level.TINH: "cấp tỉnh",
    Level.KHU_VUC: "cấp khu vực", Level.QUOC_GIA: "cấp quốc gia",
}  # fmt: skip
REGION_VI = {
    Region.PHIA_BAC: "phía Bắc",
    Region.MIEN_TRUNG_TAY_NGUYEN: "miền Trung – Tây Nguyên",
    Region.PHIA_NAM: "phía Nam",
}


def build_schema() -> Schema:
    exact, folded = exact_analyzer(), folded_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        # Exact fields only boost ranking: no positions (phrases use the folded ones).
        name_exact=TEXT(analyzer=exact, field_boost=2.0, phrase=False),
        name_fold=TEXT(analyzer=folded, field_boost=2.0, spelling=True),
        body_exact=TEXT(analyzer=exact, phrase=False),
        body_fold=TEXT(analyzer=folded),
        # Whole codes, matched only by a query that reads as a GTIN: no analysis, no scoring.
        gtin=KEYWORD(),
        # Sort keys as columns, read without loading stored fields.
        name_key=ID(sortable=True),
        newest=NUMERIC(sortable=True, bits=32),
        meta=STORED(),
    )


_TOKEN = re.compile(TOKEN_PATTERN)
_ENGLISH: dict[object, str] = {}


def _ordinal(day: date | None) -> int:
    return day.toordinal() if day else 0


def english(member: Any) -> str:
    """English label of a vocabulary member (cached: msgids are English)."""
    if member not in _ENGLISH:
        with force_locale("en"):
            _ENGLISH[member] = str(member.label)
    return _ENGLISH[member]


def _place_names(provinces: Provinces, current: Any) -> list[str]:
    """A current unit's name and its former units' names (memoised: a rebuild asks 100,000 times)."""
    memo: dict[int, list[str]] = provinces.__dict__.setdefault("_search_place_names", {})
    found = memo.get(current.id)
    if found is None:
        found = memo[current.id] = [
            current.short_name,
            *(p.short_name for p in provinces.predecessors(current)),
        ]
    return found


def document_for(summary: ProductSummary, provinces: Provinces) -> dict[str, Any]:
    """The search document of one product (built from database rows only)."""
    p = summary.product
    current = summary.current_province
    body: list[str] = [p.components or "", p.description or "", p.locality or ""]
    if summary.producer:
        body += [summary.producer.name, summary.producer.commune or ""]
    # Province as printed, its current unit and that unit's former names, so an
    # old name ("Kiên Giang") finds products now listed under the new unit.
    if summary.province is not None:
        body.append(summary.province.short_name)
    if current is not None:
        body += _place_names(provinces, current)
    if summary.group:
        body += [GROUP_VI[summary.group], english(summary.group)]
    certs = []
    for view in summary.certificates:
        # Region: the round's for regional certificates, else the current province's.
        home = view.current_province or current
        region = view.region or (Region(home.region) if home and home.region else None)
        body += [LEVEL_VI[view.level], english(view.level), str(view.year), view.cert.number or ""]
        if view.region:
            body += [REGION_VI[view.region], english(view.region)]
        certs.append([
            view.level.value, region.value if region else "", view.year,
            _ordinal(view.cert.expires_on), _ordinal(view.cert.revoked_on), _ordinal(view.cert.issued_on),
        ])  # fmt: skip
    body_text = nfc(" ".join(part for part in body if part))
    name = nfc(p.name)
    meta = {
        "pid": p.id,
        "group": p.group or "",
        "province": current.slug if current else "",
        "newest": max((c[2] for c in certs), default=0),
        "certs": certs,
        # Token counts (BM25 length normalisation) and the sort key for "name".
        "nl": len(_TOKEN.findall(name)),
        "bl": len(_TOKEN.findall(body_text)),
        "k": fold(name)[:200],
    }
    return {
        "id": str(p.id),
        "name_exact": name,
        "name_fold": name,
        "body_exact": body_text,
        "body_fold": body_text,
        "gtin": " ".join(summary.gtins),  # GTIN-14s: a query's GTIN is read into that form first
        "name_key": fold(name)[:200],
        "newest": meta["newest"],
        "meta": json.dumps(meta, separators=(",", ":")),
    }
