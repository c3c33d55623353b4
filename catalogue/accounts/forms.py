"""The accounts' forms: signing in, changing one's password and creating an official's account."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
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


class UserForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    role = SelectField(
        _l("Role"),
        choices=choices(
            [
                ("province", _l("Provincial official (Sở Công Thương)")),
                ("ministry", _l("Ministry official")),
            ]
        ),
    )
    province_id = SelectField(_l("Province (provincial officials)"), coerce=int, validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)])
