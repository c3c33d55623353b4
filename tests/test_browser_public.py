"""The public site in real headless Chromium (Debian's, never a downloaded one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="vi-VN", java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_home_renders_without_javascript(page: Any, live_server: str) -> None:
    response = page.goto(live_server + "/")
    assert response.status == 200
    assert page.get_attribute("html", "lang") == "vi"
    assert page.locator("h1").first.is_visible()
    assert page.locator("form.site-search input[name=q]").is_visible()
    # The stylesheet loaded under the CSP: the header carries the brand colour.
    colour = page.locator(".site-header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(164, 38, 29)"
    page.screenshot(path="/tmp/h1-home.png", full_page=True)


def test_product_page_shows_producer_and_province_change(page: Any, live_server: str) -> None:
    page.goto(live_server + "/products/khay-tra-tien-vua?lang=en")
    assert page.locator("h1").inner_text() == "Khay trà tiến Vua"
    facts = page.locator("dl.facts").inner_text()
    assert "Công ty TNHH Mộc Mỹ nghệ Nguyễn Văn Tiếp" in facts
    assert "Quảng Nam — now part of Thành phố Đà Nẵng" in facts
    # 2021, no expiry in the decision: past the registry's assumed validity, in a neutral badge.
    assert page.locator(".badge-lapsed").first.inner_text() == "Recognised 2021 · past standard validity"


def test_language_switch_is_clicked_and_remembered(page: Any, live_server: str) -> None:
    page.goto(live_server + "/provinces")
    assert page.get_attribute("html", "lang") == "vi"
    page.click("nav.lang a[lang=en]")
    page.wait_for_load_state()
    assert page.url == live_server + "/provinces"
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Provinces and cities"
    # Following an ordinary link keeps English (the choice is remembered in a cookie).
    page.click("text=Fairs & showrooms >> nth=0")
    page.wait_for_load_state()
    assert page.url == live_server + "/events"
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Fairs and showrooms"


@pytest.mark.parametrize(
    "path", ["/", "/products/khay-tra-tien-vua", "/events", "/provinces/da-nang", "/api"]
)
def test_phone_viewport_has_no_horizontal_scroll(browser: Any, live_server: str, path: str) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    page.goto(live_server + path)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    # Tap targets in the header stay on screen.
    box = page.locator("form.site-search button").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 360
    context.close()
