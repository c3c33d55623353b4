"""Answer models of the public API: every JSON answer is one of these, serialised by it.

They are the contract (DESIGN §4): :mod:`catalogue.api.spec` generates the OpenAPI
document from them (and from the query models, :mod:`catalogue.api.queries`; the
error shape is :mod:`catalogue.api.errors`). Each answer model is built from the
read models the HTML pages use (:mod:`catalogue.registry.catalog`,
:mod:`catalogue.fairs.pages`, :mod:`catalogue.verification.services`), so no
query logic lives here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from catalogue.db import pk
from catalogue.fairs.pages import EventView
from catalogue.registry.catalog import CertificateView, ProductSummary, verify_url
from catalogue.registry.status import ExpiryBasis, Standing
from catalogue.verification import services as svc
from catalogue.verification.history import AsOf
from catalogue.verification.serials import LabelState
from catalogue.vocab import CertificateStatus, ChangeKind, EventKind, Level, ProductGroup, Region
from catalogue.web import public_url

#: ``AsOfAnswer.date`` would hide the type's name.
Day: TypeAlias = date


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

    id: int = Field(description="The certificate's id: stable, the `certificate_id` of the bulk download "
                    "and the change feed.")  # fmt: skip
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
        assert cert.id is not None
        return cls(
            id=cert.id, number=cert.number, level=view.level, region=view.region, year=view.year,
            round=view.round.slug, decision=cert.decision_number, decision_date=cert.decision_date,
            office=cert.office, issued_on=cert.issued_on, revoked_on=cert.revoked_on,
            province_as_printed=view.province.short_name if view.province else None,
            source=cert.source, source_note=cert.source_note,
            verify_url=verify_url(base_url, cert.verify_code), **_standing_fields(standing),
        )  # fmt: skip


# ----------------------------------------------------------------------------- products


class ProducerOut(Model):
    id: int = Field(description="The producer's id (`producer_id` in the bulk download).")
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
    gtins: list[str] = Field(description="GTIN-14s on the package; see `/01/<gtin>`.")

    @classmethod
    def of(cls, s: ProductSummary, base_url: str) -> Product:
        p, producer = s.product, s.producer
        assert p.id is not None
        return cls(
            id=p.id, name=p.name, url=public_url("public.product", slug=p.slug),
            is_set=p.is_set, group=s.group, group_assigned_by_editors=p.group_assigned if p.group else None,
            locality=p.locality,
            producer=ProducerOut(
                id=pk(producer), name=producer.name, kind=producer.kind,
                url=public_url("public.producer", slug=producer.slug),
            ) if producer else None,
            province=PlaceOut(
                as_printed=s.province.short_name if s.province else None,
                current=s.current_province.name if s.current_province else None,
                current_slug=s.current_province.slug if s.current_province else None,
            ),
            certificates=[Certificate.of(v, base_url) for v in s.certificates], gtins=s.gtins,
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
    next_cursor: str | None = Field(
        description="Pass as `cursor` with the same search for the results after this page; null on the "
        "last page. A walk has no limit on the total."
    )
    next: str | None = Field(description="The URL of the next page by cursor (null on the last page).")


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
            "status_rules_url": public_url("public.status_rules"),
            "certificate": {
                "id": c.id, "number": c.number, "level": c.level, "region": c.region, "year": c.year,
                "round": c.round_slug, "decision": c.decision_number, "decision_date": c.decision_date,
                "office": c.office, "issued_on": c.issued_on, "revoked_on": c.revoked_on,
                "revoked_reason": c.revoked_reason, "revoked_reference": c.revoked_reference,
                "province_as_printed": c.province_printed, "source": c.source,
                "source_note": c.source_note, **_standing_fields(standing),
            },
            "product": {
                "name": c.product_name, "locality": c.locality,
                "url": public_url("public.product", slug=c.product_slug),
                "photo": public_url("public.media", key=c.photo_key) if c.photo_key else None,
            },
            "producer": {
                "name": c.producer_name,
                "url": public_url("public.producer", slug=c.producer_slug),
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
    def of(cls, answer: AsOf) -> AsOfAnswer:
        extra: dict[str, Any] = {}
        if answer.standing is not None and answer.status is not None:
            extra = {"expires_on": answer.standing.expires_on, "expiry_basis": answer.standing.basis}
        return cls(date=answer.day, status=answer.status or "not_yet_issued",
                   issue_day_unknown=answer.issue_day_unknown, **extra)  # fmt: skip


class LabelAnswer(Model):
    """A code printed on one package (a label run's serial code): that package's own history."""

    run: int = Field(description="The label run.")
    serial: int = Field(description="The package's serial number within the run.")
    first_checked_at: datetime | None = Field(description="When this label was first checked.")
    device_days: int | None = Field(
        description="Distinct devices per day that checked this label, this request included (null "
        "when briefly unavailable). More than one on a sealed package just bought suggests a copied label."
    )
    withdrawn: bool = Field(description="The issuing office withdrew this label (for example a lost roll).")
    withdrawn_on: date | None
    withdrawn_reason: str | None


class Verification(NumberMatch):
    """The answer for a code printed as a QR: the same verdict as the page ``/v/<code>``."""

    status: CertificateStatus | Literal["label_withdrawn"] = Field(  # type: ignore[assignment]
        description="The certificate's status; `label_withdrawn` when the code is a package label the "
        "issuing office withdrew (the certificate's own status is then in `certificate.status`)."
    )
    certificate: VerifiedCertificate
    code: str = Field(description="The canonical code.")
    verify_url: str
    check_count: int | None = Field(
        description="Page loads and API calls of this code, preview fetchers excluded (null when the "
        "count is briefly unavailable; the verdict still stands)."
    )
    device_days: int | None = Field(
        description="Distinct devices per day that checked this code: a device reloading adds nothing. A "
        "certificate's code is printed on every package, so a high number alone proves nothing."
    )
    first_checked_at: datetime | None
    label: LabelAnswer | None = Field(
        default=None,
        description="Present when the code is printed on one package (a label run's serial code).",
    )
    as_of: AsOfAnswer | None = Field(default=None, description="Present when `as_of` was asked.")

    @classmethod
    def of_check(
        cls, c: svc.CertificateCheck, today: date, base_url: str, as_of: AsOf | None = None,
        label: LabelState | None = None,
    ) -> Verification:  # fmt: skip
        fields = cls.fields_of(c, today)
        fields["certificate"]["verify_url"] = verify_url(base_url, c.code)
        fields.update(code=c.code, verify_url=verify_url(base_url, c.code), check_count=c.check_count,
                      first_checked_at=c.first_checked_at, device_days=c.device_days)  # fmt: skip
        if label is not None:
            withdrawn = label.withdrawn
            answer = {
                "run": label.run_id, "serial": label.serial, "first_checked_at": label.first_checked_at,
                "device_days": label.device_days, "withdrawn": withdrawn is not None,
                "withdrawn_on": label.withdrawn_day,
                "withdrawn_reason": withdrawn.reason if withdrawn else None,
            }  # fmt: skip
            # The certificate's own code is not given away: one genuine label must not yield it.
            fields["certificate"]["verify_url"] = verify_url(base_url, label.code)
            fields.update(
                code=label.code, verify_url=verify_url(base_url, label.code), check_count=None,
                device_days=label.device_days, first_checked_at=label.first_checked_at, label=answer,
            )  # fmt: skip
            if withdrawn is not None:
                fields["status"] = "label_withdrawn"
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
            name=e.name, slug=slug, url=public_url("fairs.event", slug=slug), kind=view.kind,
            start_date=e.start_date, end_date=e.end_date, opening_hours=e.opening_hours, venue=e.venue,
            province=PlaceOut(
                as_printed=view.province.short_name if view.province else None,
                current=view.current_province.name if view.current_province else None,
                current_slug=view.current_province.slug if view.current_province else None,
            ),
            organiser=e.organiser, booths=e.booths, source=e.source,
            ics_url=public_url("fairs.event_ics", slug=slug) if view.has_calendar else None,
        )  # fmt: skip


class ChangeOut(Model):
    """One change to a product record; ``product`` is its state now (null once it is gone)."""

    seq: int = Field(description="Position in the feed (increasing in commit order, with gaps).")
    at: datetime = Field(description="When the change was made (UTC).")
    kind: ChangeKind = Field(
        description="created: a certificate was published; corrected: any other "
        "change to the product, its producer, certificates or photos; revoked; "
        "reinstated; removed: the product left the registry (merged into another)."
    )
    product_id: int
    certificate_id: int | None = Field(description="The certificate concerned, when one is.")
    merged_into: int | None = Field(description="For a product merged away: the product it became part of.")
    product: Product | None = Field(
        description="The product as it is now, with every certificate "
        "(any status), as `/api/v1/products?status=all` lists it; null when "
        "it is no longer in the registry: delete it from a copy."
    )


class ChangeList(Model):
    items: list[ChangeOut]
    next: str = Field(
        description="Pass as `since` to get the changes after these; keep it, it never expires "
        "within the retention period (`retention_days`)."
    )
    more: bool = Field(description="More changes are waiting now: ask again at once.")
    retention_days: int = Field(
        description="Changes are kept this long; a client further behind reloads the "
        "bulk download and continues from its `changes_cursor`."
    )
    bulk_download: str = Field(description="The bulk download page.")


class EventList(Model):
    total: int
    items: list[Event] = Field(
        description="Current and upcoming fairs first, then past fairs (newest first), fairs with unknown "
        "dates, and showrooms."
    )
