"""Pydantic models of the public API: every JSON answer is one of these, serialised by it.

They are the contract (DESIGN §4): :mod:`catalogue.api.spec` generates the OpenAPI
document from them, and the query models validate request parameters with the same
types and limits the document states. Each answer model is built from the read models
the HTML pages use (:mod:`catalogue.registry.catalog`, :mod:`catalogue.registry.pages`,
:mod:`catalogue.verification.services`), so no query logic lives here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias, get_args

from flask import url_for
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.exceptions import BadRequest

from catalogue.registry.catalog import CertificateView, ProductSummary, verify_url
from catalogue.registry.pages import EventView
from catalogue.registry.status import ExpiryBasis, Standing
from catalogue.search.query import MAX_PAGE, MAX_QUERY, SORTS
from catalogue.verification import services as svc
from catalogue.vocab import CertificateStatus, EventKind, Level, ProductGroup, Region

#: ``AsOfAnswer.date`` would hide the type's name.
Day: TypeAlias = date
#: Largest page of the product API; the search page allows fewer.
MAX_PER_PAGE = 100
#: A typed certificate number (the form and the API take the same).
MAX_NUMBER = 100
#: Years a search filter accepts (``SearchParams.from_args`` checks the same range).
YEARS = (1900, 2200)


class Model(BaseModel):
    """Answers are built by us, never parsed from clients: frozen, no extra keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


# ----------------------------------------------------------------------------- shared parts


class PlaceOut(Model):
    """A province as printed in the record and the current unit it belongs to now."""

    as_printed: str | None = Field(description="The province as printed when certified.")
    current: str | None = Field(description="The current (post-2025) province's full name.")
    current_slug: str | None = Field(description="Its slug, a value of the `province` filter.")


class CertificateBase(Model):
    """Certificate fields shared by the product search and the verification answers."""

    number: str | None = Field(description="As printed; null when not published.")
    level: Level
    region: Region | None = Field(description="Region of a regional-level round.")
    year: int = Field(description="Year of selection.")
    round: str = Field(description="Slug of the selection round (`/rounds/<slug>`).")
    decision: str | None = Field(
        description="Number of the decision that recognised this certificate (its own publication's)."
    )
    decision_date: date | None
    office: str | None = Field(description="Office that published the certificate in the registry.")
    issued_on: date | None = Field(description="Null when only the year is known.")
    expires_on: date | None = Field(
        description="Effective expiry: the decision's, or the one the registry assumes (see `expiry_basis`)."
    )
    expiry_basis: ExpiryBasis
    expiry_from_policy: bool = Field(description='Same as `expiry_basis == "policy"`.', deprecated=True)
    assumed_validity_years: int | None = Field(description="The standard validity assumed (policy basis).")
    status: CertificateStatus
    revoked_on: date | None
    province_as_printed: str | None
    source: str | None
    source_note: str | None = Field(description="The source's remark on this record.")


def _standing_fields(standing: Standing) -> dict[str, Any]:
    return {
        "expires_on": standing.expires_on,
        "expiry_basis": standing.basis,
        "expiry_from_policy": standing.assumed,
        "assumed_validity_years": standing.term.years if standing.term else None,
        "status": standing.status,
    }


class Certificate(CertificateBase):
    """A certificate in the product search."""

    verify_url: str | None = Field(description="The printed verification URL (`/v/<code>`).")

    @classmethod
    def of(cls, view: CertificateView, base_url: str) -> Certificate:
        cert, standing = view.cert, view.standing
        assert standing is not None, "certificate_views always derives the standing"
        return cls(
            number=cert.number, level=view.level, region=view.region, year=view.year,
            round=view.round.slug, decision=cert.decision_number, decision_date=cert.decision_date,
            office=cert.office, issued_on=cert.issued_on, revoked_on=cert.revoked_on,
            province_as_printed=view.province.short_name if view.province else None,
            source=cert.source, source_note=cert.source_note,
            verify_url=verify_url(base_url, cert.verify_code), **_standing_fields(standing),
        )  # fmt: skip


# ----------------------------------------------------------------------------- products


class ProducerOut(Model):
    name: str
    kind: str | None = Field(description="company, cooperative, … (a stable key); null when unknown.")
    url: str = Field(description="The producer's public page.")


