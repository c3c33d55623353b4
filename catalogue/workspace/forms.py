"""What every feature's forms share: the base :class:`Form`, select options, dates and :class:`ConfirmForm`.

Each feature keeps its own forms in its ``forms.py`` (accounts, imports, registry,
fairs, audit); every one carries a CSRF token unless it says otherwise. Forms only
shape and check input; the rules live in the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import get_translations
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in 3.3, not in its stubs
from wtforms.validators import DataRequired, Optional


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Select options as WTForms wants them (plain tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


def optional_int(value: Any) -> int | None:
    """Coerce a select's value: the blank option means "none"."""
    return int(value) if value not in (None, "", "None") else None


def date_field(label: str, required: bool = False) -> DateField:
    """A day typed as YYYY-MM-DD (the browser's date input); empty allowed unless ``required``."""
    return DateField(label, validators=[DataRequired()] if required else [Optional()], format="%Y-%m-%d")


class _CatalogueTranslations:
    """WTForms' built-in messages looked up in our catalogue (WTForms has no Vietnamese).

    Raw lookups: WTForms formats the placeholders itself.
    """

    def gettext(self, string: str) -> str:
        return get_translations().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ngettext(singular, plural, n)


class Form(FlaskForm):
    """Base of every form: CSRF from Flask-WTF, validation messages in the user's language."""

    class Meta:
        def get_translations(self, form: Any) -> _CatalogueTranslations:
            return _CatalogueTranslations()


class ConfirmForm(Form):
    """A button-only form (sign out, publish, deactivate): the CSRF token is the point."""
