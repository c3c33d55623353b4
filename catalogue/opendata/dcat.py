"""The bulk downloads described for open-data portals: a DCAT-AP catalogue (JSON-LD) and the
same in the DCAT-US 1.1 shape (``/data.json``, Project Open Data) that portals harvest.

Each dataset of the downloads (certificates, producers, rounds, fairs, provinces, the data
dictionary, and the whole-registry workbook) is one ``dcat:Dataset`` whose distributions are
its files. The files come from the live generation's manifest (:mod:`.manifest`); before the
first generation exists the datasets are described with their fixed addresses under ``/data/``.

Publisher and contact: the ministry's office that runs the registry. Coverage: Viet Nam, from
the earliest to the latest year of selection held. Updates: continuous (a change is in the
files within ten minutes). Only DCAT-US's federal-only fields (``bureauCode``, ``programCode``:
US budget codes) are left out; they do not apply to a Vietnamese publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlmodel import Session, col, func, select

from catalogue.audit.models import AuditEntry
from catalogue.clock import aware, utcnow
from catalogue.i18n import LOCALES
from catalogue.opendata import manifest
from catalogue.opendata.dictionary import DATASETS, dataset
from catalogue.opendata.dumps import FILED_ENTITIES
from catalogue.registry.models import Certificate, Producer, Product, SelectionRound

DEFAULT_LICENCE = "https://creativecommons.org/licenses/by/4.0/"
OFFICE = "Cục Công Thương địa phương"
MINISTRY = "Bộ Công Thương"
WORKBOOK = "registry.xlsx"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Continuously updated: DCAT-US takes an ISO 8601 repeating duration (Project Open Data's
#: value for "continuously updated"), DCAT-AP the EU frequency vocabulary's CONT.
US_FREQUENCY = "R/PT1S"
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/CONT"
EU_COUNTRY = "http://publications.europa.eu/resource/authority/country/VNM"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/VIE"
EU_FILE_TYPES = {"CSV": "CSV", "XLSX": "XLSX", "JSONL": "JSON"}
KEYWORDS = ("sản phẩm công nghiệp nông thôn tiêu biểu", "CNNT", "rural industrial products", "certification",
            "Viet Nam")  # fmt: skip
POD_SCHEMA = "https://project-open-data.cio.gov/v1.1/schema"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "spdx": "http://spdx.org/rdf/terms#",
}


@dataclass(frozen=True)
class Download:
    """One file under ``/data/``; size and checksum only when a generation holds it."""

    name: str
    dataset: str
    format: str
    media_type: str
    bytes: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Facts:
    """What every dataset shares, worked out once per answer."""

    base: str
    licence: str
    email: str
    modified: datetime
    years: tuple[int, int] | None
    downloads: list[Download]

    def url(self, path: str) -> str:
        return self.base + path

    def groups(self) -> list[tuple[str, list[Download]]]:
        """The downloads by dataset, in the dictionary's order, the workbook last."""
        order = [d.name for d in DATASETS] + ["registry"]
        rank = {name: i for i, name in enumerate(order)}
        names = sorted({d.dataset for d in self.downloads}, key=lambda n: (rank.get(n, len(order)), n))
        return [(n, [d for d in self.downloads if d.dataset == n]) for n in names]


#: DCAT-AP names media types by IANA's register (its ``http`` addresses).
IANA = "http://www.iana.org/assignments/media-types/"


def _fixed_downloads() -> list[Download]:
    """The files every generation writes, for the time before the first one exists."""
    files = []
    for d in DATASETS:
        files.append(Download(f"{d.name}.csv", d.name, "CSV", "text/csv"))
        files.append(Download(f"{d.name}.jsonl.gz", d.name, "JSONL", "application/gzip"))
    files.append(Download(WORKBOOK, "registry", "XLSX", XLSX_TYPE))
    return files


def _contact_email(app: Flask) -> str:
    """The contact address: ``OPENDATA_CONTACT_EMAIL``, else the mail sender, else opendata@ its host."""
    configured = str(app.config.get("OPENDATA_CONTACT_EMAIL") or "").strip()
    sender = parseaddr(str(app.config.get("SMTP_FROM") or ""))[1]
    host = urlsplit(str(app.config["PUBLIC_BASE_URL"])).hostname or "localhost"
    return configured or sender or f"opendata@{host}"


