"""``flask translations update``: extract messages, update the vi and en catalogues.

English is the source language, so the English catalogue is filled with the
msgids themselves; Vietnamese entries left empty are listed so they get translated.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import cast

import click
from babel.messages.pofile import read_po, write_po

from catalogue.config import PROJECT_ROOT

TRANSLATIONS = PROJECT_ROOT / "catalogue" / "translations"
POT = TRANSLATIONS / "messages.pot"


def _pybabel(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", *args],
        check=True,
        cwd=PROJECT_ROOT,
    )


def untranslated(locale: str) -> list[str]:
    """Msgids with no (or a fuzzy) translation in ``locale``."""
    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)

    def missing(string: str | tuple[str, ...] | list[str] | None) -> bool:
        return not all(string) if isinstance(string, tuple) else not string

    return [str(m.id) for m in catalog if m.id and (missing(m.string) or m.fuzzy)]


def _fill_english(path: Path) -> None:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    for message in catalog:
        # A plural message's string is a tuple (Babel's types do not say so).
        if isinstance(message.id, tuple) and not all(cast("tuple[str, ...]", message.string)):
            message.string = tuple(message.id)  # singular and plural, as English has two forms
        elif message.id and not message.string:
            message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100)


def _add_wtforms_messages(pot: Path) -> None:
    """Add WTForms' own validation messages: it ships no Vietnamese catalogue, so
    our forms look them up in ours (see :class:`catalogue.workspace.forms.Form`)."""
    from wtforms.i18n import messages_path

    with pot.open("rb") as fh:
        catalog = read_po(fh)
    with (Path(messages_path()) / "wtforms.pot").open("rb") as fh:
        for message in read_po(fh):
            if message.id and message.id not in catalog:
                catalog.add(message.id, context=message.context, flags=message.flags)
    with pot.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)


@click.group("translations", help="Message catalogues (Vietnamese and English).")
def translations_group() -> None:
    pass


@translations_group.command("update", help="Extract messages and update the catalogues.")
def update() -> None:
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
             "--no-location", "--sort-output", "-o", str(POT), ".")  # fmt: skip
    _add_wtforms_messages(POT)
    for locale in ("vi", "en"):
        po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        if po.exists():
            _pybabel("update", "--no-fuzzy-matching", "-i", str(POT), "-d", str(TRANSLATIONS),
                     "-l", locale, "--width", "100", "--ignore-obsolete")  # fmt: skip
        else:
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", locale)
    _fill_english(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po")
    missing = untranslated("vi")
    click.echo(f"{len(missing)} Vietnamese messages to translate.")
    for msgid in missing:
        click.echo(f"  - {msgid}")
