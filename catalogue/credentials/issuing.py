"""Signed credentials: a certificate's W3C VC 2.0 credential and the revocation lists, as ``vc+jwt``.

Both are compact JWS (EdDSA, the key's ``kid`` in the header) whose payload is the
credential itself, as the W3C VC-JOSE-COSE Recommendation secures a credential with JOSE.
A certificate's credential says only what the registry holds: ``validUntil`` only when
the decision states an expiry (an expiry the registry assumes by policy is named as such
inside the subject), and a ``BitstringStatusListEntry`` pointing at the list that
revokes it (:mod:`catalogue.credentials.status_list`). Ed25519 signatures are
deterministic, so an unchanged certificate gives the same bytes on every request.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from joserfc import jws
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jws import JWSRegistry
from sqlalchemy import Connection

from catalogue.clock import VIETNAM, aware, today, utcnow
from catalogue.credentials import keys
from catalogue.credentials.context import CREDENTIAL_TYPE
from catalogue.credentials.context import PATH as CONTEXT_PATH
from catalogue.credentials.status_list import Entry, current_entry, encode, revoked_positions
from catalogue.places.services import MINISTRY_OFFICE
from catalogue.registry.catalog import verify_url
from catalogue.registry.status import Policy
from catalogue.verification.services import CertificateCheck
from catalogue.web import public_url

MEDIA_TYPE = "application/vc+jwt"
CONTEXT = "https://www.w3.org/ns/credentials/v2"


class _EdDSA(EdDSAAlgorithm):
    # joserfc warns that RFC 9864 renames EdDSA-with-Ed25519 "Ed25519"; the signature is the same,
    # and VC-JOSE-COSE verifiers in use today expect "EdDSA".
    security_warning = ""


class _Registry(JWSRegistry):
    algorithms = {**JWSRegistry.algorithms, keys.ALGORITHM: _EdDSA()}
    max_payload_length = 2 * 1024 * 1024  # a revocation list of millions of entries still reads


#: Only EdDSA is accepted when reading, whatever a token's header claims.
REGISTRY = _Registry(algorithms=[keys.ALGORITHM])
_NAMESPACE = uuid.UUID("5b0bb4a6-2a43-4f5e-9c1e-6f8f0c6b1c52")


def issuer() -> dict[str, str]:
    return {"id": public_url("public.home"), "name": MINISTRY_OFFICE}


def sign(payload: dict[str, Any], ring: keys.KeyRing) -> str:
    """The compact JWS of ``payload`` (compact JSON, UTF-8) under the current key."""
    header = {"alg": keys.ALGORITHM, "kid": ring.kid, "typ": "vc+jwt", "cty": "vc"}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return jws.serialize_compact(header, body, ring.current, registry=REGISTRY)


def status_list_url(number: int) -> str:
    return public_url("api.status_list", number=number)


def certificate_credential(conn: Connection, check: CertificateCheck, policy: Policy) -> str:
    """The signed credential of the certificate as the registry holds it now."""
    entry = current_entry(conn, check.id)
    return sign(certificate_payload(check, entry, policy), keys.load(current_app.config))


def certificate_payload(check: CertificateCheck, entry: Entry, policy: Policy) -> dict[str, Any]:
    base = str(current_app.config["PUBLIC_BASE_URL"])
    standing = check.standing(today(), policy)
    certification: dict[str, Any] = {
        "type": "Certification",
        "certificateNumber": check.number,
        "level": check.level,
        "region": check.region,
        "round": {"id": public_url("public.round_", slug=check.round_slug), "year": check.year,
                  "edition": check.edition},
        "issuedOn": _day(check.issued_on),
        "decision": {"number": check.decision_number, "date": _day(check.decision_date),
                     "issuingAuthority": check.issuing_authority},
        "office": check.office,
        "verificationPage": verify_url(base, check.code),
    }  # fmt: skip
    if check.expires_on is not None:
        certification["expiryBasis"] = "decision"
    else:  # the registry's assumption, named as one: a decision stating no expiry is not a claim
        certification.update(expiryBasis="policy", assumedValidThrough=_day(standing.expires_on))
    subject: dict[str, Any] = {
        "id": public_url("public.product", slug=check.product_slug),
        "type": "Product",
        "name": check.product_name,
        "locality": check.locality,
        "province": {"asPrinted": check.province_printed, "current": check.current_province_name},
        "certification": _present(certification),
    }
    if check.producer_name:
        producer = {"name": check.producer_name}
        if check.producer_slug:
            producer = {"id": public_url("public.producer", slug=check.producer_slug), **producer}
        subject["producer"] = producer
    credential: dict[str, Any] = {
        "@context": [CONTEXT, base.rstrip("/") + CONTEXT_PATH],
        "id": uuid.uuid5(_NAMESPACE, f"{base}|certificate|{check.id}|{entry.index}").urn,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer(),
        "validFrom": _moment(check.issued_on or check.decision_date, check.created_at),
    }
    if check.expires_on is not None:  # the decision's last valid day, to its end in Vietnam
        credential["validUntil"] = _start_of(check.expires_on + timedelta(days=1))
    credential["credentialSubject"] = _present(subject)
    credential["credentialStatus"] = {
        "id": f"{status_list_url(entry.list_number)}#{entry.index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(entry.position),
        "statusListCredential": status_list_url(entry.list_number),
    }
    return credential


def status_list_credential(conn: Connection, number: int, ttl_seconds: int) -> str:
    """The signed revocation list ``number``; the same bits sign to the same bytes."""
    state = revoked_positions(conn, number)
    url = status_list_url(number)
    payload: dict[str, Any] = {
        "@context": [CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer(),
    }
    if state.changed_at is not None:  # valid from its latest revocation: a copy of an older list is not
        payload["validFrom"] = state.changed_at.replace(microsecond=0).isoformat()
    payload["credentialSubject"] = {
        "id": f"{url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": encode(state.positions),
        "ttl": ttl_seconds * 1000,  # milliseconds, as the spec counts
    }
    return sign(payload, keys.load(current_app.config))


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _start_of(day: date) -> str:
    return datetime.combine(day, time(0), VIETNAM).isoformat()


def _moment(day: date | None, recorded: datetime | None) -> str:
    """The certificate's first day, or when the registry recorded it when no date is known."""
    if day is not None:
        return _start_of(day)
    return aware(recorded or utcnow()).replace(microsecond=0).isoformat()


def _present(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` without unknown facts: a credential leaves out what it cannot state."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            value = _present(value)
        if value not in (None, {}, ""):
            out[key] = value
    return out
