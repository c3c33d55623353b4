"""The API's signed answers: a certificate's credential, the revocation lists and the keys verifying them.

Routed on the API blueprint with their operations, so they are in the one contract; the
documents themselves are built and signed by :mod:`catalogue.credentials.issuing`.
Neither counts a check: fetching a credential is not a person scanning a package.
"""

from __future__ import annotations

import json

from flask import Response, current_app, request
from flask_babel import gettext as _

from catalogue.api import errors
from catalogue.api.answers import UnknownCode
from catalogue.api.errors import Error
from catalogue.api.spec import TOO_MANY, Operation, Reply
from catalogue.api.views import route
from catalogue.credentials import context, issuing, keys
from catalogue.credentials.status_list import LIST_SIZE, list_count
from catalogue.db import get_engine
from catalogue.registry.status import current_policy
from catalogue.verification import serials
from catalogue.verification.limits import verify_limit
from catalogue.verification.requests import canonical_code

_JWT = {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"}
_NO_KEY = Reply(503, "Busy (see `Retry-After`), or no signing key is configured here.", Error)

CREDENTIAL = Operation(
    "getCredential", "Signed credential (W3C VC 2.0)", "verification",
    path_params={"code": "The code from the QR."},
    description="Checkable without the registry: verify the JWS with the key its `kid` names in "
    "`/.well-known/jwks.json` (EdDSA), then read bit `statusListIndex` of the list `statusListCredential`. "
    "`validUntil` only when the decision states an expiry (an assumed one is `assumedValidThrough`). A "
    "reinstated certificate gets a new credential. Not counted as a check.",
    replies=(
        Reply(200, "The signed credential.", media_type=issuing.MEDIA_TYPE, schema=_JWT),
        Reply(404, "Unknown or tampered code.", UnknownCode),
        Reply(410, "A package's code whose label was withdrawn (a lost or stolen roll).", Error),
        TOO_MANY,
        _NO_KEY,
    ),
)  # fmt: skip


@route("/api/v1/verify/<code>/credential", CREDENTIAL)
@verify_limit
def credential(code: str) -> Response:
    canonical = canonical_code(code)
    if canonical is None:
        return _unknown()
    with get_engine().connect() as conn:
        label, check = serials.look_up_any(conn, canonical, current_app.config["VERIFY_KEYS"])
        if check is None:
            return _unknown()
        if label is not None and label.withdrawn is not None:  # a stolen roll must not carry a credential
            return _withdrawn()
        try:
            token = issuing.certificate_credential(conn, check, current_policy())
        except keys.KeysMissing:
            return _no_key()
    return _signed(token, "public, max-age=60")


STATUS_LIST = Operation(
    "getStatusList", "Revocation list (Bitstring Status List)", "verification",
    path_params={"number": "The list's number."},
    description=f"`encodedList`: GZIP bitstring of {LIST_SIZE:,} entries, multibase base64url; bit *i* set "
    "= the credential with `statusListIndex` *i* is revoked. Cache per `ttl` (ms) and `Cache-Control`.",
    replies=(
        Reply(200, "The signed revocation list.", media_type=issuing.MEDIA_TYPE, schema=_JWT),
        Reply(404, "No list has this number yet.", Error),
        _NO_KEY,
    ),
)  # fmt: skip


@route("/api/v1/status-lists/<int:number>", STATUS_LIST)
def status_list(number: int) -> Response:
    ttl = int(current_app.config["STATUS_LIST_TTL_SECONDS"])
    with get_engine().connect() as conn:
        if number >= list_count(conn):
            return errors.error_response(404, _("There is no revocation list with this number."))
        try:
            token = issuing.status_list_credential(conn, number, ttl)
        except keys.KeysMissing:
            return _no_key()
    return _signed(token, f"public, max-age={ttl}")


@route("/.well-known/jwks.json", None)
def jwks() -> Response:
    """Every key that ever signed a credential here (retired ones stay listed: old credentials verify)."""
    try:
        ring = keys.load(current_app.config)
    except keys.KeysMissing:
        return _no_key()
    # Short: after a rotation, verifiers meeting the new kid find it within minutes.
    return _public(json.dumps(ring.jwks()), "application/jwk-set+json", "public, max-age=300")


@route(context.PATH, None)
def credential_context() -> Response:
    """The terms the credentials use (JSON-LD); fixed, so cached for a day."""
    body = json.dumps(context.document(str(current_app.config["PUBLIC_BASE_URL"])), indent=1)
    return _public(body, "application/ld+json", "public, max-age=86400")


def _signed(token: str, cache: str) -> Response:
    """A signed document; the same state signs to the same bytes (Ed25519), so its ETag is theirs."""
    return _public(token, issuing.MEDIA_TYPE, cache)


def _public(body: str, mimetype: str, cache: str) -> Response:
    """``body`` cacheable by anyone, with an ETag of its bytes (the blueprint opens it to other sites)."""
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Cache-Control"] = cache
    response.add_etag()
    response.make_conditional(request)
    return response


def _unknown() -> Response:
    return errors.json_response(UnknownCode(status="unknown"), 404, {"Cache-Control": "no-store"})


def _withdrawn() -> Response:
    return errors.error_response(410, _("This package's label was withdrawn by the office that certified the "
                                        "product: no credential is issued for it."))  # fmt: skip


def _no_key() -> Response:
    return errors.error_response(503, _("Signed credentials are not available on this server: no signing key "
                                        "is configured."))  # fmt: skip
