"""A job's messages kept as message id and values, so each official reads them in their own language.

A job runs in the language of whoever started it, but a province's colleagues
(or the ministry) open its page in theirs. Handlers give lazy strings
(``lazy_gettext``); the job keeps the id and values and renders them when shown.
A plain string (a refusal worded deep in a service) is kept and shown as it is.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel.speaklater import LazyString

#: A message as stored: ``{"msgid": …, "params": {…}}``.
Portable = dict[str, Any]


def portable(text: object) -> Portable | None:
    """The id and values of a lazy message; None for a plain string."""
    # Only ``lazy_gettext``: a plural (``lazy_ngettext``) would need its count kept too.
    lazy = isinstance(text, LazyString) and getattr(text, "_func", None) is gettext
    args = getattr(text, "_args", None) if lazy else None
    if not args:
        return None
    params = getattr(text, "_kwargs", None) or {}
    return {"msgid": str(args[0]), "params": {k: v for k, v in params.items() if _plain(v)}}


def _plain(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def render(stored: Portable | None, fallback: str | None) -> str | None:
    """The message in the current language, or ``fallback`` (as stored) when it was not kept portable."""
    if not stored or not isinstance(stored.get("msgid"), str):
        return fallback
    try:
        return gettext(stored["msgid"], **(stored.get("params") or {}))
    except (KeyError, TypeError, ValueError):  # a catalogue whose placeholders no longer match
        return fallback


def phase_id(phase: object) -> str | None:
    """What a running job stores for its phase: the message id, translated when shown."""
    stored = portable(phase)
    return stored["msgid"] if stored else (str(phase) if phase is not None else None)
