"""The fairs' workspace forms: a fair or showroom, and an exhibitor with the products it shows."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from catalogue.workspace.forms import Form, choices, date_field


class EventForm(Form):
    kind = SelectField(
        _l("Kind"), choices=choices([("fair", _l("Trade fair")), ("showroom", _l("Showroom"))])
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=400)])
    start_date = date_field(_l("First day"))
    end_date = date_field(_l("Last day"))
    opening_hours = StringField(_l("Opening hours (showrooms)"), validators=[Optional(), Length(max=300)])
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=400)])
    province_id = SelectField(_l("Province"), coerce=int, validate_choice=False)
    organiser = StringField(_l("Organiser"), validators=[Optional(), Length(max=400)])
    booths = StringField(_l("Number of booths"), validators=[Optional(), Length(max=20)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=1000)])


class ExhibitorSearchForm(Form):
    """The first step of adding an exhibitor: its producer's name (a GET search, so no token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Producer's name"), validators=[Optional(), Length(max=200)])


class ExhibitorForm(Form):
    """A producer chosen from the name search, its booth and which of its certified products it shows.

    ``producer`` comes from the chosen match, never typed; ``products``' choices are
    that producer's certified products, all ticked at first.
    """

    producer = HiddenField(validators=[DataRequired()])
    booth = StringField(_l("Booth"), validators=[Optional(), Length(max=50)])
    products = SelectMultipleField(
        _l("Products shown"), coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
