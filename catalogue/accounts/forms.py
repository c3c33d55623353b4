"""The accounts' forms: signing in, changing or resetting a password, creating an official's
account and issuing a reset link."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from catalogue.accounts.services import MIN_PASSWORD
from catalogue.workspace.forms import Form, choices


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)])
    repeat = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("new", _l("The two passwords differ."))]
    )


#: The roles as the form offers them, provincial first.
ROLE_CHOICES = [
    ("province", _l("Provincial official (Sở Công Thương)")),
    ("ministry", _l("Ministry official")),
]


class UserForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=choices(ROLE_CHOICES))
    province_id = SelectField(_l("Province (provincial officials)"), coerce=int, validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)])
    #: Offered to the ministry only (a lead's form drops it).
    lead = BooleanField(_l("Lead official of the province (looks after its officials' accounts)"))

    def limit_to_province(self, province_choices: list[Any]) -> None:
        """A lead official's form: plain provincial officials of their own province only."""
        self.role.choices = choices(ROLE_CHOICES[:1])
        self.province_id.choices = province_choices


class ResetPasswordForm(Form):
    """Setting a new password through a reset link (same rules as changing it)."""

    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)])
    repeat = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("new", _l("The two passwords differ."))]
    )


class ResetLinkForm(Form):
    """Issuing a reset link; the e-mail box is shown only when SMTP is configured."""

    send_email = BooleanField(_l("Also send the link by e-mail"))
