"""schema.org JSON-LD of the public pages, built from the read models the pages already render.

Only facts the registry holds are stated: an unknown issue date, expiry, venue or organiser
is left out, never guessed. ``expires`` is the expiry a decision printed; the validity the
registry assumes when a decision states none is not an expiry anyone declared, so it is not
given as one (the certificate's ``certificationStatus`` still reflects it).
"""

from __future__ import annotations

import json
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from catalogue.fairs.pages import EventPage, EventView
from catalogue.places.models import Province
from catalogue.registry import gtins
from catalogue.registry.catalog import CertificateView, ProductSummary
from catalogue.registry.pages import ProducerPage
from catalogue.seo.links import absolute
from catalogue.vocab import CertificateStatus, EventKind

CONTEXT = "https://schema.org"
ACTIVE = "https://schema.org/CertificationActive"
INACTIVE = "https://schema.org/CertificationInactive"
#: ISO 3166-1 alpha-2, as schema.org's ``addressCountry`` takes it.
COUNTRY = "VN"

JsonLd = dict[str, Any]


def _dumps(data: Any, **kwargs: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def script(data: JsonLd) -> Markup:
    """A ``<script type="application/ld+json">`` block: data, never executed, so the CSP allows it.

    ``tojson``'s escaping (``<``, ``>``, ``&``, ``'`` as ``\\u`` escapes) keeps a name such
    as ``</script>`` inside the string, and the block still parses as JSON.
    """
    body = htmlsafe_json_dumps(data, dumps=_dumps)
    return Markup(f'<script type="application/ld+json">{body}</script>')


def _page(endpoint: str, slug: str) -> str:
    return absolute(url_for(endpoint, slug=slug))


def _address(province: Province | None, current: Province | None, **parts: str | None) -> JsonLd:
    address: JsonLd = {"@type": "PostalAddress"}
    address.update({k: v for k, v in parts.items() if v})
    shown = current or province
    if shown is not None:
        address["addressRegion"] = shown.name
    address["addressCountry"] = COUNTRY
    return address


def _organisation(name: str | None) -> JsonLd | None:
    return {"@type": "Organization", "name": name} if name else None


def level_label(view: CertificateView) -> str:
    """The level as the pages name it, with its region ("Regional level — Northern region")."""
    return view.level.label + (f" — {view.region.label}" if view.region else "")


def certification(view: CertificateView, product_id: str) -> JsonLd:
    """One certificate as a schema.org ``Certification`` of the product ``product_id``."""
    cert, round_ = view.cert, view.round
    level = level_label(view)
    data: JsonLd = {
        "@type": "Certification",
        "name": _(
            "Outstanding rural industrial product (%(level)s, %(year)s)", level=level, year=round_.year
        ),
        "about": {"@id": product_id},
        "certificationStatus": ACTIVE if view.status is CertificateStatus.VALID else INACTIVE,
    }
    if cert.number:
        data["certificationIdentification"] = cert.number
    if cert.issued_on:
        data["validFrom"] = cert.issued_on.isoformat()
    if cert.expires_on:  # stated by the decision (see the module's docstring)
        data["expires"] = cert.expires_on.isoformat()
    issuer = _organisation(round_.issuing_authority or cert.office or round_.organiser)
    if issuer:
        data["issuedBy"] = issuer
    return data


def product(summary: ProductSummary) -> Markup:
    """A product page's ``Product`` with every certificate it holds (``hasCertification``)."""
    p = summary.product
    url = _page("public.product", p.slug)
    ident = url + "#product"
    data: JsonLd = {"@context": CONTEXT, "@type": "Product", "@id": ident, "name": p.name, "url": url}
    if p.description:
        data["description"] = p.description
    if summary.gtins:  # as printed under the barcode: schema.org asks for no padding zeros
        printed = [gtins.printed(g) for g in summary.gtins]
        data["gtin"] = printed[0] if len(printed) == 1 else printed
    if summary.group:
        data["category"] = summary.group.label
    images = [absolute(url_for("public.media", key=ph.file_key)) for ph in summary.photos[:6]]
    if images:
        data["image"] = images
    if summary.producer:
        maker = summary.producer
        data["manufacturer"] = {
            "@type": "Organization",
            "@id": _page("public.producer", maker.slug) + "#organization",
            "name": maker.name,
            "url": _page("public.producer", maker.slug),
        }
    data["countryOfOrigin"] = {"@type": "Country", "name": "Viet Nam", "identifier": COUNTRY}
    if summary.certificates:
        data["hasCertification"] = [certification(v, ident) for v in summary.certificates]
    return script(data)


def producer(page: ProducerPage) -> Markup:
    """A producer page's ``Organization``; contact details only where the record makes them public."""
    pr = page.producer
    url = _page("public.producer", pr.slug)
    data: JsonLd = {"@context": CONTEXT, "@type": "Organization", "@id": url + "#organization",
                    "name": pr.name, "url": url,
                    "address": _address(page.province, page.current_province,
                                        streetAddress=pr.address, addressLocality=pr.commune)}  # fmt: skip
    if pr.contacts_public:
        if pr.phone:
            data["telephone"] = pr.phone
        if pr.email:
            data["email"] = pr.email
        if pr.website:
            data["sameAs"] = pr.website if pr.website.startswith("http") else "https://" + pr.website
    return script(data)


def _place(view: EventView) -> JsonLd:
    place: JsonLd = {"@type": "Place"}
    if view.event.venue:
        place["name"] = view.event.venue
    place["address"] = _address(view.province, view.current_province)
    return place


def event(page: EventPage) -> Markup:
    """A fair's ``Event``, or a showroom's ``Store`` (a place open to visitors, not a dated event)."""
    view, e = page.view, page.view.event
    url = _page("fairs.event", e.slug)
    data: JsonLd = {"@context": CONTEXT, "name": e.name, "url": url}
    if e.description:
        data["description"] = e.description
    if view.kind is EventKind.FAIR:
        data.update({"@type": "Event", "@id": url + "#event",
                     "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
                     "location": _place(view)})  # fmt: skip
        if e.start_date:
            data["startDate"] = e.start_date.isoformat()
        if e.end_date:
            data["endDate"] = e.end_date.isoformat()
        organiser = _organisation(e.organiser)
        if organiser:
            data["organizer"] = organiser
    else:
        address = _address(view.province, view.current_province, streetAddress=e.venue)
        data.update({"@type": "Store", "@id": url + "#store", "address": address})
        # Opening hours are free text as published, not schema.org's "Mo-Fr 08:00-17:00" form.
    return script(data)
