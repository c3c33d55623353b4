"""The registry's workspace forms: producers, products, certificates and their revocation, rounds,
photos, and the ministry's assumed-validity setting."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from catalogue.registry import gtins, validity
from catalogue.workspace.forms import Form, date_field, optional_int


def _readable_gtins(form: Form, field: Field) -> None:
    """Refuse a GTIN that cannot be read, naming it (the service refuses one of another product)."""
    try:
        gtins.parse_gtins(field.data)
    except gtins.GtinError as exc:
        raise ValidationError(str(exc)) from None


class PhotoForm(Form):
    file = FileField(_l("Photo (JPEG, PNG or WebP)"), validators=[FileRequired()])
    alt = StringField(_l("What the photo shows"), validators=[Optional(), Length(max=300)])


class ProducerForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])
    kind = SelectField(_l("Kind"), validate_choice=False)
    address = StringField(_l("Address"), validators=[Optional(), Length(max=500)])
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=200)])
    province_id = SelectField(_l("Province"), coerce=int, validate_choice=False)
    # Published as tel:, mailto: and web links (and in the open data): only what is one.
    phone = StringField(
        _l("Phone"),
        validators=[
            Optional(),
            Length(max=50),
            Regexp(
                r"^[+\d(][\d\s().\-/]{5,49}$",
                message=_l("Write the phone number with digits, spaces and + ( ) - / only."),
            ),
        ],
    )
    email = StringField(
        _l("E-mail"),
        validators=[
            Optional(),
            Length(max=200),
            Regexp(
                r"^[^@\s?&<>\"']+@[^@\s?&<>\"']+\.[^@\s?&<>\"']+$",
                message=_l("This is not an e-mail address."),
            ),
        ],
    )
    website = StringField(_l("Website"), validators=[Optional(), Length(max=300), Regexp(
        r"^(https?://)?[\w.-]+\.[a-z]{2,}(/\S*)?$", flags=re.IGNORECASE,
        message=_l("Write the web address as example.vn or https://example.vn/…"))])  # fmt: skip
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
    # One rule reads them (catalogue.registry.gtins), here as in the import's "Mã GTIN" column.
    gtins = TextAreaField(_l("GTIN codes (barcode numbers on the package), one per line"),
                          validators=[Optional(), _readable_gtins])  # fmt: skip


class CertificateForm(Form):
    number = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=100)])
    issued_on = date_field(_l("Issue date"))
    expires_on = date_field(_l("Expiry date (empty: by policy)"))
    prize = StringField(_l("Prize"), validators=[Optional(), Length(max=100)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=1000)])
    reason = StringField(_l("Reason for the correction"), validators=[Optional(), Length(max=500)])


class NewCertificateForm(Form):
    level = SelectField(_l("Level"), validate_choice=False)
    region = SelectField(_l("Region (regional level only)"), validate_choice=False)
    year = IntegerField(_l("Year of selection"), validators=[DataRequired(), NumberRange(2000, 2100)])
    number = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=100)])
    issued_on = date_field(_l("Issue date"))
    expires_on = date_field(_l("Expiry date (empty: by policy)"))
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=100)])
    decision_date = date_field(_l("Decision date"))


class RevokeForm(Form):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])
    reference = StringField(
        _l("Reference (revocation decision)"), validators=[DataRequired(), Length(max=200)]
    )
    on = date_field(_l("Revoked on (empty: today)"))


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
    decision_date = date_field(_l("Decision date"))
    source = StringField(_l("Source"), validators=[Optional(), Length(max=1000)])


class PolicyForm(Form):
    """A level's assumed validity from a day on (ministry officials)."""

    level = SelectField(_l("Level"))
    years = IntegerField(
        _l("Assumed validity (years)"),
        validators=[
            InputRequired(_l("Enter the number of years.")),
            NumberRange(validity.MIN_YEARS, validity.MAX_YEARS,
                        _l("The validity must be between %(min)s and %(max)s years.")),
        ],
    )  # fmt: skip
    effective_from = DateField(
        _l("Takes effect on"),
        validators=[InputRequired(_l("Enter the day the setting takes effect."))],
        format="%Y-%m-%d",
    )
    note = StringField(_l("Note (for example the document that sets it)"),
                       validators=[Optional(), Length(max=500)])  # fmt: skip


class MergeForm(Form):
    """Merging a duplicate into the record shown: choose it, preview, then confirm what was previewed.

    Any record id is accepted here; the merge service refuses one the official does not own.
    """

    duplicate_id = SelectField(_l("The duplicate (it is merged into this record and removed)"),
                               coerce=optional_int, validate_choice=False)  # fmt: skip
    #: The preview's fingerprint: a record changed since the preview shows the preview again.
    token = HiddenField()
    fill_blanks = BooleanField(_l("Fill this record's empty fields from the duplicate"))
    preview = SubmitField(_l("Preview the merge"))
    confirm = SubmitField(_l("Merge"))
