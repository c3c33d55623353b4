"""The scan page in real Chromium with JavaScript disabled (a cheap phone's worst case)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def _context(browser: Any) -> Any:
    return browser.new_context(
        java_script_enabled=False, locale="en-US", viewport={"width": 360, "height": 740},
        extra_http_headers={"Accept-Language": "en"},
    )  # fmt: skip


def test_verdict_fits_one_phone_screen_without_javascript(
    browser: Any, live_server: str, seeded_codes: list[str]
) -> None:
    context = _context(browser)
    page = context.new_page()
    sizes: dict[str, int] = {}
    page.on("response", lambda r: sizes.__setitem__(r.url, len(r.body())) if r.ok else None)
    response = page.goto(f"{live_server}/v/{seeded_codes[0]}")
    assert response is not None and response.status == 200
    verdict = page.locator("section.verdict h1")
    assert verdict.inner_text() in {"Valid"} or verdict.inner_text().startswith(
        ("Expired on", "Revoked on", "Recognised in")
    )  # the last: past the registry's assumed validity
    box = page.locator("section.verdict").bounding_box()
    assert box is not None and box["y"] + box["height"] < 740  # visible without scrolling
    assert page.locator("section.verdict svg.icon").is_visible()
    assert page.locator("h2").first.inner_text()
    # The stylesheet applied (colour comes from verify.css, not from script).
    border = page.locator("section.verdict").evaluate("e => getComputedStyle(e).borderTopWidth")
    assert border == "3px"
    html_css = sum(n for url, n in sizes.items() if "/v/" in url or url.endswith(".css"))
    assert 0 < html_css <= 20 * 1024
    context.close()


def test_as_of_and_lookup_forms_work_without_javascript(
    browser: Any, live_server: str, seeded_codes: list[str]
) -> None:
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{live_server}/v/{seeded_codes[0]}")
    page.fill("#as_of", "2024-06-01")
    page.click("form.asof button")
    page.wait_for_load_state()
    assert "as_of=2024-06-01" in page.url
    assert "Jun 1, 2024" in page.locator("section.verdict").inner_text()
    page.goto(f"{live_server}/verify")
    page.fill("#code", seeded_codes[1].lower())
    page.click("form.lookup:has(#code) button")
    page.wait_for_load_state()
    assert page.url.endswith(f"/v/{seeded_codes[1]}")
    assert page.locator("section.verdict").is_visible()
    page.goto(f"{live_server}/v/NOTAREALCODE0000")
    assert page.locator("section.verdict h1").inner_text() == "Not recognised"
    context.close()
