"""Scanning a package's own label: the certificate's verdict, the label's first check and its
device-days since, "label withdrawn" for a lost roll, and the same through the API and the CLI."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import text
from sqlmodel import Session, func, select

from catalogue.accounts.permissions import SYSTEM
from catalogue.db import get_engine, pk
from catalogue.label_runs import runs
from catalogue.registry.models import Certificate
from catalogue.verification import counting
from catalogue.verification import serial_codes as codes
from catalogue.verification.models import LabelRun
from tests.conftest import FROZEN, VERIFY_KEYS, phone

EN = {"Accept-Language": "en"}
ROW = text("SELECT * FROM certificate WHERE verify_code = :c")


def _certificate(app: Flask, code: str) -> Certificate:
    with app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        found = session.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        return found


def _issue(app: Flask, code: str, count: int) -> tuple[int, list[str]]:
    """A run of ``count`` labels for the certificate ``code``; its id and its codes."""
    with app.app_context(), Session(get_engine(), expire_on_commit=False) as session:
        cert = session.exec(select(Certificate).where(Certificate.verify_code == code)).one()
        run = runs.issue_run(session, actor=SYSTEM, certificate=cert, count=count)
        session.commit()
        return pk(run), list(codes.serial_codes(VERIFY_KEYS, run.key_id, pk(run), 1, count))


@pytest.fixture
def valid_code(make_certificate: Callable[..., str]) -> str:
    return make_certificate(certificate_number="77/GCN-NHAN", issued_on=date(2026, 1, 10), year=2026)


def _label_text(html: str) -> str:
    import re

    found = re.search(r'<section class="label-signal.*?</section>', html, re.S)
    assert found, html[:2000]
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def test_the_first_device_is_told_it_is_first_and_the_next_sees_when_it_was_first_checked(
    seeded_app: Flask, valid_code: str, clock: time_machine.Traveller
) -> None:
    _, labels = _issue(seeded_app, valid_code, 10)
    client = seeded_app.test_client()
    page = client.get(f"/v/{labels[3]}", headers=phone(1))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'class="verdict v-ok"' in html and "Chè Shan tuyết kiểm thử" in html
    assert "You are the first to check this label." in _label_text(html)
    assert "(no. 000004)" in _label_text(html)
    # The page's own "was it valid on the day I bought it?" from the same phone: still the first.
    asked = client.get(f"/v/{labels[3]}?as_of=2026-06-01", headers=phone(1)).get_data(as_text=True)
    assert "You are the first to check this label." in _label_text(asked)
    for _ in range(5):  # the same phone reloading stays the first and adds nothing
        again = client.get(f"/v/{labels[3]}", headers=phone(1)).get_data(as_text=True)
        assert "You are the first to check this label." in _label_text(again)
    second = client.get(f"/v/{labels[3]}", headers=phone(2)).get_data(as_text=True)
    assert "first checked on Jun 15, 2026 09:00, and 1 more time since" in _label_text(second)
    assert "may have been copied" in _label_text(second)
    # The next day the first phone is one more device-day.
    clock.move_to(FROZEN + timedelta(days=1))
    client.get(f"/v/{labels[3]}", headers=phone(1))
    # The API reads a label's history and never counts: a shop's stock app must not become its first.
    for n in (1, 7, 8):
        api = client.get(f"/api/v1/verify/{labels[3]}", headers=phone(n)).get_json()
    assert api["label"]["serial"] == 4 and api["label"]["device_days"] == 3
    untouched = client.get(f"/api/v1/verify/{labels[5]}", headers=phone(1)).get_json()
    assert untouched["label"]["device_days"] == 0 and untouched["label"]["first_checked_at"] is None
    assert api["label"]["first_checked_at"].startswith("2026-06-15T02:00")  # 09:00 in Vietnam
    assert api["status"] == "valid" and api["label"]["withdrawn"] is False
    assert api["code"] == labels[3] and api["verify_url"].endswith(f"/v/{labels[3]}")
    assert valid_code not in str(api)  # one genuine label never yields the certificate's own code
    # Another label of the same run has its own history.
    other = client.get(f"/v/{labels[4]}", headers=phone(2)).get_data(as_text=True)
    assert "You are the first to check this label." in _label_text(other)


def test_preview_fetchers_neither_count_nor_become_the_first(seeded_app: Flask, valid_code: str) -> None:
    _, labels = _issue(seeded_app, valid_code, 3)
    client = seeded_app.test_client()
    bot = client.get(f"/v/{labels[0]}", headers={**EN, "User-Agent": "TelegramBot (like TwitterBot)"})
    assert "has not been checked before" in _label_text(bot.get_data(as_text=True))
    person = client.get(f"/v/{labels[0]}", headers=phone(1)).get_data(as_text=True)
    assert "You are the first to check this label." in _label_text(person)


def test_a_withdrawn_range_reads_label_withdrawn_and_leaves_the_certificate_alone(
    seeded_app: Flask, valid_code: str
) -> None:
    run_id, labels = _issue(seeded_app, valid_code, 10)
    with seeded_app.app_context(), get_engine().connect() as conn:
        before = conn.execute(
            text("SELECT * FROM certificate WHERE verify_code = :c"), {"c": valid_code}
        ).one()
    with seeded_app.app_context(), Session(get_engine()) as session:
        run = session.get(LabelRun, run_id)
        assert run is not None
        runs.withdraw(session, actor=SYSTEM, run=run, first=3, last=5, reason="Cuộn nhãn bị mất")
        session.commit()
    client = seeded_app.test_client()
    for serial in (3, 4, 5):
        html = client.get(f"/v/{labels[serial - 1]}", headers=phone(serial)).get_data(as_text=True)
        assert "Label withdrawn" in html and "Cuộn nhãn bị mất" in html and "Revoked" not in html
        assert "The certificate today: Valid" in " ".join(html.replace("<strong>", "").split())
    # Asking about a past day does not hide the withdrawal.
    asked = client.get(f"/v/{labels[3]}?as_of=2026-03-01", headers=EN).get_data(as_text=True)
    assert "Label withdrawn" in asked and 'class="verdict v-ok"' not in asked
    api = client.get(f"/api/v1/verify/{labels[3]}", headers=phone(9)).get_json()
    assert api["status"] == "label_withdrawn" and api["certificate"]["status"] == "valid"
    assert api["label"]["withdrawn"] is True and api["label"]["withdrawn_reason"] == "Cuộn nhãn bị mất"
    for serial in (2, 6):
        html = client.get(f"/v/{labels[serial - 1]}", headers=phone(serial)).get_data(as_text=True)
        assert "Label withdrawn" not in html and 'class="verdict v-ok"' in html
    # The certificate itself: its row is exactly as it was, and its own code still reads valid.
    with seeded_app.app_context(), get_engine().connect() as conn:
        after = conn.execute(
            text("SELECT * FROM certificate WHERE verify_code = :c"), {"c": valid_code}
        ).one()
    assert after == before
    assert 'class="verdict v-ok"' in client.get(f"/v/{valid_code}", headers=EN).get_data(as_text=True)


def test_a_withdrawal_outside_the_run_or_without_a_reason_is_refused(
    seeded_app: Flask, valid_code: str
) -> None:
    run_id, _ = _issue(seeded_app, valid_code, 10)
    with seeded_app.test_request_context(), Session(get_engine()) as session:
        run = session.get(LabelRun, run_id)
        assert run is not None
        for first, last, reason in ((0, 3, "lost"), (5, 11, "lost"), (6, 5, "lost"), (1, 2, "  ")):
            with pytest.raises(runs.RunRefused):
                runs.withdraw(session, actor=SYSTEM, run=run, first=first, last=last, reason=reason)


def test_a_code_beyond_its_run_or_of_no_run_is_not_recognised(seeded_app: Flask, valid_code: str) -> None:
    run_id, _ = _issue(seeded_app, valid_code, 5)
    client = seeded_app.test_client()
    for code in (
        codes.serial_code(VERIFY_KEYS, "a", run_id, 6),
        codes.serial_code(VERIFY_KEYS, "a", run_id + 50, 1),
    ):
        page = client.get(f"/v/{code}", headers=EN)
        assert page.status_code == 404 and "not recognised" in page.get_data(as_text=True).lower()
        assert client.get(f"/api/v1/verify/{code}").get_json() == {"status": "unknown"}


def test_a_revoked_certificates_labels_read_revoked(seeded_app: Flask, valid_code: str) -> None:
    from catalogue.registry.certificates import revoke_certificate

    _, labels = _issue(seeded_app, valid_code, 2)
    with seeded_app.app_context(), Session(get_engine()) as session:
        cert = session.exec(select(Certificate).where(Certificate.verify_code == valid_code)).one()
        revoke_certificate(session, actor=SYSTEM, certificate=cert, reason="Vi phạm", reference="QĐ 9")
        session.commit()
    html = seeded_app.test_client().get(f"/v/{labels[0]}", headers=EN).get_data(as_text=True)
    assert 'class="verdict v-revoked"' in html and "Label withdrawn" not in html


@pytest.mark.parametrize(
    "facts", [{"issued_on": date(2019, 1, 10), "year": 2019, "expires_on": date(2022, 1, 10)}]
)
def test_labels_are_issued_only_for_a_certificate_valid_today(
    seeded_app: Flask, make_certificate: Callable[..., str], facts: dict[str, Any]
) -> None:
    expired = make_certificate(certificate_number="5/GCN-CU", **facts)
    with seeded_app.test_request_context(headers=EN), pytest.raises(runs.RunRefused, match="valid today"):
        _issue(seeded_app, expired, 10)
    with seeded_app.app_context(), Session(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(LabelRun)).one() == 0


def test_storage_grows_with_scanned_labels_not_printed_ones(seeded_app: Flask, valid_code: str) -> None:
    run_id, labels = _issue(seeded_app, valid_code, 50_000)
    client = seeded_app.test_client()
    for n in (10, 20_000, 49_999):
        client.get(f"/v/{labels[n]}", headers=phone(n))
    with seeded_app.app_context():
        with Session(get_engine()) as session:
            assert session.exec(select(func.count()).select_from(LabelRun)).one() == 1
        with get_engine(counting.store_url()).connect() as conn:
            tallied = conn.execute(
                text("SELECT code FROM verification_tally WHERE LENGTH(code) = 22")
            ).scalars()
            assert sorted(tallied) == sorted(labels[n] for n in (10, 20_000, 49_999))


def test_serial_codes_appear_in_no_listing_or_feed(seeded_app: Flask, valid_code: str) -> None:
    _, labels = _issue(seeded_app, valid_code, 20)
    client = seeded_app.test_client()
    cert = _certificate(seeded_app, valid_code)
    pages = ["/api/v1/products?status=all&q=Chè Shan tuyết kiểm thử", "/api/v1/products.csv?status=all",
             "/search?q=kiem+thu"]  # fmt: skip
    with seeded_app.app_context(), Session(get_engine()) as session:
        from catalogue.registry.models import Product

        product = session.get(Product, cert.product_id)
        assert product is not None
        pages.append(f"/products/{product.slug}")
    for path in pages:
        body = client.get(path, headers=EN).get_data(as_text=True)
        assert not any(code in body for code in labels), path


def test_the_command_line_writes_a_run_whose_every_code_verifies(
    seeded_app: Flask, valid_code: str, tmp_path: Path
) -> None:
    out = tmp_path / "labels.csv"
    runner = seeded_app.test_cli_runner()
    result = runner.invoke(
        args=["labels", "issue", "--certificate", "77/gcn-nhan", "--count", "2000", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 2000 and rows[0]["serial"] == "1" and rows[-1]["serial"] == "2000"
    run_ids = set()
    for row in rows:
        parsed = codes.parse_serial(row["code"], VERIFY_KEYS)
        assert parsed is not None and parsed.serial == int(row["serial"])
        assert row["url"] == f"http://registry.test/v/{row['code']}"
        run_ids.add(parsed.run_id)
    assert len(run_ids) == 1
    client = seeded_app.test_client()
    for row in random.Random(3).sample(rows, 10):
        page = client.get(f"/v/{row['code']}", headers=phone(int(row["serial"])))
        assert page.status_code == 200 and f"(no. {int(row['serial']):06d})" in page.get_data(as_text=True)
    # The same codes again, from the run's number; then a withdrawal from the shell.
    again = tmp_path / "again.csv"
    (run_id,) = run_ids
    assert runner.invoke(args=["labels", "csv", "--run", str(run_id), "--out", str(again)]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()
    done = runner.invoke(args=["labels", "withdraw", "--run", str(run_id), "--from", "10", "--to", "20",
                               "--reason", "roll lost"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Label withdrawn" in client.get(f"/v/{rows[14]['code']}", headers=EN).get_data(as_text=True)
    # A lost roll is never written again, and a range outside the run is refused in words.
    assert runner.invoke(args=["labels", "csv", "--run", str(run_id), "--out", str(again)]).exit_code == 0
    serials = [int(r["serial"]) for r in csv.DictReader(again.open(encoding="utf-8"))]
    assert len(serials) == 2000 - 11 and not set(range(10, 21)) & set(serials)
    refused = runner.invoke(args=["labels", "csv", "--run", str(run_id), "--to", "0", "--out", str(again)])
    assert refused.exit_code == 1 and "serials 1 to 2,000" in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "from 1 to 1,000,000"),
        (["--count", "1000001"], "from 1 to 1,000,000"),
        (["--certificate", "no-such-number"], "No certificate"),
    ],
)
def test_the_command_line_refuses_in_plain_words_and_writes_nothing(
    seeded_app: Flask, valid_code: str, tmp_path: Path, args: list[str], message: str
) -> None:
    base = {"--certificate": valid_code, "--count": "5"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    out = tmp_path / "labels.csv"
    flat = [part for pair in base.items() for part in pair]
    result = seeded_app.test_cli_runner().invoke(
        args=["labels", "issue", *flat, "--out", str(out), "--lang", "en"]
    )
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()
    with seeded_app.app_context(), Session(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(LabelRun)).one() == 0


def test_the_command_line_lists_the_certificates_labels_may_be_issued_for(
    seeded_app: Flask, valid_code: str, make_certificate: Callable[..., str]
) -> None:
    expired = make_certificate(certificate_number="6/GCN-CU", product="Chè cũ", issued_on=date(2019, 1, 10),
                               year=2019, expires_on=date(2022, 1, 10))  # fmt: skip
    runner = seeded_app.test_cli_runner()
    listed = runner.invoke(args=["labels", "certificates", "--province", "Lào Cai"])
    assert listed.exit_code == 0 and f"{valid_code}\t77/GCN-NHAN\tChè Shan tuyết kiểm thử" in listed.output
    assert expired not in listed.output
    codes_only = runner.invoke(
        args=["labels", "certificates", "--province", "Lao Cai", "--codes"]
    ).output.split()
    assert valid_code in codes_only and expired not in codes_only
    elsewhere = runner.invoke(
        args=["labels", "certificates", "--province", "Đà Nẵng", "--codes"]
    ).output.split()
    assert valid_code not in elsewhere
    assert runner.invoke(args=["labels", "certificates", "--province", "Atlantis"]).exit_code == 2
