"""Filters and facet counts over an in-memory table of the index's documents.

Whoosh's ``groupedby`` facets collect and sort every match and dominate query
time at 100,000 products (LIBRARIES.md). Instead each process keeps, per index
segment, numpy arrays of what filters need (read once from the stored ``meta``
field; segments are immutable, so only new segments are read after a refresh),
and a query turns its matching document numbers into boolean masks.

Semantics (per certificate, as a buyer reads a filter):

* a product matches when its text matches, its group and current province
  pass, and **one of its certificates** passes every certificate filter
  (level, region, year, status) at once;
* each facet's counts apply every *other* filter, so choosing a province keeps
  the other provinces listed with their counts; counts are of products.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

import numpy as np
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from catalogue.registry.status import Policy, status_codes, validity_start
from catalogue.vocab import CertificateStatus, Level, ProductGroup, Region

LEVELS: list[str] = [v.value for v in Level]
REGIONS: list[str] = ["", *(v.value for v in Region)]
#: Products with no group yet: a facet and filter value of its own (code 0, as the index stores "").
UNCLASSIFIED = "unclassified"
GROUPS: list[str] = [UNCLASSIFIED, *(v.value for v in ProductGroup)]
STATUSES: list[str] = [v.value for v in CertificateStatus]

#: Province slugs get small integer codes, stable for the life of the process.
_PROVINCE_CODES: dict[str, int] = {"": 0}
PROVINCES: list[str] = [""]


def province_code(slug: str) -> int:
    code = _PROVINCE_CODES.get(slug)
    if code is None:
        code = _PROVINCE_CODES[slug] = len(PROVINCES)
        PROVINCES.append(slug)
    return code


@dataclass
class _Segment:
    """Arrays for one segment, indexed by the segment's own document numbers."""

    pid: np.ndarray
    group: np.ndarray
    province: np.ndarray
    newest: np.ndarray
    name_len: np.ndarray
    body_len: np.ndarray
    keys: list[str]
    cert_doc: np.ndarray
    level: np.ndarray
    region: np.ndarray
    year: np.ndarray
    expires: np.ndarray
    revoked: np.ndarray
    #: Where an assumed validity counts from: issue date, else 31 December of the year (ordinals).
    start: np.ndarray

    @classmethod
    def read(cls, reader: IndexReader) -> _Segment:
        n = reader.doc_count_all()
        pid = np.zeros(n, np.int64)
        group = np.zeros(n, np.int8)
        province = np.zeros(n, np.int16)
        newest = np.zeros(n, np.int16)
        name_len = np.ones(n, np.float32)
        body_len = np.ones(n, np.float32)
        keys = [""] * n
        cd: list[int] = []
        lv: list[int] = []
        rg: list[int] = []
        yr: list[int] = []
        ex: list[int] = []
        rv: list[int] = []
        st: list[int] = []
        for docnum in range(n):
            meta = json.loads(reader.stored_fields(docnum).get("meta") or "{}")
            if not meta:
                continue
            pid[docnum] = meta["pid"]
            group[docnum] = GROUPS.index(meta["group"]) if meta["group"] in GROUPS else 0
            province[docnum] = province_code(meta["province"])
            newest[docnum] = meta["newest"]
            name_len[docnum] = meta["nl"]
            body_len[docnum] = meta["bl"]
            keys[docnum] = meta["k"]
            for level, region, year, expires, revoked, issued in meta["certs"]:
                cd.append(docnum)
                lv.append(LEVELS.index(level))
                rg.append(REGIONS.index(region) if region in REGIONS else 0)
                yr.append(year)
                ex.append(expires)
                rv.append(revoked)
                st.append(issued or validity_start(None, year).toordinal())
        return cls(pid, group, province, newest, name_len, body_len, keys, np.array(cd, np.int64),
                   np.array(lv, np.int8),
                   np.array(rg, np.int8), np.array(yr, np.int16), np.array(ex, np.int32),
                   np.array(rv, np.int32), np.array(st, np.int32))  # fmt: skip

    def save(self, path: Path) -> None:
        """Write the arrays next to the index (atomically) so other processes skip :meth:`read`.

        Province codes are per process, so the file holds each segment's own slug list.
        """
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("keys", "province")}
        codes, local = np.unique(self.province, return_inverse=True)
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "wb") as out:
                labels = np.array([PROVINCES[c] for c in codes.tolist()], dtype=str)
                np.savez(out, **arrays, keys=np.array(self.keys, dtype=str),
                         province=local.astype(np.int16), province_labels=labels)  # fmt: skip
            os.replace(tmp, path)
        except OSError:  # a read-only or full disk only costs the next process a slower start
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, size: int) -> _Segment | None:
        """Arrays saved by :meth:`save`, or None when missing, unreadable or of another size."""
        try:
            with np.load(path, allow_pickle=False) as z:
                values = {name: z[name] for name in z.files}
        except (OSError, ValueError, KeyError, EOFError):
            return None
        try:
            labels = values.pop("province_labels").tolist()
            local = values.pop("province")
            remap = np.array([province_code(s) for s in labels] or [0], np.int16)
            seg = cls(province=remap[local] if len(local) else np.zeros(0, np.int16),
                      keys=values.pop("keys").tolist(), **values)  # fmt: skip
        except (KeyError, TypeError, IndexError):
            return None
        return seg if len(seg.pid) == size else None


