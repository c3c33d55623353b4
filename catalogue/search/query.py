"""SearchParams → SearchResult: the one search function behind the page, the API and CSV.

The query language is forgiving: words (all must match, with or without
accents), ``"quoted phrases"`` and ``prefix*``; every other character is
treated as a separator, so stray syntax never causes an error.
"""

from __future__ import annotations

import logging
import math
import pickle
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import Engine
from whoosh.searching import Searcher

from catalogue.clock import today as clock_today
from catalogue.places.services import Provinces
from catalogue.registry.status import current_policy
from catalogue.search.analysis import exact_tokens, folded_tokens
from catalogue.search.engine import Scorer
from catalogue.search.facets import FACETS, DocTable, Filters, filter_and_count
from catalogue.search.index import IndexBuilding, Reader, Snapshot, reader_for
from catalogue.text import fold, nfc
from catalogue.vocab import CertificateStatus, parse_group, parse_level, parse_region

log = logging.getLogger(__name__)

MAX_QUERY = 200
MAX_PAGE = 10_000
SORTS = ("relevance", "newest", "name")
#: Below this many results a spelling suggestion is offered.
SUGGEST_BELOW = 3


class SearchError(ValueError):
    """Bad search input; the message is already in the visitor's language."""


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    groups: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    #: Empty = every status (``status=all``); default valid only.
    statuses: tuple[str, ...] = ("valid",)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20

    @classmethod
    def from_args(cls, args: Mapping[str, object], provinces: Provinces, *,
                  default_per_page: int = 20, max_per_page: int = 100) -> SearchParams:  # fmt: skip
        """Validate request arguments; raises :class:`SearchError` with a clear message."""

        def values(name: str) -> list[str]:
            getlist = getattr(args, "getlist", None)
            raw = getlist(name) if getlist else ([args[name]] if name in args else [])
            return [nfc(str(v)) for v in raw if nfc(str(v))]

        q = nfc(str(args.get("q", "") or ""))
        if len(q) > MAX_QUERY:
            raise SearchError(_("Your search is too long: use at most %(max)d characters.", max=MAX_QUERY))
        groups = []
        for raw in values("group"):
            group = parse_group(raw)
            if group is None:
                raise SearchError(_("Unknown product group “%(value)s”.", value=raw))
            groups.append(group.value)
        slugs = []
        for raw in values("province"):
            province = provinces.match_current(raw)
            if province is None:
                hint = provinces.suggest(raw)
                message = _("Unknown province “%(value)s”.", value=raw)
                if hint:
                    message += " " + _("Did you mean: %(names)s?", names=", ".join(hint))
                raise SearchError(message)
            slugs.append(province.slug)
        regions = []
        for raw in values("region"):
            region = parse_region(raw)
            if region is None:
                raise SearchError(_("Unknown region “%(value)s”.", value=raw))
            regions.append(region.value)
        levels = []
        for raw in values("level"):
            level = parse_level(raw)[0]
            if level is None:
                raise SearchError(_("Unknown level “%(value)s”.", value=raw))
            levels.append(level.value)
        years = []
        for raw in values("year"):
            if not raw.isdigit() or not 1900 <= int(raw) <= 2200:
                raise SearchError(_("“%(value)s” is not a year.", value=raw))
            years.append(int(raw))
        statuses: list[str] = []
        for raw in values("status") or ["valid"]:
            key = fold(raw)
            if key in ("all", "tat ca"):
                statuses = []
                break
            if key not in {s.value for s in CertificateStatus}:
                raise SearchError(
                    _("Unknown status “%(value)s”: use valid, expired, revoked or all.", value=raw)
                )
            statuses.append(key)
        sort = str(args.get("sort") or "relevance")
        if sort not in SORTS:
            raise SearchError(_("Unknown sort order “%(value)s”.", value=sort))
        page = _positive(args.get("page"), 1, _("The page number must be a whole number from 1."))
        if page > MAX_PAGE:
            raise SearchError(_("The page number is too large."))
        per_page_error = _("per_page must be a whole number from 1 to %(max)d.", max=max_per_page)
        per_page = _positive(args.get("per_page"), default_per_page, per_page_error)
        if per_page > max_per_page:
            raise SearchError(per_page_error)
        return cls(q=q, groups=_dedupe(groups), provinces=_dedupe(slugs), regions=_dedupe(regions),
                   levels=_dedupe(levels), years=_dedupe(years), statuses=_dedupe(statuses),
                   sort=sort, page=page, per_page=per_page)  # fmt: skip

    def filters(self) -> Filters:
        return Filters(groups=self.groups, provinces=self.provinces, levels=self.levels,
                       regions=self.regions, years=self.years, statuses=self.statuses)  # fmt: skip

    def to_args(self) -> list[tuple[str, str]]:
        """Query-string pairs reproducing these parameters (defaults left out)."""
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        for name, vals in (("group", self.groups), ("province", self.provinces), ("region", self.regions),
                           ("level", self.levels), ("year", self.years)):  # fmt: skip
            out += [(name, str(v)) for v in vals]
        if not self.statuses:
            out.append(("status", "all"))
        elif self.statuses != ("valid",):
            out += [("status", s) for s in self.statuses]
        if self.sort != "relevance":
            out.append(("sort", self.sort))
        if self.page != 1:
            out.append(("page", str(self.page)))
        return out

    def toggled(self, facet: str, value: str) -> SearchParams:
        """These parameters with one facet value added or removed (back to page 1)."""
        attr = {"group": "groups", "province": "provinces", "region": "regions", "level": "levels",
                "year": "years", "status": "statuses"}[facet]  # fmt: skip
        current = tuple(str(v) for v in getattr(self, attr))
        if facet == "status":
            new: tuple[object, ...] = () if value == "all" else (value,)
            if current == new:
                new = ()
        elif value in current:
            new = tuple(v for v in getattr(self, attr) if str(v) != value)
        else:
            new = (*getattr(self, attr), int(value) if facet == "year" else value)
        changes: dict[str, Any] = {attr: new, "page": 1}
        return replace(self, **changes)


