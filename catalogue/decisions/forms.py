"""The decision's forms: its facts and the certificates it lists (the dry run), and the confirmation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from catalogue.workspace.forms import Form, choices


class _Facts(Form):
    action = SelectField(
        _l("The decision"),
        choices=choices([("revoke", _l("revokes the certificates")),
                         ("reinstate", _l("withdraws their revocation (reinstates them)"))]),
    )  # fmt: skip
    number = StringField(_l("Decision number"), validators=[DataRequired(), Length(max=200)])
    #: InputRequired, so a mistyped date says so rather than "required".
    decided_on = DateField(
        _l("Decision date (the day it takes effect)"), validators=[InputRequired()], format="%Y-%m-%d"
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


class DecisionForm(_Facts):
    """The dry run's form: the decision and its certificates (ticked in the records list, pasted, a file)."""

    #: Certificate ids ticked in the records list, comma separated.
    ids = HiddenField()
    numbers = TextAreaField(
        _l("Certificate numbers (one per line, or separated by commas)"),
        validators=[Optional(), Length(max=200_000)],
    )
    file = FileField(_l("… or a file of certificate numbers (XLSX, CSV or TXT)"))


class ConfirmDecisionForm(_Facts):
    """The confirmation: exactly the dry run's certificates and its fingerprint, all hidden."""

    ids = HiddenField(validators=[DataRequired()])
    fingerprint = HiddenField(validators=[DataRequired(), Length(max=64)])
