"""Serial codes: one per package, in the certificate codes' ``/v/<code>`` space, checked before any
database work, never stored."""

from __future__ import annotations

import random

import pytest

from catalogue.registry.codes import CODE_LEN as CERTIFICATE_CODE_LEN
from catalogue.registry.codes import new_code, parse_code
from catalogue.verification import serial_codes as codes

KEYS = {"a": "key-a", "b": "key-b"}


def test_a_serial_code_carries_its_run_and_serial_and_reads_back() -> None:
    for run_id, serial in ((1, 1), (7, 123_456), (codes.MAX_RUN_ID, 1_000_000), (42, codes.MAX_SERIAL)):
        code = codes.serial_code(KEYS, "a", run_id, serial)
        assert len(code) == codes.CODE_LEN != CERTIFICATE_CODE_LEN
        assert codes.parse_serial(code, KEYS) == codes.SerialCode(code, run_id, serial)
        # Typed by a person: lower case, dashes, spaces and look-alike letters still read.
        typed = "-".join(code[i : i + 4] for i in range(0, len(code), 4)).lower().replace("1", "l")
        assert codes.parse_serial(typed, KEYS) == codes.SerialCode(code, run_id, serial)


def test_every_typo_and_every_forged_serial_is_rejected_by_the_key_alone() -> None:
    code = codes.serial_code(KEYS, "a", 12, 345)
    for i in range(1, len(code)):  # every one-symbol change after the key id
        for symbol in "0Z7":
            changed = code[:i] + symbol + code[i + 1 :]
            if changed != code:
                assert codes.parse_serial(changed, KEYS) is None, changed
    neighbour = codes.serial_code(KEYS, "a", 12, 346)
    forged = code[:10] + neighbour[10:]  # another serial's MAC
    assert codes.parse_serial(forged, KEYS) is None
    assert codes.parse_serial(code, {"a": "another-secret"}) is None
    assert codes.parse_serial(code[:-1], KEYS) is None and codes.parse_serial("", KEYS) is None


def test_serial_codes_and_certificate_codes_never_read_as_each_other() -> None:
    serial = codes.serial_code(KEYS, "a", 3, 9)
    certificate = new_code(KEYS, "a")
    assert parse_code(serial, KEYS) is None and codes.parse_serial(certificate, KEYS) is None
    assert codes.is_serial(serial) and not codes.is_serial(certificate)


def test_a_rotated_key_keeps_old_runs_verifying() -> None:
    old = codes.serial_code(KEYS, "a", 5, 10)
    new = codes.serial_code(KEYS, "b", 6, 10)
    assert old[0] == "A" and new[0] == "B"
    assert codes.parse_serial(old, KEYS) and codes.parse_serial(new, KEYS)
    assert codes.parse_serial(new, {"a": "key-a"}) is None  # key b withdrawn: its codes stop


def test_a_run_streams_distinct_codes_that_each_verify() -> None:
    run = list(codes.serial_codes(KEYS, "a", 99, 1, 20_000))
    assert len(set(run)) == 20_000
    assert run[0] == codes.serial_code(KEYS, "a", 99, 1) and run[-1] == codes.serial_code(
        KEYS, "a", 99, 20_000
    )
    for serial in random.Random(1).sample(range(1, 20_001), 500):
        assert codes.parse_serial(run[serial - 1], KEYS) == codes.SerialCode(run[serial - 1], 99, serial)


@pytest.mark.parametrize(
    "run_id, first, last", [(0, 1, 1), (1, 0, 1), (1, 5, 4), (codes.MAX_RUN_ID + 1, 1, 1)]
)
def test_out_of_range_runs_and_serials_are_refused(run_id: int, first: int, last: int) -> None:
    with pytest.raises(ValueError):
        list(codes.serial_codes(KEYS, "a", run_id, first, last))
