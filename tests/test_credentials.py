"""Signed credentials (issue 18): a credential fetched from the API verifies offline with the published
keys and revocation list, fails after revocation, and a reinstated certificate's new credential verifies."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet, OKPKey
from sqlmodel import Session, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.clock import utcnow
from catalogue.credentials import checking, keys
from catalogue.credentials.issuing import REGISTRY, sign
from catalogue.credentials.status_list import LIST_SIZE, decode, encode
from catalogue.db import get_engine, pk
from catalogue.registry import certificates
from catalogue.registry.models import Certificate

VC_JWT = "application/vc+jwt"


def _part(token: str, n: int) -> dict[str, Any]:
    segment = token.split(".")[n]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def _fetch(client: FlaskClient, code: str) -> str:
    response = client.get(f"/api/v1/verify/{code}/credential")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == VC_JWT
    return response.get_data(as_text=True)


def _published_keys(client: FlaskClient) -> KeySet:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert all("d" not in k for k in response.get_json()["keys"]), "a private key part is published"
    return keys.public_key_set(response.get_json())


def _status_list(client: FlaskClient, token: str) -> str:
    url = _part(token, 1)["credentialStatus"]["statusListCredential"]
    assert url.startswith("http://registry.test/")
    response = client.get(url.removeprefix("http://registry.test"))
    assert response.status_code == 200 and response.mimetype == VC_JWT
    return response.get_data(as_text=True)


def _verdict(client: FlaskClient, token: str) -> checking.Report:
    return checking.check(token, _published_keys(client), _status_list(client, token), utcnow())


def _revoke(app: Flask, code: str) -> None:
    with app.app_context(), Session(get_engine()) as s:
        cert = s.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        certificates.revoke_certificate(s, actor=SYSTEM, certificate=cert, reason="Vi phạm", reference="9/QĐ")
        s.commit()


def _reinstate(app: Flask, code: str) -> None:
    with app.app_context(), Session(get_engine()) as s:
        cert = s.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        certificates.reinstate_certificate(
            s, actor=SYSTEM, certificate=cert, reason="Nhầm", reference="10/QĐ"
        )
        s.commit()


def test_credential_is_a_signed_vc_naming_the_certificate(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(certificate_number="21/GCN-TEST", year=2024, issued_on=date(2024, 3, 1),
                            decision_number="120/QĐ-UBND", decision_date=date(2024, 2, 27),
                            province="Yên Bái")  # fmt: skip
    client = seeded_app.test_client()
    token = _fetch(client, code)
    header, credential = _part(token, 0), _part(token, 1)
    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt"
    assert header["kid"] in {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert credential["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert "VerifiableCredential" in credential["type"]
    assert credential["issuer"]["id"] == "http://registry.test/"
    assert credential["validFrom"] == "2024-03-01T00:00:00+07:00"
    assert "validUntil" not in credential, "no decision stated an expiry"
    subject = credential["credentialSubject"]
    assert subject["name"] == "Chè Shan tuyết kiểm thử"
    assert subject["producer"]["name"] == "HTX Kiểm thử"
    assert subject["province"] == {"asPrinted": "Yên Bái", "current": "Tỉnh Lào Cai"}, "as printed and now"
    cert = subject["certification"]
    assert cert["certificateNumber"] == "21/GCN-TEST" and cert["level"] == "tinh"
    assert cert["round"]["year"] == 2024 and cert["round"]["id"].startswith("http://registry.test/rounds/")
    assert cert["decision"]["number"] == "120/QĐ-UBND" and cert["decision"]["date"] == "2024-02-27"
    assert cert["expiryBasis"] == "policy" and cert["assumedValidThrough"].startswith("2027-")
    status = credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert 0 <= int(status["statusListIndex"]) < LIST_SIZE
    report = _verdict(client, token)
    assert report.verdict == checking.VALID, report
    assert _fetch(client, code) == token, "an unchanged certificate gives the same signed bytes"


def test_expiry_stated_by_the_decision_is_valid_until(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(
        certificate_number="22/GCN", year=2023, issued_on=date(2023, 5, 1), expires_on=date(2026, 4, 30)
    )
    client = seeded_app.test_client()
    token = _fetch(client, code)
    credential = _part(token, 1)
    assert credential["validUntil"] == "2026-05-01T00:00:00+07:00"
    assert credential["credentialSubject"]["certification"]["expiryBasis"] == "decision"
    report = _verdict(client, token)  # the frozen clock is 2026-06-15
    assert report.verdict == checking.EXPIRED and not report.ok


def test_revocation_flips_the_bit_and_reinstatement_issues_a_new_credential(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(certificate_number="23/GCN", year=2025, issued_on=date(2025, 6, 1))
    client = seeded_app.test_client()
    first = _fetch(client, code)
    assert _verdict(client, first).verdict == checking.VALID

    _revoke(seeded_app, code)
    assert _verdict(client, first).verdict == checking.REVOKED
    assert _verdict(client, _fetch(client, code)).verdict == checking.REVOKED

    _reinstate(seeded_app, code)
    second = _fetch(client, code)
    assert _part(second, 1)["credentialStatus"] != _part(first, 1)["credentialStatus"], "a new index"
    assert _part(second, 1)["id"] != _part(first, 1)["id"]
    assert _verdict(client, second).verdict == checking.VALID
    assert _verdict(client, first).verdict == checking.REVOKED, "a revocation bit is never cleared"

    _revoke(seeded_app, code)
    assert _verdict(client, second).verdict == checking.REVOKED


def test_status_list_is_a_mirrorable_signed_bitstring(seeded_app: Flask, seeded_codes: list[str]) -> None:
    client = seeded_app.test_client()
    token = _fetch(client, seeded_codes[0])
    url = _part(token, 1)["credentialStatus"]["statusListCredential"].removeprefix("http://registry.test")
    response = client.get(url)
    listed = _part(response.get_data(as_text=True), 1)
    assert "BitstringStatusListCredential" in listed["type"]
    subject = listed["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    assert subject["encodedList"].startswith("u")
    assert len(decode(subject["encodedList"])) * 8 >= 131_072
    assert response.headers["Cache-Control"] == f"public, max-age={subject['ttl'] // 1000}"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304, "an unchanged list is not sent again"
    assert client.get(url).data == response.data, "the same bits sign to the same bytes"
    assert "validFrom" not in listed, "nothing on the list was ever revoked"
    _revoke(seeded_app, seeded_codes[0])
    changed = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert changed.status_code == 200
    assert _part(changed.get_data(as_text=True), 1)["validFrom"].startswith("2026-06-15T02:0"), "when revoked"

    missing = client.get("/api/v1/status-lists/99999")
    assert missing.status_code == 404 and missing.get_json()["error"]["message"]


def test_tampered_or_foreign_credentials_fail(seeded_app: Flask, seeded_codes: list[str]) -> None:
    client = seeded_app.test_client()
    token = _fetch(client, seeded_codes[0])
    header, payload, signature = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["credentialSubject"]["name"] = "Hàng giả"
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    report = _verdict(client, f"{header}.{body}.{signature}")
    assert report.verdict == checking.INVALID and "signature" in report.problems[0]

    stranger = OKPKey.generate_key("Ed25519")
    stranger.ensure_kid()
    from joserfc import jws

    other = jws.serialize_compact({"alg": "EdDSA", "kid": stranger.kid, "typ": "vc+jwt"},
                                  json.dumps(forged).encode(), stranger, registry=REGISTRY)  # fmt: skip
    assert _verdict(client, other).verdict == checking.INVALID
    for junk in ("", "abc", "a.b.c", token.replace(".", "", 1)):
        assert checking.check(junk, _published_keys(client), None, utcnow()).verdict == checking.INVALID


def test_unknown_code_and_missing_keys_answer_json(make_app: Callable[..., Flask], seeded_codes: list[str]
                                                   ) -> None:  # fmt: skip
    app = make_app(seeded=True)
    client = app.test_client()
    assert client.get("/api/v1/verify/NOT-A-CODE/credential").status_code == 404
    assert client.get("/api/v1/verify/NOT-A-CODE/credential").get_json() == {"status": "unknown"}
    assert client.get("/api/v1/verify/NOT-A-CODE/credential").headers["Access-Control-Allow-Origin"] == "*"
    app.config["KEEPS_SECRETS"] = False  # a server database in production, no key file given
    (Path(app.config["CATALOGUE_DATA_DIR"]) / keys.FILE_NAME).unlink(missing_ok=True)
    keys._cache.clear()
    for url in (f"/api/v1/verify/{seeded_codes[0]}/credential", "/.well-known/jwks.json",
                "/api/v1/status-lists/0"):  # fmt: skip
        response = client.get(url, headers={"Accept-Language": "vi"})
        assert response.status_code == 503, url
        assert "khóa" in response.get_json()["error"]["message"]


def test_rotation_keeps_old_credentials_verifying(seeded_app: Flask, seeded_codes: list[str]) -> None:
    client = seeded_app.test_client()
    old = _fetch(client, seeded_codes[0])
    new_kid, old_kid = keys.rotate(seeded_app.config)
    assert old_kid == _part(old, 0)["kid"] and new_kid != old_kid
    fresh = _fetch(client, seeded_codes[0])
    assert _part(fresh, 0)["kid"] == new_kid
    published = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert {old_kid, new_kid} <= published
    assert _verdict(client, old).verdict == checking.VALID
    assert _verdict(client, fresh).verdict == checking.VALID
    stored = json.loads(keys.keys_path(seeded_app.config).read_text())
    assert [k["kid"] for k in stored["keys"] if "d" in k] == [new_kid], "a retired key can no longer sign"


def test_cli_verifies_a_saved_credential_offline(
    seeded_app: Flask, seeded_codes: list[str], tmp_path: Path
) -> None:
    client = seeded_app.test_client()
    token = _fetch(client, seeded_codes[0])
    (tmp_path / "cred.jwt").write_text(token)
    (tmp_path / "jwks.json").write_text(client.get("/.well-known/jwks.json").get_data(as_text=True))
    (tmp_path / "list.jwt").write_text(_status_list(client, token))
    runner = seeded_app.test_cli_runner()
    args = ["credential", "verify", str(tmp_path / "cred.jwt"), "--jwks", str(tmp_path / "jwks.json"),
            "--status-list", str(tmp_path / "list.jwt")]  # fmt: skip
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "credential: valid" in result.output and "not revoked" in result.output

    unchecked = runner.invoke(args=args[:5])
    assert unchecked.exit_code == 2 and "credential: revocation not checked" in unchecked.output
    accepted = runner.invoke(args=[*args[:5], "--no-revocation-check"])
    assert accepted.exit_code == 0 and "credential: valid" in accepted.output

    _revoke(seeded_app, seeded_codes[0])
    saved = runner.invoke(args=args)
    assert saved.exit_code == 0, "the saved list predates the revocation: a copy is what it is"
    local = runner.invoke(args=["credential", "verify", str(tmp_path / "cred.jwt")])
    assert local.exit_code == 1 and "credential: revoked" in local.output
    # On the server, from a shell whose PUBLIC_BASE_URL is not the one the server signs with.
    seeded_app.config["PUBLIC_BASE_URL"] = "http://127.0.0.1:5000"
    elsewhere = runner.invoke(args=["credential", "verify", str(tmp_path / "cred.jwt")])
    assert elsewhere.exit_code == 1 and "credential: revoked" in elsewhere.output
    seeded_app.config["PUBLIC_BASE_URL"] = "http://registry.test"

    (tmp_path / "junk.jwt").write_text("u" + "A" * 50)
    hostile = runner.invoke(args=[*args[:5], "--status-list", str(tmp_path / "junk.jwt")])
    assert hostile.exit_code == 1 and "credential: invalid" in hostile.output


def _signed_list(app: Flask, token: str, **subject: Any) -> str:
    """A list signed with the registry's own key (as a compromised or careless issuer could)."""
    url = _part(token, 1)["credentialStatus"]["statusListCredential"]
    payload = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": "http://registry.test/"},
        "credentialSubject": {"type": "BitstringStatusList", "statusPurpose": "revocation", **subject},
    }
    with app.test_request_context("/"):
        return sign(payload, keys.load(app.config))


