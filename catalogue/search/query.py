"""SearchParams → SearchResult: the one search function behind the page, the API and CSV.

The parameters are :mod:`catalogue.search.params`.

The query language is forgiving: words (all must match, with or without
accents), ``"quoted phrases"`` and ``prefix*``; every other character is
treated as a separator, so stray syntax never causes an error. A word that
reads as a GTIN (the number under a barcode, in any of its lengths) also finds
the product carrying it, ranked first.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
from markupsafe import Markup, escape
from whoosh.searching import Searcher

from catalogue.clock import today as clock_today
from catalogue.registry.gtins import GtinError, parse_gtin
from catalogue.registry.status import current_policy
from catalogue.search.analysis import exact_tokens, folded_tokens
from catalogue.search.engine import Scorer
from catalogue.search.facets import FACETS, DocTable, filter_and_count
from catalogue.search.params import SearchParams
from catalogue.search.sync import CORRUPTION, damaged, snapshot
from catalogue.search.walk import After
from catalogue.text import fold, nfc

#: Below this many results a spelling suggestion is offered.
SUGGEST_BELOW = 3


# ----------------------------------------------------------------------------- parsing

_PART = re.compile(r'"([^"]*)"?|(\S+)')


@dataclass
class ParsedQuery:
    #: ("word", exact, folded) | ("gtin", exact, folded, gtin14) | ("prefix", folded)
    #: | ("phrase", [exact...], [folded...])
    clauses: list[tuple] = field(default_factory=list)

    @property
    def words(self) -> list[tuple[str, str]]:
        """Every word typed, GTINs included (they must be found like any word)."""
        return [(c[1], c[2]) for c in self.clauses if c[0] in ("word", "gtin")]

    @property
    def prefixes(self) -> list[str]:
        return [c[1] for c in self.clauses if c[0] == "prefix"]

    @property
    def phrases(self) -> list[list[str]]:
        return [c[2] for c in self.clauses if c[0] == "phrase"]

    def terms(self) -> set[str]:
        return {f for _, f in self.words} | {w for p in self.phrases for w in p}


def _word(exact: str, folded: str) -> tuple:
    """A word's clause: a ``gtin`` one when it reads as a GTIN (check digit and all), else a ``word``."""
    if folded.isascii() and folded.isdigit():
        try:
            return ("gtin", exact, folded, parse_gtin(folded))
        except GtinError:
            pass
    return ("word", exact, folded)


def parse(text: str) -> ParsedQuery:
    """Split what a buyer typed into words, phrases and prefixes; never raises on odd syntax."""
    parsed = ParsedQuery()
    for found in _PART.finditer(nfc(text)):
        phrase, word = found.groups()
        if phrase is not None:
            exact, folded = exact_tokens(phrase), folded_tokens(phrase)
            if len(folded) == 1:
                parsed.clauses.append(_word(exact[0], folded[0]))
            elif folded:
                parsed.clauses.append(("phrase", exact, folded))
            continue
        is_prefix = word.endswith("*")
        exact, folded = exact_tokens(word), folded_tokens(word)
        for i, (e, f) in enumerate(zip(exact, folded, strict=True)):
            if is_prefix and i == len(folded) - 1 and len(f) >= 2:
                parsed.clauses.append(("prefix", f))
            else:
                parsed.clauses.append(_word(e, f))
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
        elif clause[0] == "gtin":
            m, sc = scorer.gtin(clause[3], clause[1], clause[2])
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
    #: Where this page ended, when more results follow (a walk resumes from it, :mod:`catalogue.search.walk`).
    last: After | None = None

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


def run(params: SearchParams, *, today: date | None = None, limit: int | None = None,
        after: After | None = None) -> SearchResult:  # fmt: skip
    """Search: ids of the requested page in result order, total, facets and a suggestion.

    ``limit`` (CSV export) returns up to that many ids from the first result instead of a page;
    ``after`` a page of the results that follow that anchor instead of page ``params.page``.
    Index files found damaged while reading make the search retry on the previous build
    (or raise IndexBuilding) while a fresh one is built in the background.
    """
    try:
        return _run(params, today, limit, after)
    except CORRUPTION:
        damaged()
        return _run(params, today, limit, after)


