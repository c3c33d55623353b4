"""The audit log's filter form (a GET form: no CSRF token, it changes nothing)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from catalogue.workspace.forms import Form, date_field


class AuditFilterForm(Form):
    """The audit log's filters: who, where, when, which action and which record."""

    class Meta:
        csrf = False  # a GET filter changes nothing

    person = StringField(_l("Person (e-mail)"), validators=[Optional(), Length(max=254)])
    province_id = SelectField(_l("Province"), coerce=int, validate_choice=False)
    start = date_field(_l("From"))
    end = date_field(_l("To"))
    action = SelectField(_l("Action"), validate_choice=False)
    entity_type = SelectField(_l("Kind of record"), validate_choice=False)
    record = StringField(_l("Record (number or words)"), validators=[Optional(), Length(max=200)])
