"""What features built on the registry add to its public pages, without the registry importing them.

The fairs feature sits above the registry (a fair shows producers and products), so
the registry cannot ask it for the fairs on the home page, where a product was shown
or which event a round's awards were presented at. Instead ``create_app`` installs
each such feature's :class:`PageParts`, and the public views add the template
variables they return to the page's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Protocol

from flask import Flask, current_app
from sqlmodel import Session

from catalogue.places.services import Provinces
from catalogue.registry.catalog import ProductSummary
from catalogue.registry.models import SelectionRound

_KEY = "catalogue.registry.parts"


class PageParts(Protocol):
    """One feature's share of the home, product and round pages, as template variables."""

    def home(self, session: Session, provinces: Provinces, today: date) -> Mapping[str, object]: ...

    def product(
        self, session: Session, provinces: Provinces, summary: ProductSummary
    ) -> Mapping[str, object]: ...

    def round(
        self, session: Session, provinces: Provinces, round_: SelectionRound
    ) -> Mapping[str, object]: ...


def install(app: Flask, parts: Sequence[PageParts]) -> None:
    """Have ``app``'s registry pages show ``parts`` (called once, by ``create_app``)."""
    app.extensions[_KEY] = tuple(parts)


def _installed() -> tuple[PageParts, ...]:
    parts: tuple[PageParts, ...] = current_app.extensions.get(_KEY, ())
    return parts


def for_home(session: Session, provinces: Provinces, today: date) -> dict[str, object]:
    """The installed features' template variables for the home page."""
    return {k: v for part in _installed() for k, v in part.home(session, provinces, today).items()}


def for_product(session: Session, provinces: Provinces, summary: ProductSummary) -> dict[str, object]:
    """The installed features' template variables for a product's page."""
    return {k: v for part in _installed() for k, v in part.product(session, provinces, summary).items()}


def for_round(session: Session, provinces: Provinces, round_: SelectionRound) -> dict[str, object]:
    """The installed features' template variables for a selection round's page."""
    return {k: v for part in _installed() for k, v in part.round(session, provinces, round_).items()}