class Product(Model):
    id: int
    name: str
    url: str = Field(description="The product's public page.")
    is_set: bool = Field(description="A product set (bộ sản phẩm) rather than one product.")
    group: ProductGroup | None = Field(description="Null when not yet classified.")
    group_assigned_by_editors: bool | None
    locality: str | None
    producer: ProducerOut | None
    province: PlaceOut
    certificates: list[Certificate] = Field(description="Highest valid level first.")

    @classmethod
    def of(cls, s: ProductSummary, base_url: str) -> Product:
        p, producer = s.product, s.producer
        assert p.id is not None
        return cls(
            id=p.id, name=p.name, url=url_for("public.product", slug=p.slug, _external=True),
            is_set=p.is_set, group=s.group, group_assigned_by_editors=p.group_assigned if p.group else None,
            locality=p.locality,
            producer=ProducerOut(
                name=producer.name, kind=producer.kind,
                url=url_for("public.producer", slug=producer.slug, _external=True),
            ) if producer else None,
            province=PlaceOut(
                as_printed=s.province.short_name if s.province else None,
                current=s.current_province.name if s.current_province else None,
                current_slug=s.current_province.slug if s.current_province else None,
            ),
            certificates=[Certificate.of(v, base_url) for v in s.certificates],
        )  # fmt: skip


class FacetValue(Model):
    value: str = Field(description="Pass it back as the filter's value.")
    label: str = Field(description="In the request's language.")
    count: int


class Facets(Model):
    """Counts per value among the matches; each list is a filter of the same name."""

    group: list[FacetValue]
    province: list[FacetValue]
    region: list[FacetValue]
    level: list[FacetValue]
    year: list[FacetValue]
    status: list[FacetValue]


class StatusRules(Model):
    url: str = Field(description="The public page explaining how status is decided.")
    note: str


class ProductPage(Model):
    total: int = Field(description="Matching products.")
    page: int
    per_page: int
    suggestion: str | None = Field(description="A spelling to try when the words matched little.")
    items: list[Product]
    facets: Facets
    status_rules: StatusRules = Field(
        description="How status treats a certificate whose decision states no expiry."
    )


# ----------------------------------------------------------------------------- verification


class CheckedCertificate(CertificateBase):
    """A certificate as a verification answer shows it, revocation details included."""

    revoked_reason: str | None
    revoked_reference: str | None


class VerifiedCertificate(CheckedCertificate):
    verify_url: str = Field(description="The printed verification URL (`/v/<code>`).")


class CheckedProduct(Model):
    name: str
    locality: str | None
    url: str = Field(description="The product's public page.")
    photo: str | None


class CheckedProducer(Model):
    name: str
    url: str = Field(description="The producer's public page.")


class CheckedPlace(Model):
    as_printed: str | None
    current: str | None


class NumberMatch(Model):
    """One certificate found by its printed number: the verdict, never the code."""

    status: CertificateStatus
    expiry_basis: ExpiryBasis
    status_rules_url: str = Field(description="The public page explaining how status is decided.")
    certificate: CheckedCertificate
    product: CheckedProduct
    producer: CheckedProducer | None
    province: CheckedPlace

    @classmethod
    def fields_of(cls, c: svc.CertificateCheck, today: date) -> dict[str, Any]:
        standing = c.standing(today)
        return {
            "status": standing.status, "expiry_basis": standing.basis,
            "status_rules_url": url_for("public.status_rules", _external=True),
            "certificate": {
                "number": c.number, "level": c.level, "region": c.region, "year": c.year,
                "round": c.round_slug, "decision": c.decision_number, "decision_date": c.decision_date,
                "office": c.office, "issued_on": c.issued_on, "revoked_on": c.revoked_on,
                "revoked_reason": c.revoked_reason, "revoked_reference": c.revoked_reference,
                "province_as_printed": c.province_printed, "source": c.source,
                "source_note": c.source_note, **_standing_fields(standing),
            },
            "product": {
                "name": c.product_name, "locality": c.locality,
                "url": url_for("public.product", slug=c.product_slug, _external=True),
                "photo": url_for("public.media", key=c.photo_key, _external=True) if c.photo_key else None,
            },
            "producer": {
                "name": c.producer_name,
                "url": url_for("public.producer", slug=c.producer_slug, _external=True),
            } if c.producer_name else None,
            "province": {"as_printed": c.province_printed, "current": c.current_province_name},
        }  # fmt: skip

    @classmethod
    def of(cls, c: svc.CertificateCheck, today: date) -> NumberMatch:
        return cls.model_validate(cls.fields_of(c, today))