def _run(params: SearchParams, today: date | None, limit: int | None, after: After | None) -> SearchResult:
    day = today or clock_today()
    parsed = parse(params.q)
    snap = snapshot()
    scorer = Scorer(snap.searcher, snap.table)
    table = snap.table
    matched, score = match(scorer, parsed)
    # The validity policy is read when searching, never indexed: a new setting needs no reindex.
    filters, policy = params.filters(), current_policy()
    counted = filter_and_count(table, matched, filters, day, policy)
    docs = counted.docs
    total = len(docs)
    start = 0 if limit else (params.page - 1) * params.per_page
    stop = limit if limit else start + params.per_page
    sort = params.sort if parsed.clauses or params.sort != "relevance" else "newest"
    if after is not None:
        docs, start, stop = docs[_past(table, docs, score, sort, after)], 0, params.per_page
    ids: list[int] = []
    last = None
    if start < len(docs):
        page = _ordered(table, docs, score, sort, stop)[start:stop]
        ids = [int(x) for x in table.pid[page]]
        if len(docs) > stop:
            last = _anchor(table, int(page[-1]), score, sort)

    def finds(candidate: ParsedQuery) -> int:
        """How many products a candidate query finds under the same filters."""
        found = match(scorer, candidate)[0]
        if not found.any():
            return 0
        return len(filter_and_count(table, found, filters, day, policy, with_facets=False).docs)

    suggestion = suggest(scorer, parsed, finds) if total < SUGGEST_BELOW and parsed.words else None
    facets = {name: counted.facets.get(name, []) for name in FACETS}
    return SearchResult(params=params, ids=ids, total=total, facets=facets, suggestion=suggestion,
                        terms=parsed.terms(), prefixes=parsed.prefixes, last=last)  # fmt: skip


def _ordered(table: DocTable, docs: np.ndarray, score: np.ndarray, sort: str, stop: int) -> np.ndarray:
    """The first ``stop`` documents in result order (a total order, so pages never overlap).

    Only documents that can reach the first ``stop`` are sorted: a partition
    finds the cut-off, and everything tied with it is kept.
    """
    key = _keys(table, docs, score, sort)
    if stop < len(docs):
        cut = np.partition(key, stop - 1)[stop - 1]
        docs, key = docs[key <= cut], key[key <= cut]
    order = np.lexsort((-table.pid[docs], -table.newest[docs].astype(np.int64), key))
    return docs[order]


def _keys(table: DocTable, docs: np.ndarray, score: np.ndarray, sort: str) -> np.ndarray:
    """The primary sort key of ``docs`` (ties go to the newest, then the highest product id)."""
    if sort == "name":
        return table.name_rank()[docs].astype(np.float64)
    if sort == "newest":
        return -(table.newest[docs].astype(np.float64) * 2**32 + table.pid[docs])
    return -score[docs].astype(np.float64)  # relevance


def _anchor(table: DocTable, doc: int, score: np.ndarray, sort: str) -> After:
    one = np.array([doc])
    key = float(_keys(table, one, score, sort)[0])
    return After(int(table.pid[doc]), key, int(table.newest[doc]), table.keys[doc] if sort == "name" else "")


def _past(table: DocTable, docs: np.ndarray, score: np.ndarray, sort: str, after: After) -> np.ndarray:
    """Which of ``docs`` come after the anchor in result order (a mask).

    The anchor's keys are read again from this index when its product is still in it: a
    name's rank moves as products are added, and the walk must not skip or repeat around it.
    """
    found = np.flatnonzero((table.pid == after.pid) & table.live)
    if len(found) and (sort != "relevance" or score[found[0]] > 0):
        after = _anchor(table, int(found[0]), score, sort)
    elif sort == "name":  # gone: its name still says where the walk was
        after = replace(after, key=table.name_place(after.name))
    key, newest, pid = _keys(table, docs, score, sort), table.newest[docs].astype(np.int64), table.pid[docs]
    tied = key == after.key
    later: np.ndarray = (key > after.key) | (tied & (newest < after.newest))
    return later | (tied & (newest == after.newest) & (pid < after.pid))