def facet_file(folder: Path, segid: str, size: int) -> Path:
    return folder / f"facets-{segid}-{size}.npz"


def prune_facet_files(folder: Path, keep: set[Path]) -> None:
    """Remove saved tables of segments no longer in the index (merged or replaced)."""
    for path in folder.glob("facets-*.npz"):
        if path not in keep:
            path.unlink(missing_ok=True)


def _leaves(searcher: Searcher) -> list[tuple[IndexReader, int]]:
    if searcher.is_atomic():
        return [(searcher.reader(), 0)]
    return [(s.reader(), offset) for s, offset in searcher.subsearchers]


@dataclass
class DocTable:
    """All documents of one searcher: doc arrays by global docnum, cert arrays flat."""

    size: int
    live: np.ndarray
    pid: np.ndarray
    group: np.ndarray
    province: np.ndarray
    newest: np.ndarray
    name_len: np.ndarray
    body_len: np.ndarray
    keys: list[str]
    cert_doc: np.ndarray
    level: np.ndarray
    region: np.ndarray
    year: np.ndarray
    expires: np.ndarray
    revoked: np.ndarray
    start: np.ndarray
    segments: dict[tuple[str, int], _Segment] = field(default_factory=dict)
    _status_cache: tuple[tuple[object, ...], np.ndarray] | None = None
    _name_rank: np.ndarray | None = None
    _names_sorted: np.ndarray = field(default_factory=lambda: np.array([], dtype=str))
    _years: np.ndarray | None = None
    _length_stats: tuple[int, dict[str, float]] | None = None

    @classmethod
    def build(
        cls, searcher: Searcher, previous: DocTable | None = None, folder: Path | None = None
    ) -> DocTable:
        """Concatenate per-segment arrays, reusing segments already read.

        With ``folder`` (the build directory), tables saved there are loaded instead of
        reading every stored document (seconds at 100,000 products), and tables read
        are saved for the next process.
        """
        cache = previous.segments if previous else {}
        segments: dict[tuple[str, int], _Segment] = {}
        parts: list[tuple[_Segment, int]] = []
        size = searcher.doc_count_all()
        live = np.ones(size, bool)
        for reader, offset in _leaves(searcher):
            seg = reader.segment()
            if seg is None:  # an empty index
                continue
            key = (seg.segid, reader.doc_count_all())
            part = cache.get(key)
            if part is None and folder is not None:
                path = facet_file(folder, *key)
                part = _Segment.load(path, key[1])
                if part is None:
                    part = _Segment.read(reader)
                    part.save(path)
            if part is None:
                part = _Segment.read(reader)
            segments[key] = part
            parts.append((part, offset))
            if reader.has_deletions():
                dead = np.fromiter(seg.deleted_docs(), np.int64)
                live[dead + offset] = False

        def cat(name: str, dtype: type) -> np.ndarray:  # noqa: E306
            arrays = [getattr(p, name) for p, _ in parts]
            return np.concatenate(arrays) if arrays else np.zeros(0, dtype)

        cert_doc = (np.concatenate([p.cert_doc + off for p, off in parts]) if parts
                    else np.zeros(0, np.int64))  # fmt: skip
        return cls(size=size, live=live, pid=cat("pid", np.int64), group=cat("group", np.int8),
                   province=cat("province", np.int16), newest=cat("newest", np.int16),
                   name_len=cat("name_len", np.float32), body_len=cat("body_len", np.float32),
                   keys=[k for p, _ in parts for k in p.keys],
                   cert_doc=cert_doc, level=cat("level", np.int8), region=cat("region", np.int8),
                   year=cat("year", np.int16), expires=cat("expires", np.int32),
                   revoked=cat("revoked", np.int32), start=cat("start", np.int32),
                   segments=segments)  # fmt: skip

    def name_rank(self) -> np.ndarray:
        """Each document's name key's place among the distinct keys in order (equal names share
        one, so ties fall to the next sort key; computed on first use)."""
        if self._name_rank is None:
            self._names_sorted, inverse = np.unique(np.array(self.keys, dtype=str), return_inverse=True)
            self._name_rank = inverse.astype(np.int64).reshape(-1)
        return self._name_rank

    def name_place(self, key: str) -> float:
        """Where a name key falls among this table's names (between two when it is not one of them)."""
        self.name_rank()
        place = int(np.searchsorted(self._names_sorted, key))
        found = place < len(self._names_sorted) and self._names_sorted[place] == key
        return float(place) if found else place - 0.5

    def length_stats(self) -> tuple[int, dict[str, float]]:
        """Live documents (at least 1) and their mean name and body lengths, for BM25 (once per table)."""
        if self._length_stats is None:
            live = self.live
            avg = {k: max(1.0, float(v[live].mean())) if live.any() else 1.0
                   for k, v in (("name", self.name_len), ("body", self.body_len))}  # fmt: skip
            self._length_stats = (max(1, int(live.sum())), avg)
        return self._length_stats

    def years(self) -> np.ndarray:
        """Distinct certificate years, sorted (computed once per table)."""
        if self._years is None:
            self._years = np.unique(self.year)
        return self._years

    def status_on(self, day: date, policy: Policy) -> np.ndarray:
        """Each certificate's status code on ``day`` (a position in :data:`STATUSES`):
        :func:`catalogue.registry.status.status_codes`, kept until the day or the policy changes."""
        key = (day.toordinal(), policy.key)
        if self._status_cache and self._status_cache[0] == key:
            return self._status_cache[1]
        status = status_codes(day, policy, levels=LEVELS, level=self.level, expires=self.expires,
                              revoked=self.revoked, start=self.start)  # fmt: skip
        self._status_cache = (key, status)
        return status


