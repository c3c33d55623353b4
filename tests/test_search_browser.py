"""A trade-fair buyer's path in real headless Chromium, on a phone, without JavaScript."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="vi-VN", java_script_enabled=False,
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
    )  # fmt: skip
    yield context.new_page()
    context.close()


def test_unaccented_query_typed_in_the_header_then_narrowed_by_province(phone: Any, live_server: str) -> None:
    phone.goto(live_server + "/")
    phone.fill("form.site-search input[name=q]", "nuoc mam")
    phone.press("form.site-search input[name=q]", "Enter")
    phone.wait_for_load_state()
    assert "/search" in phone.url
    titles = phone.locator("ol.results-list li.result h2, ol.results-list li.result h3").all_inner_texts()
    assert titles and all("nước mắm" in t.lower() for t in titles)
    # Results come before the facets on a phone: the first result is on the first screen.
    assert phone.locator("li.result").first.bounding_box()["y"] < 740
    # Narrow by a province from its facet; the chip shows and the results follow.
    phone.click("section.facet-province a:has-text('An Giang')")
    phone.wait_for_load_state()
    assert "province=" in phone.url
    assert phone.locator(".active-filters .chip").count() == 1
    metas = phone.locator("li.result .meta").all_inner_texts()
    assert metas and all("An Giang" in m for m in metas)
    # Removing the chip widens the results again.
    narrowed = phone.locator("li.result").count()
    phone.click(".active-filters .chip")
    phone.wait_for_load_state()
    assert phone.locator("li.result").count() > narrowed
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360


def test_misspelt_query_offers_a_suggestion_that_finds_the_product(phone: Any, live_server: str) -> None:
    phone.goto(live_server + "/search?q=b%C3%A1nh+ch%C6%B0g&status=all&lang=en")
    phone.click("p.suggestion a")
    phone.wait_for_load_state()
    assert "Bánh chưng Bà Ba Hội" in phone.locator("ol.results-list").inner_text()
