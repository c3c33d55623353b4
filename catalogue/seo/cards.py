"""The link-preview card of a product without a photo: a 1200×630 PNG with its name, its level
and the CNNT mark, drawn with Pillow in Source Sans Pro (the label sheets' font, which has
every Vietnamese letter).

Cards are cached under ``MEDIA_DIR/og/`` by a hash of everything drawn on them, so a renamed
product or a new level gets a new card and an unchanged one is drawn once.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 630
MARGIN = 72
#: The site's colours (static/css/site.css): its red brand on warm white.
INK, PAPER, ACCENT, MUTED = "#1d1b1a", "#fbf9f6", "#a4261d", "#5c5652"
#: Bump when the drawing changes, so cached cards are drawn again.
VERSION = "1"
FOLDER = "og"
ELLIPSIS = "…"


@dataclass(frozen=True)
class Card:
    """What a card says, already in the page's language."""

    title: str
    #: e.g. "Provincial level · 2024"; empty when the product holds no certificate.
    level: str
    producer: str
    site: str
    #: The registry's address, at the bottom ("registry.example.vn").
    address: str = ""

    @property
    def key(self) -> str:
        text = "\x1f".join((VERSION, self.title, self.level, self.producer, self.site, self.address))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.cache
def _font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    files = resources.files("font_source_sans_pro") / "files"
    with resources.as_file(files / f"SourceSansPro-{weight}.ttf") as path:
        return ImageFont.truetype(str(path), size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + ELLIPSIS, font=font) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int, lines: int
) -> list[str]:
    """Words in at most ``lines`` lines of ``width`` pixels; the last one ends in "…" if cut."""
    out: list[str] = []
    words = text.split()
    while words and len(out) < lines:
        line = words.pop(0)
        while words and draw.textlength(f"{line} {words[0]}", font=font) <= width:
            line += " " + words.pop(0)
        out.append(_fit(draw, line, font, width))
    if words and out:
        out[-1] = _fit(draw, out[-1] + " " + " ".join(words), font, width)
    return out


def draw(card: Card) -> bytes:
    """The card as PNG bytes."""

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, WIDTH, 16), fill=ACCENT)
    # The CNNT mark: a round seal, top right.
    mark = _font("Bold", 44)
    cx, cy, r = WIDTH - MARGIN - 80, MARGIN + 90, 80
    pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=ACCENT)
    pen.ellipse((cx - r + 8, cy - r + 8, cx + r - 8, cy + r - 8), outline=PAPER, width=3)
    pen.text((cx, cy), "CNNT", font=mark, fill=PAPER, anchor="mm")
    text_width = WIDTH - 2 * MARGIN - 2 * r - 40
    pen.text((MARGIN, MARGIN + 10), _fit(pen, card.site, _font("Semibold", 30), text_width),
             font=_font("Semibold", 30), fill=ACCENT)  # fmt: skip
    title = _font("Bold", 64)
    y = MARGIN + 90
    for line in _wrap(pen, card.title, title, text_width, 3):
        pen.text((MARGIN, y), line, font=title, fill=INK)
        y += 76
    y += 20
    if card.level:
        pen.text((MARGIN, y), _fit(pen, card.level, _font("Semibold", 40), WIDTH - 2 * MARGIN),
                 font=_font("Semibold", 40), fill=ACCENT)  # fmt: skip
        y += 56
    if card.producer:
        pen.text((MARGIN, y), _fit(pen, card.producer, _font("Regular", 34), WIDTH - 2 * MARGIN),
                 font=_font("Regular", 34), fill=MUTED)  # fmt: skip
    if card.address:
        pen.line((MARGIN, HEIGHT - MARGIN - 40, WIDTH - MARGIN, HEIGHT - MARGIN - 40), fill=ACCENT, width=2)
        small = _font("Semibold", 30)
        pen.text((MARGIN, HEIGHT - MARGIN - 20), _fit(pen, card.address, small, WIDTH - 2 * MARGIN),
                 font=small, fill=MUTED)  # fmt: skip
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def cached(card: Card, media_dir: Path | str) -> Path:
    """The card's file under ``media_dir``, drawn on first use (written whole, then renamed)."""
    path = Path(media_dir) / FOLDER / card.key[:2] / f"{card.key}.png"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        tmp.write_bytes(draw(card))
        os.replace(tmp, path)
    return path