#: Words shorter than this (accents removed) are corrected by one edit only: two edits
#: turn a three-letter word into almost any other (``gốm`` → ``gia``).
TWO_EDITS_FROM = 5
#: Candidates kept per unknown word, and candidate queries tried, per suggestion.
PER_WORD = 4
MAX_TRIES = 12


def suggest(scorer: Scorer, parsed: ParsedQuery, finds: Callable[[ParsedQuery], int]) -> str | None:
    """ "Did you mean …?": each unknown word replaced by a close indexed word, or None.

    A word is unknown when its accent-folded form is in no document. Accented words are
    corrected against the accented vocabulary (``bánh chưg`` → ``bánh chưng``), others
    against the folded one. ``finds`` counts what a candidate query finds under the
    search's filters: a suggestion that would find nothing is never offered. Among
    candidate queries the closest wins, then the one finding most products.
    """
    searcher = scorer.searcher
    options: dict[int, list[tuple[str, int, int]]] = {}
    for i, clause in enumerate(parsed.clauses):
        if clause[0] != "word":
            continue
        exact, folded = clause[1], clause[2]
        if any(searcher.doc_frequency(f, folded) for f in ("name_fold", "body_fold")):
            continue
        if folded.isdigit():
            # A number (a mistyped barcode, a certificate number) has no spelling to correct, and
            # near numbers are many: looking for them took a second at 100,000 products.
            return None
        # A word typed with accents is corrected to an accented one (``gốm`` never becomes ``go``).
        accented = exact != folded
        fields = ("name_exact", "body_exact") if accented else ("name_fold", "body_fold")
        found = _candidates(searcher, fields, exact if accented else folded)
        if not found:
            return None  # a word nothing resembles: no replacement query can find it
        options[i] = found
    if not options:
        return None
    best: tuple[int, int, int] | None = None
    chosen: list[tuple] = []
    positions = list(options)
    for combo in itertools.islice(itertools.product(*options.values()), MAX_TRIES):
        clauses = list(parsed.clauses)
        for i, (word, _, _) in zip(positions, combo, strict=True):
            clauses[i] = ("word", word, fold(word))
        hits = finds(ParsedQuery(clauses))
        if not hits:
            continue
        rank = (sum(d for _, d, _ in combo), -hits, -sum(f for _, _, f in combo))
        if best is None or rank < best:
            best, chosen = rank, clauses
    return _query_text(chosen) if chosen else None


def _query_text(clauses: list[tuple]) -> str:
    """What a buyer would type for these clauses (parsing it gives them back)."""
    parts = []
    for clause in clauses:
        if clause[0] in ("word", "gtin"):
            parts.append(clause[1])
        elif clause[0] == "prefix":
            parts.append(f"{clause[1]}*")
        else:
            parts.append('"' + " ".join(clause[1]) + '"')
    return " ".join(parts)


def _candidates(searcher: Searcher, fields: tuple[str, ...], word: str) -> list[tuple[str, int, int]]:
    """Close indexed words as (word, edit distance, document frequency), closest and commonest first.

    Two edits only for words of :data:`TWO_EDITS_FROM` letters or more. (Whoosh's
    ReaderCorrector ranks by frequency alone, so ``chưg`` would get ``chua``.)
    """
    reader = searcher.reader()
    found: list[tuple[str, int, int]] = []
    seen = {word}
    for distance in (1, 2) if len(fold(word)) >= TWO_EDITS_FROM else (1,):
        near = {t for f in fields for t in reader.terms_within(f, word, distance, prefix=1)} - seen
        seen |= near
        freq = {t: sum(searcher.doc_frequency(f, t) for f in fields) for t in near}
        found += [(t, distance, n) for t, n in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))]
    return found[:PER_WORD]
