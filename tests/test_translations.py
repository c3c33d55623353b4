"""The Vietnamese and English catalogues cover every message the code and templates use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from catalogue.commands.translations import TRANSLATIONS, untranslated
from catalogue.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
        check=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    with pot.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


def _catalogue_ids(locale: str) -> set[str]:
    path: Path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh, locale=locale) if m.id}


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_every_message_in_the_code_is_in_the_catalogue(extracted: set[str], locale: str) -> None:
    missing = sorted(extracted - _catalogue_ids(locale))
    assert not missing, f"run `make messages` and translate: {missing[:10]}"


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_no_message_is_left_untranslated_or_fuzzy(locale: str) -> None:
    assert untranslated(locale) == []


def test_vietnamese_is_really_vietnamese(extracted: set[str]) -> None:
    # A catalogue filled with copies of the English text would pass the checks above.
    with (TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    same = [
        m.id for m in catalog
        if isinstance(m.id, str) and m.id == m.string and any(c.isalpha() for c in m.id)
    ]  # fmt: skip
    # Proper names, codes and format-only strings may legitimately stay as they are.
    assert len(same) < 0.05 * len(catalog), same[:20]
