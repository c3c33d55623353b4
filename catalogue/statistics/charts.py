"""Charts drawn on the server as SVG: no JavaScript, no chart library.

Every chart is ``<svg role="img" aria-labelledby="… …">`` with a ``<title>`` and a
``<desc>``, and prints each number as text next to its bar, so it reads without colour
(greyscale, colour blindness) and the page's table beside it carries the same numbers for
screen readers. Text is escaped with :func:`markupsafe.escape`; sizes are in ``viewBox``
units, so a chart scales to the width of a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from catalogue.i18n import fmt_number

WIDTH = 360
FONT = 14
#: Rough width of a character at :data:`FONT` (system sans-serif), for layout only.
CHAR = 8.2
ROW = 26
BAR = 18
PAD = 6
INK = "#1d1b1a"
DEFAULT_FILL = "#0b57a4"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    fill: str = DEFAULT_FILL


@dataclass(frozen=True)
class Series:
    """One colour of a stacked chart (a level), with a text colour readable on it."""

    label: str
    fill: str
    ink: str = INK


def _text_width(text: str) -> float:
    return len(text) * CHAR


def _wrap(text: str, width: float) -> list[str]:
    """Words onto lines no wider than ``width`` (a long word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _svg(uid: str, title: str, desc: str, height: float, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{escape(uid)}-title {escape(uid)}-desc" viewBox="0 0 {WIDTH} {height:g}" '
        f'width="{WIDTH}" height="{height:g}" font-size="{FONT}" font-family="system-ui, sans-serif">'
        f'<title id="{escape(uid)}-title">{escape(title)}</title>'
        f'<desc id="{escape(uid)}-desc">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _label(
    x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK, bold: bool = False
) -> str:
    weight = ' font-weight="700"' if bold else ""
    return f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" fill="{fill}"{weight}>{escape(text)}</text>'


def bar_chart(uid: str, title: str, desc: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars in the order given (callers sort), each with its label and number.

    Short labels sit left of their bar; long ones (product groups) on their own lines above it.
    """
    top = max((b.value for b in bars), default=0) or 1
    numbers = [fmt_number(b.value) for b in bars]
    value_room = max((_text_width(n) for n in numbers), default=0) + PAD * 2
    longest = max((_text_width(b.label) for b in bars), default=0)
    beside = longest <= WIDTH * 0.32
    label_room = longest + PAD * 2 if beside else 0
    span = WIDTH - label_room - value_room
    body: list[str] = []
    y = PAD
    for bar, number in zip(bars, numbers, strict=True):
        if not beside:
            for line in _wrap(bar.label, WIDTH):
                y += FONT + 3
                body.append(_label(0, y, line))
            y += 4
        length = span * bar.value / top
        body.append(
            f'<rect x="{label_room:g}" y="{y:g}" width="{length:.1f}" height="{BAR}" fill="{bar.fill}"/>'
        )
        middle = y + BAR / 2 + FONT * 0.35
        if beside:
            body.append(_label(label_room - PAD, middle, bar.label, anchor="end"))
        body.append(_label(label_room + length + PAD, middle, number, bold=True))
        y += BAR + (PAD if beside else PAD * 2)
    return _svg(uid, title, desc, y + PAD, body)


def stacked_chart(
    uid: str, title: str, desc: str, rows: Sequence[tuple[str, Sequence[int]]], series: Sequence[Series]
) -> Markup:
    """One horizontal bar per row (a year) stacked by series (levels), with a legend.

    Each segment wide enough shows its number inside; the row's total follows the bar.
    """
    totals = [sum(values) for _, values in rows]
    top = max(totals, default=0) or 1
    label_room = max((_text_width(label) for label, _ in rows), default=0) + PAD * 2
    value_room = max((_text_width(fmt_number(t)) for t in totals), default=0) + PAD * 2
    span = WIDTH - label_room - value_room
    body: list[str] = []
    y = PAD
    for item in series:  # the legend: a swatch and the series' name, one per line
        body.append(
            f'<rect x="0" y="{y:g}" width="{FONT}" height="{FONT}" fill="{item.fill}" stroke="{INK}"/>'
        )
        body.append(_label(FONT + PAD, y + FONT - 2, item.label))
        y += FONT + PAD
    y += PAD
    for (label, values), total in zip(rows, totals, strict=True):
        middle = y + BAR / 2 + FONT * 0.35
        body.append(_label(label_room - PAD, middle, label, anchor="end"))
        x = label_room
        for value, item in zip(values, series, strict=True):
            if not value:
                continue
            length = span * value / top
            body.append(f'<rect x="{x:.1f}" y="{y:g}" width="{length:.1f}" height="{BAR}" '
                        f'fill="{item.fill}" stroke="#fff" stroke-width="1"/>')  # fmt: skip
            number = fmt_number(value)
            if _text_width(number) + 4 <= length:
                body.append(_label(x + length / 2, middle, number, anchor="middle", fill=item.ink))
            x += length
        body.append(_label(x + PAD, middle, fmt_number(total), bold=True))
        y += ROW
    return _svg(uid, title, desc, y + PAD, body)