@dataclass
class Filters:
    """Filter values as codes; an empty tuple means "any"."""

    groups: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()


FACETS = ("group", "province", "region", "level", "year", "status")


@dataclass
class Counted:
    docs: np.ndarray
    facets: dict[str, list[tuple[str, int]]]


def _isin(values: np.ndarray, wanted: list[int]) -> np.ndarray:
    return np.isin(values, np.array(wanted, dtype=values.dtype))


def filter_and_count(
    table: DocTable,
    matched: np.ndarray,
    filters: Filters,
    day: date,
    policy: Policy | None = None,
    with_facets: bool = True,
) -> Counted:
    """Documents passing every filter (in docnum order) and each facet's counts.

    ``matched`` is a boolean mask of the documents the text query matches. Status
    "expired" includes certificates past the assumed validity of ``policy``.
    """
    status = table.status_on(day, policy or Policy())
    doc_masks: dict[str, np.ndarray] = {}
    if filters.groups:
        doc_masks["group"] = _isin(table.group, [GROUPS.index(g) for g in filters.groups if g in GROUPS])
    if filters.provinces:
        doc_masks["province"] = _isin(table.province, [province_code(p) for p in filters.provinces])
    cert_values = {"level": table.level, "region": table.region, "year": table.year, "status": status}
    cert_masks: dict[str, np.ndarray] = {}
    if filters.levels:
        cert_masks["level"] = _isin(table.level, [LEVELS.index(v) for v in filters.levels])
    if filters.regions:
        cert_masks["region"] = _isin(table.region, [REGIONS.index(v) for v in filters.regions])
    if filters.years:
        cert_masks["year"] = _isin(table.year, list(filters.years))
    if filters.statuses:
        cert_masks["status"] = _isin(status, [STATUSES.index(v) for v in filters.statuses])

    def all_of(masks: dict[str, np.ndarray], base: np.ndarray, skip: str | None = None) -> np.ndarray:
        out = base.copy()
        for name, mask in masks.items():
            if name != skip:
                out &= mask
        return out

    ones_c = np.ones(len(table.cert_doc), bool)

    def docs_with(cert_mask: np.ndarray) -> np.ndarray:
        out = np.zeros(table.size, bool)
        out[table.cert_doc[cert_mask]] = True
        return out

    has_cert = docs_with(all_of(cert_masks, ones_c)) if cert_masks else np.ones(table.size, bool)
    products = all_of(doc_masks, matched)
    final = products & has_cert
    facets: dict[str, list[tuple[str, int]]] = {}
    if with_facets:
        for name, values, labels in (("group", table.group, GROUPS), ("province", table.province, PROVINCES)):
            base = all_of(doc_masks, matched, skip=name) & has_cert
            counts = np.bincount(values[base].astype(np.int64), minlength=len(labels))
            # Code 0 last: "not yet classified" after the groups; a province unknown is not offered.
            facets[name] = [(labels[i], int(counts[i])) for i in [*range(1, len(labels)), 0]
                            if counts[i] and labels[i]]  # fmt: skip
        years = table.years()
        codes = {"level": (table.level, LEVELS), "region": (table.region, REGIONS),
                 "status": (status, STATUSES),
                 "year": (np.searchsorted(years, table.year), [str(y) for y in years])}  # fmt: skip
        for name in cert_values:
            values, labels = codes[name]
            cmask = all_of(cert_masks, products[table.cert_doc], skip=name)
            # A product counts once per value however many certificates carry it:
            # mark (value, product) in a small boolean matrix and count rows.
            seen = np.zeros((len(labels), table.size), bool)
            seen[values[cmask].astype(np.int64), table.cert_doc[cmask]] = True
            counts = seen.sum(axis=1)
            facets[name] = [(labels[i], int(c)) for i, c in enumerate(counts) if c and labels[i]]
    return Counted(docs=np.flatnonzero(final), facets=facets)
