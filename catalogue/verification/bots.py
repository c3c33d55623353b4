"""Link-preview fetchers and crawlers that announce themselves: their visits are never counted.

When a link to ``/v/<code>`` is pasted into Zalo, Facebook, Telegram and the like, their
servers fetch the page to draw a preview; counting those fetches would make a shared
link look like a scanned package. A fetcher is recognised by its User-Agent: ua-parser's
"Spider" family (Facebook, Telegram, WhatsApp, Twitter, Slack, Discord, LinkedIn, search
engines…), plus self-announcing tokens it lacks. Zalo's in-app browser (a real person who
scanned with Zalo) says ``Mozilla/… Zalo``; Zalo's fetcher does not look like a browser,
so a "Zalo" User-Agent without ``Mozilla`` is taken for the fetcher.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ua_parser import parse_device

_ANNOUNCED = re.compile(
    r"(?<!cu)bot\b|bot/|crawler|spider|preview|externalhit|facebookcatalog|meta-external|embedly|"
    r"skypeuri|vkshare|w3c_validator|curl/|wget/|python-requests|go-http-client|okhttp",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def is_preview_fetcher(user_agent: str | None) -> bool:
    """True for a fetcher that is not a person: never counted as a check of a code.

    An empty User-Agent counts as a fetcher too: every phone browser sends one.
    """
    ua = (user_agent or "").strip()
    if not ua:
        return True
    if "zalo" in ua.lower() and "mozilla" not in ua.lower():
        return True
    if _ANNOUNCED.search(ua):
        return True
    device = parse_device(ua)
    return device is not None and device.family == "Spider"