def facts(app: Flask, session: Session) -> Facts:
    live = manifest.load(app)
    if live is not None:
        downloads = [
            Download(f.name, f.dataset, f.format, f.media_type, f.bytes, f.sha256) for f in live.files
        ]
    else:
        downloads = _fixed_downloads()
    # When the data last changed, not when the files were last written (they are, daily, for the
    # statuses as of that day): a harvester re-reads only what changed.
    filed = col(AuditEntry.entity_type).in_(FILED_ENTITIES)
    changed = [session.exec(select(func.max(m.updated_at))).one() for m in (Product, Certificate, Producer)]
    changed.append(session.exec(select(func.max(AuditEntry.at)).where(filed)).one())
    modified = max((aware(c) for c in changed if c is not None), default=utcnow())
    low, high = session.exec(
        select(func.min(SelectionRound.year), func.max(SelectionRound.year))
        .where(col(SelectionRound.id).in_(select(Certificate.round_id)))
    ).one()  # fmt: skip
    return Facts(
        base=str(app.config["PUBLIC_BASE_URL"]).rstrip("/"),
        licence=str(app.config.get("OPENDATA_LICENCE_URL") or DEFAULT_LICENCE),
        email=_contact_email(app),
        modified=modified,
        years=(int(low), int(high)) if low is not None and high is not None else None,
        downloads=downloads,
    )


def _title(name: str) -> str:
    found = dataset(name)
    if found is not None:
        return str(found.title)
    return _("The whole registry (workbook)") if name == "registry" else name


def _description(name: str) -> str:
    found = dataset(name)
    if found is not None:
        return str(found.description)
    if name == "registry":
        return _("Every dataset in one XLSX workbook, one sheet each.")
    return name


def _catalogue_title() -> str:
    return _("Registry of outstanding rural industrial products")


def _catalogue_description() -> str:
    return _(
        "Open data of the registry of outstanding rural industrial products "
        "(sản phẩm công nghiệp nông thôn tiêu biểu) of Viet Nam."
    )


def _file_title(d: Download) -> str:
    return _("%(dataset)s (%(format)s)", dataset=_title(d.dataset), format=d.format)


def _when(moment: datetime) -> str:
    return aware(moment).isoformat(timespec="seconds")


def _identifier(f: Facts, name: str) -> str:
    return f.url(f"/data/#{name}")


def _landing(f: Facts) -> str:
    return f.url("/data/")


def _download_url(f: Facts, d: Download) -> str:
    return f.url(f"/data/{d.name}")


# ----------------------------------------------------------------------------- DCAT-US 1.1


def data_json(f: Facts) -> dict[str, Any]:
    """The catalogue in Project Open Data's schema v1.1 (``/data.json``)."""
    publisher = {"@type": "org:Organization", "name": OFFICE,
                 "subOrganizationOf": {"@type": "org:Organization", "name": MINISTRY}}  # fmt: skip
    contact = {"@type": "vcard:Contact", "fn": OFFICE, "hasEmail": f"mailto:{f.email}"}
    datasets = []
    for name, files in f.groups():
        entry: dict[str, Any] = {
            "@type": "dcat:Dataset",
            "identifier": _identifier(f, name),
            "title": _title(name),
            "description": _description(name),
            "keyword": [*KEYWORDS, name],
            "modified": _when(f.modified),
            "publisher": publisher,
            "contactPoint": contact,
            "accessLevel": "public",
            "license": f.licence,
            "spatial": "Viet Nam",
            "accrualPeriodicity": US_FREQUENCY,
            "language": ["vi"],
            "landingPage": _landing(f),
            "distribution": [
                {
                    "@type": "dcat:Distribution",
                    "downloadURL": _download_url(f, d),
                    "mediaType": d.media_type,
                    "format": d.format,
                    "title": _file_title(d),
                }
                for d in files
            ],  # fmt: skip
        }
        if f.years:
            entry["temporal"] = f"{f.years[0]}-01-01/{f.years[1]}-12-31"
        dictionary = next((d for d in f.downloads if d.name == "dictionary.csv"), None)
        if dictionary is not None and name != "dictionary":
            entry["describedBy"] = _download_url(f, dictionary)
            entry["describedByType"] = dictionary.media_type
        datasets.append(entry)
    return {
        "@context": f"{POD_SCHEMA}/catalog.jsonld",
        "@id": f.url("/data.json"),
        "@type": "dcat:Catalog",
        "conformsTo": POD_SCHEMA,
        "describedBy": f"{POD_SCHEMA}/catalog.json",
        "dataset": datasets,
    }