def _positive(raw: object, default: int, message: str) -> int:
    if raw is None or raw == "":
        return default
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise SearchError(message)
    return int(text)


def _dedupe(values: list) -> tuple:
    return tuple(dict.fromkeys(values))


# ----------------------------------------------------------------------------- parsing

_PART = re.compile(r'"([^"]*)"?|(\S+)')


@dataclass
class ParsedQuery:
    #: ("word", exact, folded) | ("prefix", folded) | ("phrase", [exact...], [folded...])
    clauses: list[tuple] = field(default_factory=list)

    @property
    def words(self) -> list[tuple[str, str]]:
        return [(c[1], c[2]) for c in self.clauses if c[0] == "word"]

    @property
    def prefixes(self) -> list[str]:
        return [c[1] for c in self.clauses if c[0] == "prefix"]

    @property
    def phrases(self) -> list[list[str]]:
        return [c[2] for c in self.clauses if c[0] == "phrase"]

    def terms(self) -> set[str]:
        return {f for _, f in self.words} | {w for p in self.phrases for w in p}


def parse(text: str) -> ParsedQuery:
    """Split what a buyer typed into words, phrases and prefixes; never raises on odd syntax."""
    parsed = ParsedQuery()
    for found in _PART.finditer(nfc(text)):
        phrase, word = found.groups()
        if phrase is not None:
            exact, folded = exact_tokens(phrase), folded_tokens(phrase)
            if len(folded) == 1:
                parsed.clauses.append(("word", exact[0], folded[0]))
            elif folded:
                parsed.clauses.append(("phrase", exact, folded))
            continue
        is_prefix = word.endswith("*")
        exact, folded = exact_tokens(word), folded_tokens(word)
        for i, (e, f) in enumerate(zip(exact, folded, strict=True)):
            if is_prefix and i == len(folded) - 1 and len(f) >= 2:
                parsed.clauses.append(("prefix", f))
            else:
                parsed.clauses.append(("word", e, f))
    return parsed


