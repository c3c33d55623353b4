"""Resumable walks over a search's results: the anchor a page ended on, as an opaque token.

``page=`` stops at :data:`~catalogue.search.params.MAX_PAGE`; a walk has no cap. The token
names the last product of the page and its sort keys, plus a fingerprint of the search, so
it cannot be replayed against another search. Each page is a keyset step (results after
the anchor in the search's total order), never an offset: a product published meanwhile
does not shift the walk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from catalogue import tokens
from catalogue.search.params import SearchParams

_PREFIX = "w1."


class BadWalk(ValueError):
    """Not a token of this search (mangled, or made for other filters or another order)."""


@dataclass(frozen=True)
class After:
    """The last product of a page and its sort keys in that search's order."""

    pid: int
    key: float
    newest: int
    #: Its folded name key: a name's place moves as products come and go, the key does not.
    name: str = ""


def fingerprint(params: SearchParams) -> str:
    """The search a token belongs to: words, filters and order (not the page or its size)."""
    args = sorted((k, v) for k, v in params.to_args() if k not in ("page", "per_page"))
    return hashlib.sha256(json.dumps(args, ensure_ascii=False).encode()).hexdigest()[:16]


def token(after: After, params: SearchParams) -> str:
    data = {"p": after.pid, "k": after.key, "n": after.newest, "m": after.name, "f": fingerprint(params)}
    return tokens.pack(_PREFIX, data)


def parse(text: str, params: SearchParams) -> After:
    """The anchor of a token made for this same search; :class:`BadWalk` otherwise."""
    try:
        data = tokens.unpack(_PREFIX, text, max_length=1200)
        after = After(int(data["p"]), float(data["k"]), int(data["n"]), str(data.get("m", "")))
        made_for = str(data["f"])
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise BadWalk(text) from exc
    if made_for != fingerprint(params):
        raise BadWalk(text)
    return after
