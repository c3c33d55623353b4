"""A provincial official in real headless Chromium (no JavaScript): sign in, upload the
decision's list, read the dry run, fix, publish — and find the product on the public site
and in search."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.fixtures.workspace import PASSWORD, make_user, row, xlsx_bytes

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_sign_in_upload_preview_fix_publish_and_find(
    page: Any, live_server: str, seeded_app: Flask, tmp_path: Path
) -> None:
    make_user(seeded_app, "hue@so.gov.vn", "province", "Huế")
    name = "Mè xửng Thiên Hương thử nghiệm"
    bad = tmp_path / "qd-123.xlsx"
    bad.write_bytes(xlsx_bytes([row(1, product=name, province="Hue"), row(2, province="Quang Tri")]))
    good = tmp_path / "qd-123-sua.xlsx"
    good.write_bytes(xlsx_bytes([row(1, product=name, province="Hue"), row(2, province="Huế")]))

    page.goto(live_server + "/admin/")
    assert "/admin/login" in page.url
    page.fill("input[name=email]", "hue@so.gov.vn")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit] >> text=Sign in")
    assert "/admin/" in page.url and "login" not in page.url

    page.click("nav.admin-nav >> text=Import")
    page.set_input_files("input[name=file]", str(bad))
    page.click("text=Upload and check")
    assert "1 of 2 rows have problems" in page.locator("h2").first.inner_text()
    problem = page.locator("tr.bad").inner_text()
    assert "Quảng Trị is outside your province (Huế)" in problem
    assert page.locator("button >> text=Publish").count() == 0
    page.screenshot(path="/tmp/h4-preview.png", full_page=True)

    page.click("nav.admin-nav >> text=Import")
    page.set_input_files("input[name=file]", str(good))
    page.click("text=Upload and check")
    assert "Ready to publish" in page.locator(".summary").inner_text()
    page.fill("input[name=decision_number]", "1234/QĐ-UBND")
    page.click("button >> text=Publish 2 rows")
    assert "Published: 2 new" in page.locator(".flashes").inner_text()
    page.screenshot(path="/tmp/h4-published.png", full_page=True)

    page.click(f"text={name}")
    assert page.locator("h1").inner_text() == name
    body = page.locator("main").inner_text()
    assert "1234/QĐ-UBND" in body or "123/QĐ-UBND" in body

    page.goto(live_server + "/search?q=me+xung+thien+huong")
    assert name in page.locator("main").inner_text()
