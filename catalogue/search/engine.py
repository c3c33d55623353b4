"""Vectorised matching and ranking over Whoosh's postings.

Whoosh's matchers score every match in Python (tens of ms per 10,000 matches,
hundreds with several ``Or`` fields per word). We use Whoosh for what it does
well — analysis, the on-disk lexicon and postings, spelling — and read each
query term's postings block by block into numpy arrays, then match (AND of
words), score (BM25 over name and body, exact-accent terms boosted) and rank
with array operations. Deleted documents are removed with the table's ``live``
mask.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from whoosh.reading import IndexReader, TermNotFound
from whoosh.searching import Searcher

from catalogue.search.facets import DocTable, _leaves

#: Field weights (a word in the name counts more than one in the description).
NAME_WEIGHT = 2.0
#: Exact-accent matches weigh this much more than accent-folded ones.
EXACT_BOOST = 3.0
K1, B = 1.2, 0.75
#: A prefix expands to at most this many indexed words.
MAX_EXPANSION = 300
#: Added to the score of the product carrying a typed GTIN: far above any text match, so it comes first.
GTIN_SCORE = 1000.0


#: One term's postings in one segment: (ids, weights, values, memo), local docnums.
#: ``values`` (encoded positions) only when asked for; ``memo`` keeps decoded positions.
Entry = tuple[np.ndarray, np.ndarray, list[bytes] | None, dict[int, frozenset[int]]]
_Key = tuple[str, str, str, bool]


@dataclass
class Postings:
    ids: np.ndarray  # global docnums (deleted documents included)
    weights: np.ndarray  # term frequency in the document


_EMPTY = Postings(np.zeros(0, np.int64), np.zeros(0, np.float32))


class _SegmentCache:
    """Decoded postings per (segment, field, term), least recently used first out.

    Segments never change once written (deletions are tracked separately), so a
    cached list stays right for the segment's life; frequent words are decoded
    once per process instead of once per query.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self.items: OrderedDict[_Key, Entry] = OrderedDict()
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0

    def get(self, key: _Key) -> Entry | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: _Key, value: Entry) -> None:
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.size += len(value[0])
            while self.size > self.budget and self.items:
                _, old = self.items.popitem(last=False)
                self.size -= len(old[0])


#: About 12 bytes per cached posting (plus positions when cached): ~50 MB.
CACHE = _SegmentCache(budget=4_000_000)


def _read_segment(
    reader: IndexReader, fieldname: str, text: str, with_values: bool
) -> tuple[np.ndarray, np.ndarray, list[bytes] | None] | None:
    """(ids, weights, values) of one term in one segment, local docnums, or None."""
    try:
        tbytes = reader._text_to_bytes(fieldname, text)
        m = reader._terms.matcher(fieldname, tbytes, reader.schema[fieldname].format)
    except (TermNotFound, KeyError, AttributeError):
        return None
    ids: list[Iterable[int]] = []
    weights: list[Iterable[float]] = []
    values: list[bytes] = []
    if hasattr(m, "_read_ids"):  # W3LeafMatcher: whole blocks at once
        while m.is_active():
            m._read_ids()
            m._read_weights()
            ids.append(m._ids)
            weights.append(m._weights)
            if with_values:
                m._read_values()
                values.extend(m._values)
            m._next_block()
    else:  # short postings lists are stored inline
        block_ids, block_weights = [], []
        while m.is_active():
            block_ids.append(m.id())
            block_weights.append(m.weight())
            if with_values:
                values.append(m.value())
            m.next()
        ids.append(block_ids)
        weights.append(block_weights)
    return (np.fromiter(itertools.chain.from_iterable(ids), np.int64),
            np.fromiter(itertools.chain.from_iterable(weights), np.float32),
            values if with_values else None)  # fmt: skip


def segment_postings(
    reader: IndexReader, fieldname: str, text: str, with_values: bool = False
) -> Entry | None:
    """One segment's (ids, weights, values, memo) for a term, from the cache or disk; None if absent.

    ``memo`` keeps positions decoded by phrase checks, for the life of the cache entry.
    """
    segment = reader.segment()
    if segment is None:
        return None
    key = (segment.segid, fieldname, text, with_values)
    found = CACHE.get(key)
    if found is None:
        read = _read_segment(reader, fieldname, text, with_values)
        if read is None:
            return None
        found = (*read, {})
        CACHE.put(key, found)
    return found