def match(scorer: Scorer, parsed: ParsedQuery) -> tuple[np.ndarray, np.ndarray]:
    """(mask, score): documents matching every clause, and their relevance."""
    table = scorer.table
    mask = table.live.copy()
    score = np.zeros(table.size, np.float32)
    # Phrases last: their positions are checked only where the other clauses match.
    for clause in sorted(parsed.clauses, key=lambda c: c[0] == "phrase"):
        if clause[0] == "word":
            m, sc = scorer.word(clause[1], clause[2])
        elif clause[0] == "prefix":
            m, sc = scorer.prefix(clause[1])
        else:
            m, sc = scorer.phrase(clause[1], clause[2], within=mask)
        mask &= m
        score += sc
    return mask, score


# ----------------------------------------------------------------------------- running


@dataclass
class SearchResult:
    params: SearchParams
    ids: list[int]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    suggestion: str | None
    terms: set[str]
    prefixes: list[str]

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.params.per_page))

    @property
    def past_end(self) -> bool:
        return self.total > 0 and self.params.page > self.pages

    def highlight(self, text: str | None) -> Markup:
        return highlight(text, self.terms, self.prefixes)


_WORD = re.compile(r"([\w\u0300-\u036f]+)")


def highlight(text: str | None, terms: set[str], prefixes: list[str]) -> Markup:
    """Escape ``text`` and wrap the words a query matched in ``<mark>``."""
    if not text:
        return Markup("")
    out = []
    for i, part in enumerate(_WORD.split(nfc(text))):
        key = fold(part) if i % 2 else ""
        if key and (key in terms or any(key.startswith(p) for p in prefixes)):
            out.append(Markup("<mark>%s</mark>") % part)
        else:
            out.append(escape(part))
    return Markup("").join(out)


def _engine() -> Engine:
    from catalogue.db import get_engine

    return get_engine()


def _reader() -> Reader:
    return reader_for(Path(current_app.config["INDEX_DIR"]))


#: What damaged index files raise while being read.
CORRUPTION = (OSError, EOFError, zlib.error, pickle.UnpicklingError, struct.error)


def _damaged() -> None:
    """The open build raised while read: answer from the previous one and rebuild in the background."""
    log.warning("search index damaged: rebuilding from the database in the background")
    _reader().mark_bad()


def snapshot() -> Snapshot:
    """The process's searcher, in step with the outbox cursor of the build it answers from.

    Raises :class:`~catalogue.search.index.IndexBuilding` while a first index is built.
    """
    from catalogue.search import sync

    reader, engine = _reader(), _engine()
    snap = _open(reader, engine)
    if sync.catch_up(reader, engine):  # rows other nodes (or processes) committed: applied now
        snap = _open(reader, engine)
    return snap


def _open(reader: Reader, engine: Engine) -> Snapshot:
    try:
        return reader.snapshot(engine)
    except IndexBuilding:
        raise
    except Exception:  # noqa: BLE001 - corrupt index files: fall back, rebuild in the background
        _damaged()
        return reader.snapshot(engine)


def run(params: SearchParams, *, today: date | None = None, limit: int | None = None) -> SearchResult:
    """Search: ids of the requested page in result order, total, facets and a suggestion.

    ``limit`` (CSV export) returns up to that many ids from the first result instead of a page.
    Index files found damaged while reading make the search retry on the previous build
    (or raise IndexBuilding) while a fresh one is built in the background.
    """
    try:
        return _run(params, today, limit)
    except CORRUPTION:
        _damaged()
        return _run(params, today, limit)


