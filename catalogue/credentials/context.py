"""The JSON-LD context of the registry's credentials, served at ``/credentials/v1``.

The W3C base context defines the credential's frame; the terms inside the subject
(``certification``, ``province``…) are the registry's, defined here so a JSON-LD
processor reads them as schema.org terms or as this registry's own vocabulary instead
of the base context's catch-all "issuer-dependent" one.
"""

from __future__ import annotations

from typing import Any

PATH = "/credentials/v1"
CREDENTIAL_TYPE = "RuralIndustrialProductCertificate"


def document(base_url: str) -> dict[str, Any]:
    own = f"{base_url.rstrip('/')}{PATH}#"
    date = {"@type": "http://www.w3.org/2001/XMLSchema#date"}
    link = {"@type": "@id"}
    terms: dict[str, Any] = {
        CREDENTIAL_TYPE: own + CREDENTIAL_TYPE,
        "Product": "https://schema.org/Product",
        "Certification": "https://schema.org/Certification",
        "producer": {"@id": "https://schema.org/manufacturer"},
        "locality": own + "locality",
        "province": own + "province",
        "asPrinted": own + "provinceAsPrinted",
        "current": own + "provinceCurrent",
        "certification": {"@id": "https://schema.org/hasCertification"},
        "certificateNumber": "https://schema.org/certificationIdentification",
        "level": own + "level",
        "region": own + "region",
        "round": {"@id": own + "selectionRound"},
        "year": own + "yearOfSelection",
        "edition": own + "edition",
        "issuedOn": {"@id": own + "issuedOn", **date},
        "decision": {"@id": own + "decision"},
        "number": own + "decisionNumber",
        "date": {"@id": own + "decisionDate", **date},
        "issuingAuthority": own + "issuingAuthority",
        "office": own + "publishingOffice",
        "verificationPage": {"@id": own + "verificationPage", **link},
        "expiryBasis": own + "expiryBasis",
        "assumedValidThrough": {"@id": own + "assumedValidThrough", **date},
    }
    return {"@context": {"@version": 1.1, **terms}}
