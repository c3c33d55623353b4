"""Vietnamese text helpers shared by search, import matching and URLs.

Everything entering the system is normalised to NFC first: decomposed (NFD)
Vietnamese splits words in tokenizers and defeats accent folding.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_PREFIXES = re.compile(
    r"^(tỉnh|tinh|thành phố|thanh pho|tp\.?|t\.p\.?)\s+",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_NON_SLUG = re.compile(r"[^a-z0-9]+")


#: Control characters no printed name holds, which XML (feeds, sitemaps, workbooks) cannot carry.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def nfc(text: str | None) -> str:
    """NFC-normalise, drop control characters and collapse whitespace; ``None`` becomes ``""``."""
    if not text:
        return ""
    return _SPACES.sub(" ", _CONTROL.sub("", unicodedata.normalize("NFC", str(text)))).strip()


def xml_safe(text: str | None) -> str:
    """``text`` without what XML 1.0 cannot hold (records stored before :func:`nfc` dropped it)."""
    return _CONTROL.sub("", text or "")


def fold(text: str | None) -> str:
    """Lower-case and strip every diacritic, mapping đ→d (``Đồng`` → ``dong``)."""
    text = nfc(text).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def slugify(text: str | None, max_length: int = 80) -> str:
    """ASCII slug for URLs: ``Nước mắm Phú Quốc`` → ``nuoc-mam-phu-quoc``."""
    slug = _NON_SLUG.sub("-", fold(text)).strip("-")
    return slug[:max_length].rstrip("-") or "x"


@functools.lru_cache(maxsize=4096)
def place_key(name: str | None) -> str:
    """Matching key for a province name: folded, without "Tỉnh"/"TP." prefixes.

    Cached: every request that loads the province table keys its ~100 names.

    ``TP. Hồ Chí Minh``, ``Thành phố Hồ Chí Minh`` and ``ho chi minh`` share a key;
    hyphens and spaces are treated alike (``Bà Rịa - Vũng Tàu`` = ``Ba Ria Vung Tau``).
    """
    text = nfc(name)
    while True:
        stripped = _PREFIXES.sub("", text)
        if stripped == text:
            break
        text = stripped
    return _NON_SLUG.sub(" ", fold(text)).strip()


def words_key(text: str | None) -> str:
    """Folded, punctuation-free form used to match free-text labels leniently."""
    return _NON_SLUG.sub(" ", fold(text)).strip()


#: What makes a spreadsheet read a cell as a formula (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A signed number or a phone number (``+84 912 345 678``, ``-5``): read as a value, never run.
_PLAIN_NUMBER = re.compile(r"[+-]?[\d\s().]+")


def spreadsheet_cell(value: object) -> str:
    """Text for a CSV cell that a spreadsheet will never run as a formula (a leading apostrophe),
    leaving numbers and phone numbers as written."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