class AsOfAnswer(Model):
    """The verdict on a past day (``?as_of=``), from the certificate's history."""

    date: Day
    status: CertificateStatus | Literal["not_yet_issued"]
    issue_day_unknown: bool = Field(description="Only the year of issue is known.")
    expires_on: Day | None = Field(default=None, description="The expiry in effect on that day.")
    expiry_basis: ExpiryBasis | None = None

    @classmethod
    def of(cls, answer: svc.AsOf) -> AsOfAnswer:
        extra: dict[str, Any] = {}
        if answer.standing is not None and answer.status is not None:
            extra = {"expires_on": answer.standing.expires_on, "expiry_basis": answer.standing.basis}
        return cls(date=answer.day, status=answer.status or "not_yet_issued",
                   issue_day_unknown=answer.issue_day_unknown, **extra)  # fmt: skip


class Verification(NumberMatch):
    """The answer for a code printed as a QR: the same verdict as the page ``/v/<code>``."""

    certificate: VerifiedCertificate
    code: str = Field(description="The canonical code.")
    verify_url: str
    check_count: int | None = Field(
        description="How many times this code has been checked (null when the count is briefly "
        "unavailable; the verdict still stands)."
    )
    first_checked_at: datetime | None
    as_of: AsOfAnswer | None = Field(default=None, description="Present when `as_of` was asked.")

    @classmethod
    def of_check(cls, c: svc.CertificateCheck, today: date, base_url: str, as_of: svc.AsOf | None = None
                 ) -> Verification:  # fmt: skip
        fields = cls.fields_of(c, today)
        url = verify_url(base_url, c.code)
        fields["certificate"]["verify_url"] = url
        fields.update(code=c.code, verify_url=url, check_count=c.check_count,
                      first_checked_at=c.first_checked_at)  # fmt: skip
        if as_of is not None:
            fields["as_of"] = AsOfAnswer.of(as_of)
        return cls.model_validate(fields)


class NumberMatches(Model):
    items: list[NumberMatch] = Field(min_length=1, description="Every certificate with this number.")


class UnknownCode(Model):
    """An unknown or tampered code: the verify endpoints' one answer that is not an error."""

    status: Literal["unknown"]


class UnknownNumber(UnknownCode):
    items: list[NumberMatch] = Field(max_length=0, description="Always empty.")


# ----------------------------------------------------------------------------- events


class Event(Model):
    name: str
    slug: str
    url: str = Field(description="The fair's or showroom's public page.")
    kind: EventKind
    start_date: date | None
    end_date: date | None
    opening_hours: str | None
    venue: str | None
    province: PlaceOut
    organiser: str | None
    booths: str | None = Field(description="As published (may be `>500`).")
    source: str | None
    ics_url: str | None = Field(description="iCalendar file of a fair whose first day is known.")

    @classmethod
    def of(cls, view: EventView) -> Event:
        e, slug = view.event, view.event.slug
        return cls(
            name=e.name, slug=slug, url=url_for("public.event", slug=slug, _external=True), kind=view.kind,
            start_date=e.start_date, end_date=e.end_date, opening_hours=e.opening_hours, venue=e.venue,
            province=PlaceOut(
                as_printed=view.province.short_name if view.province else None,
                current=view.current_province.name if view.current_province else None,
                current_slug=view.current_province.slug if view.current_province else None,
            ),
            organiser=e.organiser, booths=e.booths, source=e.source,
            ics_url=url_for("public.event_ics", slug=slug, _external=True) if view.has_calendar else None,
        )  # fmt: skip


class EventList(Model):
    total: int
    items: list[Event] = Field(
        description="Current and upcoming fairs first, then past fairs (newest first), fairs with unknown "
        "dates, and showrooms."
    )


# ----------------------------------------------------------------------------- errors


ErrorCode = Literal[
    "bad_request", "not_found", "method_not_allowed", "too_many_requests", "search_index_building",
    "service_unavailable", "internal_error",
]  # fmt: skip


class ErrorDetail(Model):
    code: ErrorCode = Field(description="Stable key of the kind of error.")
    message: str = Field(description="What went wrong and what to do, in the request's language.")


class Error(Model):
    """The one shape of every JSON error under ``/api/``."""

    error: ErrorDetail


class BuildProgress(Model):
    done: int
    total: int


class BuildingError(Error):
    """503 while this server builds its first search index."""

    building: BuildProgress = Field(description="Products indexed so far, of all.")


# ----------------------------------------------------------------------------- query parameters


