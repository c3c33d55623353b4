"""The imports' forms: a spreadsheet to check, a checked batch to publish, a zip of photos."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    StringField,
)
from wtforms.validators import Length, Optional

from catalogue.workspace.forms import Form, date_field


class UploadForm(Form):
    file = FileField(_l("Spreadsheet (XLSX or CSV)"), validators=[FileRequired()])


class PublishForm(Form):
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=100)])
    decision_date = date_field(_l("Decision date"))


class ZipForm(Form):
    file = FileField(_l("Zip file of photos"), validators=[FileRequired()])
