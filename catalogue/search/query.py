"""SearchParams → SearchResult: the one search function behind the page, the API and CSV.

The parameters are :mod:`catalogue.search.params`.

The query language is forgiving: words (all must match, with or without
accents), ``"quoted phrases"`` and ``prefix*``; every other character is
treated as a separator, so stray syntax never causes an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from markupsafe import Markup, escape
from whoosh.searching import Searcher

from catalogue.clock import today as clock_today
from catalogue.registry.status import current_policy
from catalogue.search.analysis import exact_tokens, folded_tokens
from catalogue.search.engine import Scorer
from catalogue.search.facets import FACETS, DocTable, filter_and_count
from catalogue.search.params import SearchParams
from catalogue.search.sync import CORRUPTION, damaged, snapshot
from catalogue.text import fold, nfc

#: Below this many results a spelling suggestion is offered.
SUGGEST_BELOW = 3


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


def run(params: SearchParams, *, today: date | None = None, limit: int | None = None) -> SearchResult:
    """Search: ids of the requested page in result order, total, facets and a suggestion.

    ``limit`` (CSV export) returns up to that many ids from the first result instead of a page.
    Index files found damaged while reading make the search retry on the previous build
    (or raise IndexBuilding) while a fresh one is built in the background.
    """
    try:
        return _run(params, today, limit)
    except CORRUPTION:
        damaged()
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