def test_a_list_that_is_short_hostile_or_anothers_fails_the_check(
    seeded_app: Flask, seeded_codes: list[str]
) -> None:
    client = seeded_app.test_client()
    token = _fetch(client, seeded_codes[0])
    key_set = _published_keys(client)
    short = _signed_list(seeded_app, token, encodedList=encode([], 1024))
    report = checking.check(token, key_set, short, utcnow())
    assert report.verdict == checking.INVALID and "fewer than 131072" in report.problems[0]
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(40 * 1024 * 1024))).decode().rstrip("=")
    report = checking.check(token, key_set, _signed_list(seeded_app, token, encodedList=bomb), utcnow())
    assert report.verdict == checking.INVALID and "larger than any revocation list" in report.problems[0]
    foreign = _part(_signed_list(seeded_app, token, encodedList=encode([])), 1)
    foreign["issuer"] = {"id": "https://elsewhere.example/"}
    with seeded_app.test_request_context("/"):
        other = sign(foreign, keys.load(seeded_app.config))
    report = checking.check(token, key_set, other, utcnow())
    assert report.verdict == checking.INVALID and "elsewhere.example" in report.problems[0]


def test_a_withdrawn_labels_code_gets_no_credential(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    from catalogue.label_runs import runs
    from catalogue.verification import serial_codes
    from catalogue.verification.models import LabelRun
    from tests.conftest import VERIFY_KEYS

    code = make_certificate(certificate_number="26/GCN", year=2026, issued_on=date(2026, 1, 10))
    with seeded_app.app_context(), Session(get_engine(), expire_on_commit=False) as s:
        cert = s.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        run = runs.issue_run(s, actor=SYSTEM, certificate=cert, count=4)
        s.commit()
        labels = list(serial_codes.serial_codes(VERIFY_KEYS, run.key_id, pk(run), 1, 4))
        runs.withdraw(s, actor=SYSTEM, run=s.get(LabelRun, pk(run)), first=3, last=4, reason="Mất cuộn tem")
        s.commit()
    client = seeded_app.test_client()
    assert _part(_fetch(client, labels[0]), 1) == _part(_fetch(client, code), 1), "the certificate's own"
    refused = client.get(f"/api/v1/verify/{labels[2]}/credential", headers={"Accept-Language": "en"})
    assert refused.status_code == 410 and "withdrawn" in refused.get_json()["error"]["message"]
    page = client.get(f"/v/{labels[2]}").get_data(as_text=True)
    assert "/credential" not in page, "the withdrawn label's page offers no credential"


def test_the_cli_off_the_server_asks_for_the_files_and_leaves_nothing(tmp_path: Path) -> None:
    from tests.test_config import plain_env, run

    (tmp_path / "cred.jwt").write_text("a.b.c")
    empty = tmp_path / "data"
    done = run([".venv/bin/flask", "--app", "catalogue", "credential", "verify", str(tmp_path / "cred.jwt")],
               plain_env(empty))  # fmt: skip
    assert done.returncode == 1 and "give --jwks FILE and --status-list FILE" in done.stderr
    assert not empty.exists() or not any(empty.iterdir()), "nothing written"


def test_policy_expiry_is_reported_as_assumed(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(certificate_number="24/GCN", year=2020, issued_on=date(2020, 1, 10))
    client = seeded_app.test_client()
    token = _fetch(client, code)
    report = _verdict(client, token)
    assert report.verdict == checking.EXPIRED
    assert any("assumes validity through 2023-01-10 by policy" in n for n in report.notes), report.notes
    earlier = checking.check(
        token, _published_keys(client), None, datetime(2021, 1, 1), revocation_required=False
    )
    assert earlier.verdict == checking.VALID


def test_credentials_share_the_verify_rate_limit(
    make_app: Callable[..., Flask], seeded_codes: list[str]
) -> None:
    app = make_app(seeded=True, RATELIMIT_ENABLED=True, VERIFY_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [client.get(f"/api/v1/verify/{seeded_codes[0]}/credential").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = client.get(f"/api/v1/verify/{seeded_codes[0]}/credential")
    assert refused.headers["Retry-After"] and refused.get_json()["error"]["code"] == "too_many_requests"


def test_a_damaged_key_file_is_refused_not_used(seeded_app: Flask, seeded_codes: list[str]) -> None:
    client = seeded_app.test_client()
    assert client.get("/.well-known/jwks.json").status_code == 200
    keys.keys_path(seeded_app.config).write_text('{"current": "x", "keys": [{"kid": "x"}]}')
    response = client.get(f"/api/v1/verify/{seeded_codes[0]}/credential")
    assert response.status_code == 503 and response.get_json()["error"]["message"]
    assert seeded_app.test_client().get(f"/v/{seeded_codes[0]}").status_code == 200, "the scan still answers"


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node))
    return set()


def test_every_term_a_credential_uses_is_defined(
    seeded_app: Flask, make_certificate: Callable[..., str]
) -> None:
    code = make_certificate(
        certificate_number="25/GCN",
        year=2025,
        issued_on=date(2025, 2, 1),
        expires_on=date(2028, 1, 31),
        decision_number="7/QĐ",
        decision_date=date(2025, 1, 30),
    )
    client = seeded_app.test_client()
    credential = _part(_fetch(client, code), 1)
    served = client.get("/credentials/v1")
    assert served.status_code == 200 and served.mimetype == "application/ld+json"
    assert credential["@context"][1] == "http://registry.test/credentials/v1"
    defined = set(served.get_json()["@context"])
    base_terms = {"id", "type", "name"}  # the W3C base context's own
    used = _keys(credential["credentialSubject"])
    assert used - defined - base_terms == set(), "a term of the subject is in no context"
    assert credential["type"][1] in defined


def test_odd_but_signed_credentials_get_a_verdict_never_a_crash(tmp_path: Path) -> None:
    """Another issuer's credential, verified with its own keys: VC 2.0 allows a plain issuer URL;
    the rest are shapes nobody should send, answered "invalid" or by what can be told."""
    from joserfc import jws

    stranger = OKPKey.generate_key("Ed25519")
    stranger.ensure_kid()
    key_set = keys.public_key_set({"keys": [stranger.as_dict(private=False)]})
    base: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "https://elsewhere.example/",
        "credentialSubject": {"name": "X"},
    }
    shapes: list[tuple[dict[str, Any], str]] = [
        ({}, checking.VALID),
        ({"@context": {"a": 1}}, checking.INVALID),
        ({"type": 5}, checking.INVALID),
        ({"credentialSubject": [1, 2]}, checking.VALID),
        ({"credentialSubject": {"certification": {"expiryBasis": "policy", "assumedValidThrough": 7}}},
         checking.VALID),
        ({"validUntil": "not a date"}, checking.INVALID),  # an unreadable window is not an open one
        ({"validFrom": "+275760-01-01T00:00:00Z"}, checking.INVALID),
        ({"credentialStatus": {"statusPurpose": "revocation", "statusListIndex": None,
                               "statusListCredential": "https://elsewhere.example/l"}}, checking.UNCHECKED),
    ]  # fmt: skip
    for change, verdict in shapes:
        payload = json.dumps({**base, **change}).encode()
        header = {"alg": "EdDSA", "kid": stranger.kid, "typ": "vc+jwt"}
        token = jws.serialize_compact(header, payload, stranger, registry=REGISTRY)
        assert checking.check(token, key_set, None, utcnow()).verdict == verdict, change
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        keys.public_key_set({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": 123, "kid": "k"}]})
