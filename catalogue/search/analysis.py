"""Analyzers for Vietnamese text. The index schema pickles these by module path:
keep this module's name and these callables stable, or the index must be rebuilt.

Text is NFC-normalised before it reaches Whoosh (``catalogue.text.nfc``): the
default tokenizer's ``\\w`` does not match combining marks, so decomposed input
would split ``bánh`` into ``ba`` + ``nh`` and defeat ``accent_map``.
"""

from __future__ import annotations

from whoosh.analysis import Analyzer, CharsetFilter, LowercaseFilter, RegexTokenizer
from whoosh.support.charset import accent_map

#: Words: letters and digits, plus combining marks so a stray NFD word at least
#: stays whole (folding still needs NFC, which every caller applies first).
TOKEN_PATTERN = r"[\w\u0300-\u036f]+"


def exact_analyzer() -> Analyzer:
    """Lower-cased words with their accents kept (``Đồng`` → ``đồng``)."""
    return RegexTokenizer(TOKEN_PATTERN) | LowercaseFilter()


def folded_analyzer() -> Analyzer:
    """Lower-cased words with accents removed; ``accent_map`` also maps ``đ`` → ``d``."""
    return RegexTokenizer(TOKEN_PATTERN) | LowercaseFilter() | CharsetFilter(accent_map)


EXACT = exact_analyzer()
FOLDED = folded_analyzer()


def exact_tokens(text: str) -> list[str]:
    return [t.text for t in EXACT(text)]


def folded_tokens(text: str) -> list[str]:
    return [t.text for t in FOLDED(text)]
