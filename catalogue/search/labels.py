"""What a facet value is called in the request's language: one function for the search page and the API."""

from __future__ import annotations

from flask_babel import gettext as _

from catalogue.places.services import Provinces
from catalogue.search.facets import UNCLASSIFIED
from catalogue.vocab import CertificateStatus, Level, ProductGroup, Region


def facet_label(name: str, value: str, provinces: Provinces) -> str:
    """Human label of a facet value in the current language."""
    if name == "group":
        return _("Not yet classified") if value == UNCLASSIFIED else ProductGroup(value).label
    if name == "region":
        return Region(value).label
    if name == "level":
        return Level(value).label
    if name == "status":
        return CertificateStatus(value).label
    if name == "province":
        match = provinces.match_current(value)
        return match.short_name if match else value
    return value