def _run(params: SearchParams, today: date | None, limit: int | None) -> SearchResult:
    day = today or clock_today()
    parsed = parse(params.q)
    snap = snapshot()
    scorer = Scorer(snap.searcher, snap.table)
    table = snap.table
    matched, score = match(scorer, parsed)
    # The validity policy is read when searching, never indexed: a new setting needs no reindex.
    counted = filter_and_count(table, matched, params.filters(), day, current_policy())
    docs = counted.docs
    total = len(docs)
    start = 0 if limit else (params.page - 1) * params.per_page
    stop = limit if limit else start + params.per_page
    ids: list[int] = []
    if start < total:
        sort = params.sort if parsed.clauses or params.sort != "relevance" else "newest"
        ids = [int(x) for x in table.pid[_ordered(table, docs, score, sort, stop)[start:stop]]]
    suggestion = suggest(scorer, parsed) if total < SUGGEST_BELOW and parsed.words else None
    facets = {name: counted.facets.get(name, []) for name in FACETS}
    return SearchResult(params=params, ids=ids, total=total, facets=facets, suggestion=suggestion,
                        terms=parsed.terms(), prefixes=parsed.prefixes)  # fmt: skip


def _ordered(table: DocTable, docs: np.ndarray, score: np.ndarray, sort: str, stop: int) -> np.ndarray:
    """The first ``stop`` documents in result order (a total order, so pages never overlap).

    Only documents that can reach the first ``stop`` are sorted: a partition
    finds the cut-off, and everything tied with it is kept.
    """
    if sort == "name":
        key = table.name_rank()[docs].astype(np.float64)
    elif sort == "newest":
        key = -(table.newest[docs].astype(np.float64) * 2**32 + table.pid[docs])
    else:  # relevance
        key = -score[docs].astype(np.float64)
    if stop < len(docs):
        cut = np.partition(key, stop - 1)[stop - 1]
        docs, key = docs[key <= cut], key[key <= cut]
    order = np.lexsort((-table.pid[docs], -table.newest[docs].astype(np.int64), key))
    return docs[order]


def suggest(scorer: Scorer, parsed: ParsedQuery) -> str | None:
    """ "Did you mean …?": each unknown word replaced by the closest indexed word.

    Accented words are corrected against the accented vocabulary (``bánh chưg`` →
    ``bánh chưng``), unaccented ones against the folded one. Among equally close
    candidates the one that finds most products together with the other words wins.
    """
    searcher = scorer.searcher
    words = list(parsed.words)
    changed = False
    for i, (exact, folded) in enumerate(words):
        accented = exact != folded
        fields = ("name_exact", "body_exact") if accented else ("name_fold", "body_fold")
        word = exact if accented else folded
        if any(searcher.doc_frequency(f, word) for f in fields):
            continue
        candidates = _candidates(searcher, fields, word)
        if not candidates:
            continue
        others = [("word", e, f) for j, (e, f) in enumerate(words) if j != i]

        def hits(candidate: str, others: list[tuple[str, str, str]] = others) -> int:
            with_candidate = ParsedQuery([*others, ("word", candidate, fold(candidate))])
            return int(match(scorer, with_candidate)[0].sum())

        best = max(candidates, key=lambda c: (hits(c), candidates[c]))
        words[i] = (best, fold(best))
        changed = True
    if not changed:
        return None
    return " ".join(e for e, _ in words)


def _candidates(searcher: Searcher, fields: tuple[str, ...], word: str) -> dict[str, int]:
    """Indexed words at the smallest edit distance (1, else 2) with their document frequency.

    (Whoosh's ReaderCorrector ranks by frequency alone, so ``chưg`` would get ``chua``.)
    """
    reader = searcher.reader()
    for distance in (1, 2):
        found = {t for f in fields for t in reader.terms_within(f, word, distance, prefix=1)} - {word}
        if found:
            freq = {t: sum(searcher.doc_frequency(f, t) for f in fields) for t in found}
            return dict(sorted(freq.items(), key=lambda kv: -kv[1])[:8])
    return {}