class Query(BaseModel):
    """Request parameters; names not declared are ignored (``lang`` picks the language anywhere).

    :meth:`parse` validates the request's arguments and turns the first problem into
    a 400 in the one error shape, worded for people in the request's language.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)
    #: Parameters a client may repeat (``status=valid&status=expired``).
    lists: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def parse(cls, args: Any) -> Self:
        raw = {name: (args.getlist(name) if name in cls.lists else args.get(name))
               for name in cls.model_fields if name in args}  # fmt: skip
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else ""
            value = first.get("input")
            raise BadRequest(description=cls.problem(name, "" if value is None else str(value))) from None

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        """The message for a refused value of parameter ``name``."""
        return _("The value “%(value)s” of %(name)s is not valid.", value=value[:60], name=name)


_LENIENT = " Names are matched leniently, with or without diacritics, in Vietnamese or English."
Status = Literal["valid", "expired", "revoked", "all"]
Sort = Literal["relevance", "newest", "name"]
assert get_args(Sort) == SORTS, "the documented orders are the search's"


def _enum_or_name(ref: str) -> dict[str, Any]:
    """A filter taking the enumeration's values (the facet's) or names."""
    return {"items": {"anyOf": [{"$ref": f"#/components/schemas/{ref}"}, {"type": "string"}]}}


class FilterQuery(Query):
    """Filters of the product search; repeat one to match any of its values (facet values as returned)."""

    lists: ClassVar[frozenset[str]] = frozenset({"group", "province", "region", "level", "year", "status"})

    q: str = Field(default="", max_length=MAX_QUERY, description="Words to search for, with or without "
                   "Vietnamese diacritics, in any case (`gom bat trang` finds `Gốm Bát Tràng`); "
                   '`"quoted phrases"` and `prefix*` work.')  # fmt: skip
    group: list[str] = Field(default=[], json_schema_extra=_enum_or_name("ProductGroup"),
                             description="Product group: a value of the `group` facet or the group's name."
                             + _LENIENT)  # fmt: skip
    province: list[str] = Field(default=[], description="A current province: a value of the `province` facet "
                                "or a name (`Dong Thap`); it includes its pre-2025 predecessors, and a "
                                "pre-2025 name also works." + _LENIENT)  # fmt: skip
    region: list[str] = Field(default=[], json_schema_extra=_enum_or_name("Region"),
                              description="Region of a regional-level round." + _LENIENT)  # fmt: skip
    level: list[str] = Field(default=[], json_schema_extra=_enum_or_name("Level"),
                             description="Certificate level." + _LENIENT)  # fmt: skip
    year: list[Annotated[int, Field(ge=YEARS[0], le=YEARS[1])]] = Field(
        default=[], description="Year of selection."
    )
    status: list[Status] = Field(
        default=["valid"],
        description="Certificate status; `valid` by default, `all` includes expired "
        "and revoked. `expired` includes certificates whose decision states no expiry and whose "
        "registry-assumed validity (`expiry_basis: policy`) has passed.",
    )
    sort: Sort = Field(default="relevance", description="Order of the results.")

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        if name == "q":
            return _("Your search is too long: use at most %(max)d characters.", max=MAX_QUERY)
        if name == "year":
            return _("“%(value)s” is not a year.", value=value[:60])
        if name == "status":
            return _("Unknown status “%(value)s”: use valid, expired, revoked or all.", value=value[:60])
        if name == "sort":
            return _("Unknown sort order “%(value)s”.", value=value[:60])
        if name == "page":
            if value.isdigit() and int(value) > MAX_PAGE:
                return _("The page number is too large.")
            return _("The page number must be a whole number from 1.")
        if name == "per_page":
            return _("per_page must be a whole number from 1 to %(max)d.", max=MAX_PER_PAGE)
        return super().problem(name, value)


class ProductQuery(FilterQuery):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)


class CodeQuery(Query):
    as_of: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        json_schema_extra={"format": "date"},
        description="Ask for the verdict on a past day (`YYYY-MM-DD`, not in the future): "
        '"was it valid on the day I bought it?". Such a question is not counted as a check.',
    )

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        return _("Enter the date as year-month-day, for example 2025-03-14.")


class NumberQuery(Query):
    number: str = Field(
        min_length=1,
        max_length=MAX_NUMBER,
        pattern=r"\S",
        description="The certificate number as printed (runs of spaces count as one). The answer never "
        "includes the verification code: numbers are guessable, codes are not.",
    )

    @classmethod
    def problem(cls, name: str, value: str) -> str:
        return _("Give the certificate number as printed (up to %(max)d characters).", max=MAX_NUMBER)
