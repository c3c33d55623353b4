"""What search engines and link previews read: the sitemap and robots.txt, canonical and
language links, Open Graph tags with a generated card, and schema.org JSON-LD.

Every address here is absolute and built from ``PUBLIC_BASE_URL``, never from the request's
Host header: a crawler behind a proxy or a test client must see the registry's own addresses.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprint and the template helpers the page partials call (``create_app``)."""
    from catalogue.seo import jsonld, links, views

    app.register_blueprint(views.bp)
    app.add_template_global(links.head_links, "seo_head")
    app.add_template_global(links.og_image, "og_image")
    app.add_template_global(jsonld.product, "product_jsonld")
    app.add_template_global(jsonld.producer, "producer_jsonld")
    app.add_template_global(jsonld.event, "event_jsonld")
