"""Checking a saved credential without the network: signature, validity window, revocation list.

What a third party does (README, "Checking a credential offline"), written once and used by
``flask credential verify`` and the tests: verify the JWS with a published key (by its
``kid``, EdDSA only), read the credential, compare ``validFrom``/``validUntil`` with the
moment, verify the revocation list with the same keys, check that it is the list the
credential names, and read the credential's bit. An expiry the registry only assumes
(``expiryBasis: policy``) is reported as such, never as the decision's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from catalogue.clock import VIETNAM, aware
from catalogue.credentials.issuing import CONTEXT, REGISTRY
from catalogue.credentials.status_list import LIST_SIZE, decode, is_set

VALID, REVOKED, EXPIRED, NOT_YET_VALID, INVALID = "valid", "revoked", "expired", "not yet valid", "invalid"
#: Valid as far as it was checked, but its revocation list was not: never taken for "valid".
UNCHECKED = "revocation not checked"


@dataclass
class Report:
    """The verdict on one credential, with the reasons a person can read."""

    verdict: str = INVALID
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    kid: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == VALID


class Unreadable(ValueError):
    """A token that is not a credential signed by one of the keys."""


def read(token: str, key_set: KeySet, media: str = "credential") -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a ``vc+jwt`` signed by a key of ``key_set``; :class:`Unreadable` if not."""
    token = token.strip()
    try:
        obj = jws.deserialize_compact(token, key_set, registry=REGISTRY)
    except JoseError as exc:
        if exc.error == "invalid_key_id":  # most often a copy of the key set older than a rotation
            raise Unreadable(f"the {media} is signed with key {_kid(token)}, which the given key set lacks: "
                             "fetch the issuer's key set again") from None  # fmt: skip
        raise Unreadable(
            f"the {media}'s signature does not verify with the given keys ({exc.error})"
        ) from None
    except (ValueError, TypeError, KeyError):
        raise Unreadable(f"the {media} is not a compact JWS") from None
    header = dict(obj.headers())
    if header.get("typ") != "vc+jwt":
        raise Unreadable(f"the {media} is not a vc+jwt (typ {header.get('typ')!r})")
    try:
        payload = json.loads(obj.payload)
    except ValueError:
        raise Unreadable(f"the {media}'s payload is not JSON") from None
    context = payload.get("@context") if isinstance(payload, dict) else None
    types = payload.get("type") if isinstance(payload, dict) else None
    if not isinstance(context, list) or not context or context[0] != CONTEXT:
        raise Unreadable(f"the {media} is not a W3C Verifiable Credential 2.0")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise Unreadable(f"the {media} is not a W3C Verifiable Credential 2.0")
    return header, payload


def _kid(token: str) -> str:
    try:
        return repr(jws.extract_compact(token.encode()).headers().get("kid"))
    except (JoseError, ValueError, TypeError):
        return "(unreadable)"


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: a field of the wrong shape tells nothing."""
    return value if isinstance(value, dict) else {}


def check(token: str, key_set: KeySet, status_list: str | None, now: datetime, *,
          revocation_required: bool = True) -> Report:  # fmt: skip
    """The verdict on ``token`` at ``now``; ``status_list`` is the saved list credential, if any.

    Without a list the verdict is :data:`UNCHECKED`, unless the caller says revocation does not
    matter to it (``revocation_required=False``): a check that skipped a step must not read as valid.
    """
    report = Report()
    try:
        header, credential = read(token, key_set)
    except Unreadable as exc:
        report.problems.append(str(exc))
        return report
    report.kid, report.credential = header.get("kid"), credential
    verdict = _window(credential, aware(now), report)
    revoked = _revocation(credential, status_list, key_set, report)
    if revoked is None and status_list is not None:
        report.verdict = INVALID
    elif revoked:
        report.verdict = REVOKED
    elif revoked is None and revocation_required and verdict == VALID:
        report.verdict = UNCHECKED
    else:
        report.verdict = verdict
    return report


def _window(credential: dict[str, Any], now: datetime, report: Report) -> str:
    start, end = _instant(credential.get("validFrom")), _instant(credential.get("validUntil"))
    for name, moment in (("validFrom", start), ("validUntil", end)):
        if name in credential and moment is None:  # a window that cannot be read is not an open one
            report.problems.append(f"{name} {credential[name]!r} is not a date-time")
            return INVALID
    if start is not None and now < start:
        report.notes.append(f"valid from {credential['validFrom']}")
        return NOT_YET_VALID
    if end is not None and now >= end:
        report.notes.append(f"the decision's expiry has passed (valid until {credential['validUntil']})")
        return EXPIRED
    certification = obj(obj(credential.get("credentialSubject")).get("certification"))
    assumed = _day(certification.get("assumedValidThrough"))
    if certification.get("expiryBasis") == "policy" and assumed:
        lapsed = now.astimezone(VIETNAM).date() > assumed
        report.notes.append(
            f"the decision states no expiry; the registry assumes validity through {assumed} by policy"
            + (" — that day has passed" if lapsed else "")
        )
        if lapsed:
            return EXPIRED
    return VALID


def _revocation(
    credential: dict[str, Any], status_list: str | None, keys: KeySet, report: Report
) -> bool | None:
    """True/False from the list's bit; None when it cannot be told (reasons in the report)."""
    entries = credential.get("credentialStatus") or []
    entries = entries if isinstance(entries, list) else [entries]
    entry = next((e for e in entries if isinstance(e, dict) and e.get("statusPurpose") == "revocation"), None)
    if entry is None:
        report.notes.append("the credential names no revocation list")
        return False
    if status_list is None:
        report.notes.append(f"revocation not checked: no copy of {entry.get('statusListCredential')} given")
        return None
    try:
        _header, listed = read(status_list, keys, "revocation list")
    except Unreadable as exc:
        report.problems.append(str(exc))
        return None
    subject = obj(listed.get("credentialSubject"))
    if listed.get("id") != entry.get("statusListCredential"):
        report.problems.append(f"the revocation list given is {listed.get('id')}, not the credential's "
                               f"{entry.get('statusListCredential')}")  # fmt: skip
        return None
    if issuer_of(listed) != issuer_of(credential):
        report.problems.append(f"the revocation list is {issuer_of(listed)}'s, not the issuer's")
        return None
    if "BitstringStatusListCredential" not in (listed.get("type") or []) or subject.get("statusPurpose") != (
        "revocation"
    ):
        report.problems.append("the revocation list is not a BitstringStatusListCredential for revocation")
        return None
    try:
        bits = decode(str(subject.get("encodedList") or ""))
        if len(bits) * 8 < LIST_SIZE:  # the spec's STATUS_LIST_LENGTH_ERROR: too short to hide in
            raise ValueError(f"it has {len(bits) * 8} entries, fewer than {LIST_SIZE}")
        index = str(entry.get("statusListIndex", ""))
        if not index.isascii() or not index.isdigit():
            raise ValueError(f"statusListIndex {index!r} is not a number")
        revoked = is_set(bits, int(index))
    except ValueError as exc:
        report.problems.append(f"the revocation list cannot be read: {exc}")
        return None
    if listed.get("validFrom"):
        report.notes.append(f"the revocation list's latest revocation was recorded at {listed['validFrom']}; "
                            "refresh your copy within its ttl")  # fmt: skip
    report.notes.append("revoked on the list" if revoked else "not revoked on the list")
    return revoked


def issuer_of(credential: dict[str, Any]) -> Any:
    """The issuer's id: VC 2.0 writes it as a URL or as an object with an ``id``."""
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        return None
