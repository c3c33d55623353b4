"""Open-data portals harvest the downloads (issue 17, deliverable 4): ``/data.json`` carries
every field DCAT-US 1.1 (Project Open Data's schema v1.1) requires of a non-federal publisher,
and ``/data/catalog.jsonld`` describes each download in DCAT-AP with licence, publisher,
contact, spatial and temporal coverage and update frequency."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, func, select

from catalogue.db import get_engine
from catalogue.opendata import dumps, manifest
from catalogue.registry.models import Certificate, SelectionRound

BASE = "http://registry.test"
POD = "https://project-open-data.cio.gov/v1.1/schema"
#: Patterns of schema v1.1 (dataset.json, distribution.json, vcard.json).
FREQUENCY = re.compile(r"^R\d*\/P(?=\w*\d)(?:\d+Y|Y)?(?:\d+M|M)?(?:\d+W|W)?(?:\d+D|D)?"
                       r"(?:T(?:\d+H|H)?(?:\d+M|M)?(?:\d+(?:\.\d{1,2})?S|S)?)?$")  # fmt: skip
MEDIA_TYPE = re.compile(r"^[-\w]+/[-\w]+(\.[-\w]+)*([+][-\w]+)?$")
EMAIL = re.compile(r"^mailto:[\w\_\~\!\$\&\'\(\)\*\+\,\;\=\:.-]+@[\w.-]+\.[\w.-]+?$")
#: Every field schema v1.1 requires of a dataset; bureauCode and programCode are US federal
#: budget codes ("federal agencies only") and do not apply to a Vietnamese publisher.
REQUIRED = ("title", "description", "keyword", "modified", "publisher", "contactPoint", "identifier",
            "accessLevel")  # fmt: skip
#: Required where applicable, and applicable to these downloads.
APPLICABLE = ("license", "spatial", "temporal", "accrualPeriodicity", "distribution", "landingPage")


def _json(client: FlaskClient, path: str, mimetype: str) -> dict[str, Any]:
    answer = client.get(path)
    assert answer.status_code == 200 and answer.mimetype == mimetype, path
    data: dict[str, Any] = json.loads(answer.data)
    return data


def _years(app: Flask) -> tuple[int, int]:
    with app.app_context(), Session(get_engine()) as s:
        held = col(SelectionRound.id).in_(select(Certificate.round_id))
        low, high = s.exec(
            select(func.min(SelectionRound.year), func.max(SelectionRound.year)).where(held)
        ).one()
    return int(low), int(high)


def test_data_json_carries_every_field_dcat_us_requires(seeded_app: Flask) -> None:
    catalog = _json(seeded_app.test_client(), "/data.json", "application/json")
    assert catalog["@type"] == "dcat:Catalog"
    assert catalog["conformsTo"] == POD
    assert catalog["describedBy"] == f"{POD}/catalog.json"
    assert catalog["@context"] == f"{POD}/catalog.jsonld"
    datasets = catalog["dataset"]
    assert datasets and len({d["identifier"] for d in datasets}) == len(datasets)
    low, high = _years(seeded_app)
    for d in datasets:
        missing = [f for f in (*REQUIRED, *APPLICABLE) if d.get(f) in (None, "", [])]
        assert not missing, (d["identifier"], missing)
        assert d["@type"] == "dcat:Dataset"
        assert all(isinstance(k, str) and k for k in d["keyword"])
        assert d["accessLevel"] == "public"
        assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$", d["modified"])
        assert d["publisher"]["@type"] == "org:Organization" and d["publisher"]["name"]
        assert d["contactPoint"]["@type"] == "vcard:Contact" and d["contactPoint"]["fn"]
        assert EMAIL.match(d["contactPoint"]["hasEmail"]), d["contactPoint"]
        assert d["license"] == "https://creativecommons.org/licenses/by/4.0/"
        assert FREQUENCY.match(d["accrualPeriodicity"])
        assert d["temporal"] == f"{low}-01-01/{high}-12-31"
        assert d["spatial"] == "Viet Nam"
        for file in d["distribution"]:
            assert file["@type"] == "dcat:Distribution"
            assert file["downloadURL"].startswith(f"{BASE}/data/")
            assert MEDIA_TYPE.match(file["mediaType"]) and file["format"] and file["title"]
    names = {f["downloadURL"].rsplit("/", 1)[1] for d in datasets for f in d["distribution"]}
    assert {"certificates.csv", "certificates.jsonl.gz", "registry.xlsx", "producers.csv"} <= names


def test_the_catalogue_follows_the_live_downloads(seeded_app: Flask, clock: Any) -> None:
    client = seeded_app.test_client()
    live = dumps.build(seeded_app)
    assert manifest.load(seeded_app) is not None
    catalog = _json(client, "/data.json", "application/json")
    listed = {f["downloadURL"]: f["mediaType"] for d in catalog["dataset"] for f in d["distribution"]}
    assert listed == {f"{BASE}/data/{f.name}": f.media_type for f in live.files}
    # ``modified`` is when the data last changed: files written again later leave it as it was.
    modified = {d["modified"] for d in catalog["dataset"]}
    assert len(modified) == 1 and datetime.fromisoformat(modified.pop()) <= live.generated_at
    clock.shift(timedelta(hours=2))
    dumps.build(seeded_app)
    again = _json(client, "/data.json", "application/json")
    assert [d["modified"] for d in again["dataset"]] == [d["modified"] for d in catalog["dataset"]]
    # Each described file downloads.
    for url in listed:
        assert client.get(url.removeprefix(BASE)).status_code == 200, url

    ld = _json(client, "/data/catalog.jsonld", "application/ld+json")
    files = {f.name: f for f in live.files}
    for d in ld["dcat:dataset"]:
        for dist in d["dcat:distribution"]:
            f = files[dist["dcat:downloadURL"]["@id"].rsplit("/", 1)[1]]
            assert dist["spdx:checksum"]["spdx:checksumValue"]["@value"] == f.sha256
            assert dist["dcat:byteSize"]["@value"] == str(f.bytes)


def test_catalog_jsonld_describes_each_download_in_dcat_ap(seeded_app: Flask) -> None:
    ld = _json(seeded_app.test_client(), "/data/catalog.jsonld", "application/ld+json")
    assert ld["@type"] == "dcat:Catalog" and ld["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert {t["@language"] for t in ld["dct:title"]} == {"vi", "en"}
    assert ld["dct:publisher"]["foaf:name"] == "Cục Công Thương địa phương"
    low, high = _years(seeded_app)
    assert ld["dcat:dataset"]
    for d in ld["dcat:dataset"]:
        assert d["@type"] == "dcat:Dataset" and d["dct:identifier"]
        assert {t["@language"] for t in d["dct:title"]} == {"vi", "en"}
        assert d["dct:publisher"]["@id"] == ld["dct:publisher"]["@id"]
        assert d["dcat:contactPoint"]["vcard:hasEmail"]["@id"].startswith("mailto:")
        assert d["dct:spatial"]["@id"].endswith("/country/VNM")
        assert d["dct:accrualPeriodicity"]["@id"].endswith("/frequency/CONT")
        assert d["dct:temporal"]["dcat:startDate"]["@value"] == f"{low}-01-01"
        assert d["dct:temporal"]["dcat:endDate"]["@value"] == f"{high}-12-31"
        assert d["dcat:distribution"]
        for dist in d["dcat:distribution"]:
            assert dist["@type"] == "dcat:Distribution"
            assert dist["dcat:downloadURL"]["@id"].startswith(f"{BASE}/data/")
            assert dist["dct:license"]["@id"] == "https://creativecommons.org/licenses/by/4.0/"
            iana = "http://www.iana.org/assignments/media-types/"
            if dist["dcat:downloadURL"]["@id"].endswith(".gz"):  # the packing, not the content's type
                assert dist["dcat:compressFormat"]["@id"] == iana + "application/gzip"
                assert "dcat:mediaType" not in dist
            else:
                assert dist["dcat:mediaType"]["@id"].startswith(iana)


def test_a_configured_contact_and_licence_are_used(make_app: Any) -> None:
    app = make_app(seeded=True)
    app.config.update(OPENDATA_CONTACT_EMAIL="dulieu@moit.gov.vn",
                      OPENDATA_LICENCE_URL="https://creativecommons.org/publicdomain/zero/1.0/")  # fmt: skip
    catalog = _json(app.test_client(), "/data.json?lang=en", "application/json")
    for d in catalog["dataset"]:
        assert d["contactPoint"]["hasEmail"] == "mailto:dulieu@moit.gov.vn"
        assert d["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert catalog["dataset"][0]["title"] == "Certificates"
