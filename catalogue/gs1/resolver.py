"""Reading a GS1 Digital Link address and building the resolver's answers: the linkset and the description.

The shapes follow the GS1-Conformant Resolver Standard 1.1 and RFC 9264: link
relations are the full URIs of the GS1 Web Vocabulary (``https://gs1.org/voc/pip``),
a linkset is ``{"linkset": [{"anchor": …, <relation>: [targets]}]}``. A lot or
serial number is read and kept in the anchor, but the registry has no data per lot
or item, so it never changes the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, unquote

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from flask_babel import gettext as _
from sqlmodel import Session

from catalogue.registry import gtins
from catalogue.registry.catalog import ProductSummary, load_summaries, verify_url
from catalogue.vocab import CertificateStatus

GS1_VOC = "https://gs1.org/voc/"
PIP = GS1_VOC + "pip"
CERTIFICATION_INFO = GS1_VOC + "certificationInfo"
DEFAULT_LINK = GS1_VOC + "defaultLink"
#: The JSON-LD context GS1 publishes for linksets (named in the resolver's description).
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
LINKSET_TYPE = "application/linkset+json"
#: ``linkType`` values that ask for the whole linkset rather than one link.
LINKSET_REQUESTS = frozenset({"linkset", "all"})
#: Languages the product page is offered in (each a ``pip`` link with its ``hreflang``).
PAGE_LANGUAGES = ("vi", "en")


class BadAddress(ValueError):
    """The address is not a GS1 Digital Link we can read; ``str()`` says why, in the reader's language."""


@dataclass(frozen=True)
class Address:
    """What a ``/01/…`` address names: the GTIN (14 digits) and the lot or serial, if any."""

    gtin: str
    lot: str | None = None
    serial: str | None = None

    def path(self) -> str:
        """The canonical path: the GTIN in its 14-digit form, then the qualifiers as given."""
        out = f"/01/{self.gtin}"
        if self.lot is not None:
            out += "/10/" + _segment(self.lot)
        if self.serial is not None:
            out += "/21/" + _segment(self.serial)
        return out


def _segment(value: str) -> str:
    """A lot or serial as one path segment: never "." or "..", which a URL resolver would take as steps."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def read_address(base_url: str, rest: str) -> Address:
    """The address ``/01/<rest>`` read by ``biip``'s Digital Link parser; :class:`BadAddress` if not one.

    ``rest`` is as sent, percent-encoded (a serial may hold an encoded ``/``). The GTIN itself
    is read by the registry's rule (:func:`catalogue.registry.gtins.parse_gtin`), so an 8-, 12-
    or 13-digit form names the same product as its 14-digit form.
    """
    rest = rest.rstrip("/")  # a trailing slash is tolerated
    key = unquote(rest.split("/", 1)[0])
    try:
        gtin = gtins.parse_gtin(key)
    except gtins.GtinError as exc:
        raise BadAddress(str(exc)) from None
    unreadable = BadAddress(_("This is not a GS1 Digital Link address this resolver answers: after the "
                              "GTIN only /10/<lot> and /21/<serial> are understood."))  # fmt: skip
    try:
        uri = GS1DigitalLinkURI.parse(base_url.rstrip("/") + "/01/" + rest)
    except ParseError:
        raise unreadable from None
    values = {element.ai.ai: element.value for element in uri.element_strings}
    if set(values) - {"01", "10", "21"}:
        raise unreadable
    return Address(gtin=gtin, lot=values.get("10"), serial=values.get("21"))


def summary_for(session: Session, gtin: str, today: date) -> ProductSummary | None:
    """The product a GTIN-14 belongs to, with its certificates' status today; None when unknown."""
    product = gtins.product_of(session, gtin)
    if product is None or product.id is None:
        return None
    found = load_summaries(session, [product.id], today=today)
    return found[0] if found else None


def certification_links(summary: ProductSummary, base_url: str) -> list[dict[str, Any]]:
    """One ``certificationInfo`` link per certificate valid today: its never-changing verification page."""
    links = []
    for view in summary.certificates:
        href = verify_url(base_url, view.cert.verify_code)
        if view.status is not CertificateStatus.VALID or href is None:
            continue
        title = f"{view.level.label} {view.year}"
        if view.cert.number:
            title += f" — {view.cert.number}"
        links.append({"href": href, "title": title, "type": "text/html"})
    return links


def linkset(address: Address, summary: ProductSummary, *, base_url: str, page_url: str) -> dict[str, Any]:
    """The RFC 9264 linkset of a product: its page (each language), its valid certificates, the default."""
    name = summary.product.name
    pages = [
        {"href": f"{page_url}?lang={lang}", "title": name, "type": "text/html", "hreflang": [lang]}
        for lang in PAGE_LANGUAGES
    ]
    entry: dict[str, Any] = {
        "anchor": base_url.rstrip("/") + address.path(),
        "itemDescription": name,
        PIP: pages,
        DEFAULT_LINK: [{"href": page_url, "title": name, "type": "text/html"}],
    }
    certificates = certification_links(summary, base_url)
    if certificates:
        entry[CERTIFICATION_INFO] = certificates
    return {"linkset": [entry]}


def link_type(value: str | None) -> str | None:
    """A ``linkType`` as a full vocabulary URI (``gs1:pip`` → ``https://gs1.org/voc/pip``), or as given."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("gs1:"):
        return GS1_VOC + value[4:]
    if value.startswith("https://ref.gs1.org/voc/") or value.startswith("http://gs1.org/voc/"):
        return GS1_VOC + value.rsplit("/", 1)[1]
    return value


def description(base_url: str) -> dict[str, Any]:
    """The resolver's description (``/.well-known/gs1resolver``, GS1-Conformant Resolver Standard §3)."""
    return {
        "name": _("Registry of outstanding rural industrial products of Vietnam — GS1 Digital Link resolver"),
        "resolverRoot": base_url.rstrip("/"),
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypes": [
            {"linkType": "gs1:pip", "title": _("The product's page in the registry")},
            {
                "linkType": "gs1:certificationInfo",
                "title": _("The verification page of each valid certificate"),
            },
            {"linkType": "gs1:defaultLink", "title": _("The product's page (the default answer)")},
        ],
        "linkTypeDefaultCanBeLinkset": False,
        "linkTypeDefaultCanBeAll": False,
        "jsonLdContextLocation": LINKSET_CONTEXT,
    }
