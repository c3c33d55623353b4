"""The shopper's form of the verification pages: reporting a suspected fake."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileSize
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from catalogue.registry import photos as media
from catalogue.workspace.forms import Form


class FakeReportForm(Form):
    what = TextAreaField(
        _l("What looks wrong?"),
        validators=[DataRequired(_l("Please say what looks wrong.")), Length(max=2000)],
    )
    where = StringField(_l("Where did you see or buy it? (shop, market, website)"),
                        validators=[Optional(), Length(max=500)])  # fmt: skip
    province = SelectField(_l("Province (for the officials who will follow up)"), validators=[Optional()])
    photo = FileField(
        _l("Photo of the label (optional, JPEG, PNG or WebP, up to 12 MB)"),
        validators=[FileSize(media.MAX_PHOTO_BYTES, message=_l("The photo is larger than 12 MB."))],
    )
