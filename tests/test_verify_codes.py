"""Verification codes: unguessable, typo-proof, checked before any database work."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from catalogue.registry import codes
from catalogue.registry.codes import ALPHABET, CODE_LEN, new_code, normalise, parse_code
from tests.conftest import VERIFY_KEYS

#: A database nobody listens on: any query would fail the request with a 500.
UNREACHABLE_DB = "postgresql+psycopg2://nobody:nothing@127.0.0.1:9/none"
#: A fixed, correctly signed code (a random one made the tampered variants flaky:
#: a transposition of two equal symbols is no change at all, 1 run in 32).
GOOD_BODY = "A" + "7K2M9QXR4TV8W"
GOOD = GOOD_BODY + codes._check(VERIFY_KEYS["a"], GOOD_BODY)


def _swap(code: str, i: int) -> str:
    other = ALPHABET[(ALPHABET.index(code[i]) + 1) % len(ALPHABET)]
    return code[:i] + other + code[i + 1 :]


assert parse_code(GOOD, VERIFY_KEYS) == GOOD and len(GOOD) == CODE_LEN

TAMPERED = {
    "changed random character": _swap(GOOD, 5),
    "changed key id": _swap(GOOD, 0),
    "wrong check": _swap(GOOD, CODE_LEN - 1),
    "two characters transposed": GOOD[:3] + GOOD[4] + GOOD[3] + GOOD[5:],
    "one character short": GOOD[:-1],
    "one character long": GOOD + "0",
    "very long": GOOD * 20,
    "non-ASCII": GOOD[:5] + "Đ" + GOOD[6:],
    "letter U (not in the alphabet)": GOOD[:5] + "U" + GOOD[6:],
    "all zeros": "0" * CODE_LEN,
    "punctuation": GOOD[:8] + "*" + GOOD[9:],
}


def test_codes_carry_65_random_bits_and_a_keyed_check() -> None:
    codes = {new_code(VERIFY_KEYS, "a") for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == CODE_LEN and set(c) <= set(ALPHABET) for c in codes)
    assert 32**13 >= 2**65  # 13 random symbols of 5 bits each
    assert all(parse_code(c, VERIFY_KEYS) == c for c in codes)
    # The same body signed with another key does not verify.
    assert parse_code(GOOD, {"a": "another secret"}) is None


def test_case_and_look_alike_characters_are_forgiven() -> None:
    lower = GOOD.lower()
    assert parse_code(lower, VERIFY_KEYS) == GOOD
    spaced = "-".join(GOOD[i : i + 4] for i in range(0, CODE_LEN, 4))
    assert parse_code(f"  {spaced} ", VERIFY_KEYS) == GOOD
    # I and L are read as 1, O as 0 (Crockford base32 has none of them).
    look_alike = GOOD.replace("1", "I").replace("0", "O")
    assert parse_code(look_alike, VERIFY_KEYS) == GOOD
    assert normalise("il-o") == "110"


def test_rotating_keys_keeps_printed_codes_valid() -> None:
    old = new_code({"a": "k1"}, "a")
    rotated = {"a": "k1", "b": "k2"}
    fresh = new_code(rotated, "b")
    assert fresh[0] == "B"
    assert parse_code(old, rotated) == old and parse_code(fresh, rotated) == fresh
    assert parse_code(fresh, {"a": "k1"}) is None  # an unknown key id is refused


@pytest.mark.parametrize("raw", list(TAMPERED.values()), ids=list(TAMPERED))
def test_tampered_codes_are_rejected_without_touching_the_database(
    make_app: Callable[..., Flask], raw: str
) -> None:
    assert parse_code(raw, VERIFY_KEYS) is None
    app = make_app()  # it starts on its database (start-up checks the stored codes' keys) ...
    app.config["SQLALCHEMY_URL"] = UNREACHABLE_DB  # ... then every query would fail
    client = app.test_client()
    page = client.get(f"/v/{raw}", headers={"Accept-Language": "en"})
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "Not recognised" in html and "<form" in html  # a normal page with the lookup form
    api = client.get(f"/api/v1/verify/{raw}")
    assert api.status_code == 404 and api.get_json() == {"status": "unknown"}
    assert client.get(f"/v/{raw}/qr.png").status_code == 404


def test_empty_code_is_not_a_verification_page(seeded_client: FlaskClient) -> None:
    assert seeded_client.get("/v/").status_code == 404
    assert seeded_client.get("/verify?code=", headers={"Accept-Language": "en"}).status_code == 200


def test_lower_case_and_look_alikes_open_the_same_certificate(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    code = seeded_codes[0]
    variants = [code.lower(), code.replace("0", "o").replace("1", "l")]
    for raw in variants:
        page = seeded_client.get(f"/v/{raw}")
        assert page.status_code == 200
        assert f'<link rel="canonical" href="http://registry.test/v/{code}">' in page.get_data(as_text=True)
    assert seeded_client.get(f"/api/v1/verify/{code.lower()}").get_json()["code"] == code


def test_signed_but_unissued_code_is_not_recognised(seeded_client: FlaskClient) -> None:
    page = seeded_client.get(f"/v/{GOOD}", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and "Not recognised" in page.get_data(as_text=True)
    assert seeded_client.get(f"/api/v1/verify/{GOOD}").get_json() == {"status": "unknown"}


def test_lookup_form_with_a_mistyped_code_says_so(
    seeded_client: FlaskClient, seeded_codes: list[str]
) -> None:
    response = seeded_client.get(
        f"/verify?code={_swap(seeded_codes[0], 7)}", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 404
    assert "This verification code is not valid" in response.get_data(as_text=True)
    ok = seeded_client.get(f"/verify?code={seeded_codes[0].lower()}")
    assert ok.status_code == 302 and ok.headers["Location"].endswith(f"/v/{seeded_codes[0]}")
