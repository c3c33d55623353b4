"""Flask-WTF forms of the officials' workspace (every one carries a CSRF token).

Forms only shape and check input; the rules live in the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in 3.3, not in its stubs
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from catalogue.accounts.services import MIN_PASSWORD


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Select options as WTForms wants them (plain tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


def optional_int(value: Any) -> int | None:
    """Coerce a select's value: the blank option means "none"."""
    return int(value) if value not in (None, "", "None") else None


def _date(label: str, required: bool = False) -> DateField:
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


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ConfirmForm(Form):
    """A button-only form (sign out, publish, deactivate): the CSRF token is the point."""


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


class UploadForm(Form):
    file = FileField(_l("Spreadsheet (XLSX or CSV)"), validators=[FileRequired()])


class PublishForm(Form):
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=100)])
    decision_date = _date(_l("Decision date"))


class ZipForm(Form):
    file = FileField(_l("Zip file of photos"), validators=[FileRequired()])


class PhotoForm(Form):
    file = FileField(_l("Photo (JPEG, PNG or WebP)"), validators=[FileRequired()])
    alt = StringField(_l("What the photo shows"), validators=[Optional(), Length(max=300)])


class ProducerForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])
    kind = SelectField(_l("Kind"), validate_choice=False)
    address = StringField(_l("Address"), validators=[Optional(), Length(max=500)])
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=200)])
    province_id = SelectField(_l("Province"), coerce=int, validate_choice=False)
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    website = StringField(_l("Website"), validators=[Optional(), Length(max=300)])
    contacts_public = BooleanField(_l("Show phone, e-mail and website publicly"))
    source = StringField(_l("Source"), validators=[Optional(), Length(max=1000)])


class ProductForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=400)])
    group = SelectField(_l("Product group"), validate_choice=False)
    is_set = BooleanField(_l("This is a product set (bộ sản phẩm)"))
    components = TextAreaField(_l("Components of the set, one per line"), validators=[Optional()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    # Choices are the official's own producers; a tampered value is refused, not saved.
    producer_id = SelectField(_l("Producer"), coerce=optional_int)
    locality = StringField(
        _l("Locality (commune/district as printed)"), validators=[Optional(), Length(max=300)]
    )
    province_id = SelectField(_l("Province"), coerce=int, validate_choice=False)


class CertificateForm(Form):
    number = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=100)])
    issued_on = _date(_l("Issue date"))
    expires_on = _date(_l("Expiry date (empty: by policy)"))
    prize = StringField(_l("Prize"), validators=[Optional(), Length(max=100)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=1000)])
    reason = StringField(_l("Reason for the correction"), validators=[Optional(), Length(max=500)])


class NewCertificateForm(Form):
    level = SelectField(_l("Level"), validate_choice=False)
    region = SelectField(_l("Region (regional level only)"), validate_choice=False)
    year = IntegerField(_l("Year of selection"), validators=[DataRequired(), NumberRange(2000, 2100)])
    number = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=100)])
    issued_on = _date(_l("Issue date"))
    expires_on = _date(_l("Expiry date (empty: by policy)"))
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=100)])
    decision_date = _date(_l("Decision date"))


class RevokeForm(Form):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])
    reference = StringField(
        _l("Reference (revocation decision)"), validators=[DataRequired(), Length(max=200)]
    )
    on = _date(_l("Revoked on (empty: today)"))


class ReinstateForm(Form):
    reason = StringField(_l("Why the revocation is withdrawn"), validators=[DataRequired(), Length(max=500)])


class RoundForm(Form):
    level = SelectField(_l("Level"), validate_choice=False)
    region = SelectField(_l("Region (regional level only)"), validate_choice=False)
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(2000, 2100)])
    province_id = SelectField(_l("Province (local rounds)"), coerce=int, validate_choice=False)
    locality = StringField(_l("District or commune (as printed)"), validators=[Optional(), Length(max=200)])
    edition = StringField(_l("Edition"), validators=[Optional(), Length(max=50)])
    organiser = StringField(_l("Organiser"), validators=[Optional(), Length(max=300)])
    issuing_authority = StringField(_l("Issuing authority"), validators=[Optional(), Length(max=300)])
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=100)])
    decision_date = _date(_l("Decision date"))
    source = StringField(_l("Source"), validators=[Optional(), Length(max=1000)])


class EventForm(Form):
    kind = SelectField(
        _l("Kind"), choices=choices([("fair", _l("Trade fair")), ("showroom", _l("Showroom"))])
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=400)])
    start_date = _date(_l("First day"))
    end_date = _date(_l("Last day"))
    opening_hours = StringField(_l("Opening hours (showrooms)"), validators=[Optional(), Length(max=300)])
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=400)])
    province_id = SelectField(_l("Province"), coerce=int, validate_choice=False)
    organiser = StringField(_l("Organiser"), validators=[Optional(), Length(max=400)])
    booths = StringField(_l("Number of booths"), validators=[Optional(), Length(max=20)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=1000)])


class ExhibitorForm(Form):
    producer_id = IntegerField(_l("Producer number"), validators=[DataRequired()])
    booth = StringField(_l("Booth"), validators=[Optional(), Length(max=50)])
    product_ids = StringField(
        _l("Product numbers shown, separated by commas (empty: all the producer's)"),
        validators=[Optional(), Length(max=500)],
    )


class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    person = StringField(_l("Person (e-mail)"), validators=[Optional(), Length(max=254)])
    province_id = SelectField(_l("Province"), coerce=int, validate_choice=False)
    start = _date(_l("From"))
    end = _date(_l("To"))