def postings(searcher: Searcher, fieldname: str, text: str) -> Postings:
    """All postings of one term across segments (global docnums), cached per segment."""
    parts = []
    for reader, offset in _leaves(searcher):
        found = segment_postings(reader, fieldname, text)
        if found is not None:
            parts.append((found, offset))
    if not parts:
        return _EMPTY
    if len(parts) == 1 and parts[0][1] == 0:
        (ids, weights, _, _), _ = parts[0]
        return Postings(ids, weights)
    return Postings(
        np.concatenate([found[0] + offset for found, offset in parts]),
        np.concatenate([found[1] for found, _ in parts]),
    )


class Scorer:
    """Accumulates matches and BM25 scores for one query against one snapshot."""

    def __init__(self, searcher: Searcher, table: DocTable) -> None:
        self.searcher = searcher
        self.table = table
        self.n, self.avg = table.length_stats()
        self.lengths = {"name": table.name_len, "body": table.body_len}

    def _bm25(self, part: str, p: Postings, boost: float, score: np.ndarray) -> None:
        if not len(p.ids):
            return
        idf = math.log(1 + (self.n - len(p.ids) + 0.5) / (len(p.ids) + 0.5))
        norm = K1 * (1 - B + B * self.lengths[part][p.ids] / self.avg[part])
        score[p.ids] += boost * idf * p.weights * (K1 + 1) / (p.weights + norm)

    def word(self, exact: str, folded: str) -> tuple[np.ndarray, np.ndarray]:
        """(mask, score) of one word: folded match in name or body; exact accents boosted."""
        mask = np.zeros(self.table.size, bool)
        score = np.zeros(self.table.size, np.float32)
        for part, weight in (("name", NAME_WEIGHT), ("body", 1.0)):
            fold_p = postings(self.searcher, f"{part}_fold", folded)
            mask[fold_p.ids] = True
            self._bm25(part, fold_p, weight, score)
            exact_p = fold_p if exact == folded else postings(self.searcher, f"{part}_exact", exact)
            self._bm25(part, exact_p, weight * EXACT_BOOST, score)
        return mask, score

    def gtin(self, gtin14: str, exact: str, folded: str) -> tuple[np.ndarray, np.ndarray]:
        """(mask, score) of a word that reads as a GTIN: the product carrying it (first), or any text
        holding the digits (a certificate number, a description)."""
        mask, score = self.word(exact, folded)
        carrier = postings(self.searcher, "gtin", gtin14)
        mask[carrier.ids] = True
        score[carrier.ids] += GTIN_SCORE
        return mask, score

    def prefix(self, folded: str) -> tuple[np.ndarray, np.ndarray]:
        mask = np.zeros(self.table.size, bool)
        score = np.zeros(self.table.size, np.float32)
        reader = self.searcher.reader()
        for part, weight in (("name", NAME_WEIGHT), ("body", 1.0)):
            terms = itertools.islice(reader.expand_prefix(f"{part}_fold", folded), MAX_EXPANSION)
            for term in terms:
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                p = postings(self.searcher, f"{part}_fold", text)
                mask[p.ids] = True
                self._bm25(part, p, weight, score)
        return mask, score

    def phrase(
        self, exact: list[str], folded: list[str], within: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Words next to each other, in the name or in the body (positions checked).

        Positions are checked only for documents in ``within`` (those matching the
        query's other clauses) that hold every word, one segment at a time.
        """
        mask = np.zeros(self.table.size, bool)
        score = np.zeros(self.table.size, np.float32)
        for e, f in zip(exact, folded, strict=True):
            score += self.word(e, f)[1]
        for part in ("name", "body"):
            fieldname = f"{part}_fold"
            fmt = self.searcher.schema[fieldname].format
            for reader, offset in _leaves(self.searcher):
                found_entries = [segment_postings(reader, fieldname, w, with_values=True) for w in folded]
                entries = [entry for entry in found_entries if entry is not None]
                if len(entries) < len(found_entries):
                    continue
                size = reader.doc_count_all()
                candidates = within[offset : offset + size].copy()
                for ids, _, _, _ in entries:
                    here = np.zeros(size, bool)
                    here[ids] = True
                    candidates &= here
                docs = np.flatnonzero(candidates)
                if not len(docs):
                    continue
                maps = []
                for ids, _, values, memo in entries:
                    assert values is not None  # asked for with_values
                    found = {}
                    for i in np.flatnonzero(candidates[ids]).tolist():
                        pos = memo.get(i)
                        if pos is None:
                            pos = memo[i] = frozenset(fmt.decode_positions(values[i]))
                        found[int(ids[i])] = pos
                    maps.append(found)
                rest = maps[1:]
                for doc in docs.tolist():
                    if any(all(start + k in m[doc] for k, m in enumerate(rest, 1)) for start in maps[0][doc]):
                        mask[offset + doc] = True
        return mask, score
