"""The shopper's form of the verification pages: reporting a suspected fake."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileSize
from wtforms import Field, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from catalogue.registry import photos as media
from catalogue.workspace.forms import Form, choices

#: Longest texts a report keeps (the columns of :class:`~catalogue.verification.models.FakeReport`).
WHAT_MAX = 2000
WHERE_MAX = 500


class _ListedProvince:
    """The blank option or one of the select's own provinces; anything else (a forged or stale id) is refused.

    Replaces WTForms' own choice check, whose message ("Not a valid choice") tells a shopper nothing.
    """

    def __call__(self, form: Any, field: SelectField) -> None:
        if field.data and field.data not in {str(value) for value, *_ in field.iter_choices()}:
            raise ValidationError(_l("Choose a province from the list, or leave it empty."))


class _ProvinceField(SelectField):
    def pre_validate(self, form: Any) -> None:
        """The choice is checked by :class:`_ListedProvince`, with a message a shopper understands."""


class FakeReportForm(Form):
    what = TextAreaField(
        _l("What looks wrong?"),
        validators=[
            DataRequired(_l("Please say what looks wrong.")),
            Length(max=WHAT_MAX, message=_l("Please keep it to %(max)d characters.")),
        ],
    )
    where = StringField(
        _l("Shop, market or website where you bought it"),
        validators=[
            Optional(),
            Length(max=WHERE_MAX, message=_l("Please keep the place to %(max)d characters.")),
        ],
    )
    bought_province = _ProvinceField(_l("Province where you bought it"), validators=[_ListedProvince()])
    #: Asked only for a code the registry does not know (a known code goes to its certificate's province).
    province = _ProvinceField(
        _l("Province whose officials should follow up (if not the one where you bought it)"),
        validators=[_ListedProvince()],
    )
    photo = FileField(
        _l("Photo of the label (optional, JPEG, PNG or WebP, up to 12 MB)"),
        validators=[FileSize(media.MAX_PHOTO_BYTES, message=_l("The photo is larger than 12 MB."))],
    )

    def offer_provinces(self, provinces: list[tuple[int, str]], *, responsible: bool) -> None:
        """Fill the province selects with current provinces; drop the follow-up one for a known code."""
        options = choices([("", "—")] + [(str(pid), name) for pid, name in provinces])
        self.bought_province.choices = options
        if responsible:
            self.province.choices = options
        else:
            del self.province

    @staticmethod
    def province_id(field: Field | None) -> int | None:
        """A validated select's province id (None: left empty, or the field is not on this form)."""
        raw = field.data if field is not None else None
        return int(raw) if raw and str(raw).isdigit() else None