# ----------------------------------------------------------------------------- DCAT-AP


def _both(text: Callable[..., str], *args: Any) -> list[dict[str, str]]:
    """``text(*args)`` in every language of the site, as language-tagged literals."""
    out = []
    for code in LOCALES:
        with force_locale(code):
            out.append({"@language": code, "@value": text(*args)})
    return out


def _typed(value: str, kind: str) -> dict[str, str]:
    return {"@value": value, "@type": f"xsd:{kind}"}


def _distribution(f: Facts, d: Download) -> dict[str, Any]:
    url = _download_url(f, d)
    out: dict[str, Any] = {
        "@id": url,
        "@type": "dcat:Distribution",
        "dct:title": _both(_file_title, d),
        "dcat:accessURL": {"@id": _landing(f)},
        "dcat:downloadURL": {"@id": url},
        "dct:format": {
            "@id": "http://publications.europa.eu/resource/authority/file-type/"
            + EU_FILE_TYPES.get(d.format, d.format)
        },  # fmt: skip
        "dct:license": {"@id": f.licence},
        "dct:modified": _typed(_when(f.modified), "dateTime"),
    }
    if d.name.endswith(".gz"):
        # DCAT: the type of what is inside (JSON Lines has no IANA type), and how it is packed.
        out["dcat:compressFormat"] = {"@id": IANA + "application/gzip"}
    else:
        out["dcat:mediaType"] = {"@id": IANA + d.media_type}
    if d.bytes is not None:
        out["dcat:byteSize"] = _typed(str(d.bytes), "nonNegativeInteger")
    if d.sha256:
        out["spdx:checksum"] = {"@type": "spdx:Checksum",
                                "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                                "spdx:checksumValue": _typed(d.sha256, "hexBinary")}  # fmt: skip
    return out


def catalog_jsonld(f: Facts) -> dict[str, Any]:
    """The catalogue in DCAT-AP, as JSON-LD (``/data/catalog.jsonld``)."""
    publisher = {"@id": f.url("/#publisher"), "@type": "foaf:Organization", "foaf:name": OFFICE,
                 "foaf:homepage": {"@id": f.url("/")}}  # fmt: skip
    contact = {
        "@type": "vcard:Organization",
        "vcard:fn": OFFICE,
        "vcard:hasEmail": {"@id": f"mailto:{f.email}"},
    }
    datasets = []
    for name, files in f.groups():
        entry: dict[str, Any] = {
            "@id": _identifier(f, name),
            "@type": "dcat:Dataset",
            "dct:identifier": _identifier(f, name),
            "dct:title": _both(_title, name),
            "dct:description": _both(_description, name),
            "dcat:keyword": [*KEYWORDS, name],
            "dct:publisher": {"@id": publisher["@id"]},
            "dcat:contactPoint": contact,
            "dct:license": {"@id": f.licence},
            "dct:spatial": {"@id": EU_COUNTRY},
            "dct:accrualPeriodicity": {"@id": EU_FREQUENCY},
            "dct:language": {"@id": EU_LANGUAGE},
            "dct:modified": _typed(_when(f.modified), "dateTime"),
            "dcat:landingPage": {"@id": _landing(f)},
            "dcat:distribution": [_distribution(f, d) for d in files],
        }
        if f.years:
            entry["dct:temporal"] = {"@type": "dct:PeriodOfTime",
                                     "dcat:startDate": _typed(f"{f.years[0]}-01-01", "date"),
                                     "dcat:endDate": _typed(f"{f.years[1]}-12-31", "date")}  # fmt: skip
        datasets.append(entry)
    return {
        "@context": CONTEXT,
        "@id": f.url("/data/catalog.jsonld"),
        "@type": "dcat:Catalog",
        "dct:title": _both(_catalogue_title),
        "dct:description": _both(_catalogue_description),
        "dct:publisher": publisher,
        "foaf:homepage": {"@id": f.url("/")},
        "dct:language": {"@id": EU_LANGUAGE},
        "dct:license": {"@id": f.licence},
        "dct:modified": _typed(_when(f.modified), "dateTime"),
        "dcat:dataset": datasets,
    }  # fmt: skip
