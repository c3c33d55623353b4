"""Canonical and language alternates of a page, and the image its link preview shows.

A page's language comes from ``?lang=`` (then the cookie, then ``Accept-Language``), so one
address serves both languages. The canonical address names the language being shown
(``?lang=vi`` or ``?lang=en``) so search engines index each language once; ``hreflang``
links point at both, and ``x-default`` at the bare address that negotiates.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app, request, url_for
from flask_babel import get_locale

from catalogue.i18n import LOCALES
from catalogue.registry.catalog import ProductSummary
from catalogue.registry.photos import variant_key

#: Path prefixes kept out of search engines: the officials' workspace and the verification pages
#: (a code's page is for the person holding the package; robots.txt says the same).
PRIVATE_PREFIXES = ("/admin/", "/v/", "/verify", "/lang/")
#: Open Graph spells locales with a territory.
OG_LOCALES = {"vi": "vi_VN", "en": "en_GB"}
#: Query arguments that make a different page of the same address (kept in the canonical).
KEPT_ARGS = ("page",)


@dataclass(frozen=True)
class HeadLinks:
    canonical: str
    #: ``(hreflang, href)`` for each language and ``x-default``.
    alternates: list[tuple[str, str]]
    og_locale: str
    og_locale_alternates: list[str]


def absolute(path: str) -> str:
    """``path`` on the registry's public address."""
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path


def _address(args: list[tuple[str, str]]) -> str:
    return absolute(request.path + ("?" + urlencode(args) if args else ""))


def head_links(error: bool = False) -> HeadLinks | None:
    """The current page's canonical and alternates; None for a page no search engine should index."""
    if error or request.path.startswith(PRIVATE_PREFIXES):
        return None
    kept = [(k, v) for k in KEPT_ARGS for v in request.args.getlist(k)[:1] if v and v != "1"]
    current = str(get_locale())
    return HeadLinks(
        canonical=_address([*kept, ("lang", current)]),
        alternates=[(code, _address([*kept, ("lang", code)])) for code in LOCALES]
        + [("x-default", _address(kept))],
        og_locale=OG_LOCALES.get(current, OG_LOCALES["vi"]),
        og_locale_alternates=[OG_LOCALES[c] for c in LOCALES if c != current],
    )


def og_image(summary: ProductSummary) -> str:
    """A product's preview image: its first photo (the JPEG sibling, read by every preview
    service), else the generated card in the page's language."""
    photo = summary.photo
    if photo is not None:
        key = variant_key(photo.file_key, "md", "jpg") if photo.file_key.endswith(".webp") else photo.file_key
        return absolute(url_for("public.media", key=key))
    return absolute(url_for("seo.product_card", slug=summary.product.slug, lang=str(get_locale())))
