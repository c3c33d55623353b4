"""QR images of verification URLs for packaging: SVG (vector, for print) and PNG.

Error correction is Q (25% of the symbol may be scuffed or curved away on a
jar and still decode); H is only worth its size when a logo covers the code.
The quiet zone of 4 modules is part of the image, so a designer cannot crop it.

The URL is encoded in two segments: the base URL and ``/v/`` in byte mode, and
the code (upper-case Crockford base32, all in the QR alphanumeric set) in
alphanumeric mode. The decoded text is exactly the printed URL, and typical
URLs fit one QR version smaller (33 instead of 37 modules) than in byte mode.

Images never change for a code, so they are generated once and kept under
``MEDIA_DIR/qr`` (keyed by the URL, so a changed ``PUBLIC_BASE_URL`` makes new files).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_Q
from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, QRData

QUIET_ZONE = 4
#: Printed size per module in the SVG's nominal size (≥ 0.45 mm scans reliably).
MODULE_MM = 0.5
PNG_MIN, PNG_DEFAULT, PNG_MAX = 64, 512, 2048
#: Bump when the drawing changes, so cached files are regenerated.
_RENDER_VERSION = "1"


def matrix(url: str, mask_pattern: int | None = None) -> list[list[bool]]:
    """Module matrix of the URL's QR symbol, quiet zone included.

    ``mask_pattern`` (0–7) skips qrcode's search for the best mask, which is most of the
    time a symbol takes: label sheets draw thousands of symbols at once.
    """
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_ZONE, mask_pattern=mask_pattern)
    head, sep, code = url.rpartition("/v/")
    if sep and code and all(c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in code):
        # types-qrcode types the MODE_* constants as plain ``int`` but QRData's mode as their literals.
        qr.add_data(QRData((head + sep).encode(), mode=MODE_8BIT_BYTE))  # type: ignore[call-overload]
        qr.add_data(QRData(code.encode(), mode=MODE_ALPHA_NUM))  # type: ignore[call-overload]
    else:
        qr.add_data(url, optimize=0)
    qr.make(fit=True)
    return qr.get_matrix()


def render_svg(url: str) -> bytes:
    """A compact SVG: one path of horizontal runs in module units (≈2–3 KB)."""
    rows = matrix(url)
    n = len(rows)
    parts = []
    for y, row in enumerate(rows):
        x = 0
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" '
        f'width="{n * MODULE_MM:g}mm" height="{n * MODULE_MM:g}mm" '
        f'shape-rendering="crispEdges" role="img"><title>{_xml(url)}</title>'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    ).encode()


def render_png(url: str, size: int = PNG_DEFAULT) -> bytes:
    """A 1-bit PNG at most ``size`` pixels wide, a whole number of pixels per module."""
    rows = matrix(url)
    n = len(rows)
    scale = max(1, clamp_size(size) // n)
    img = Image.new("1", (n, n), 1)
    img.putdata([0 if cell else 1 for row in rows for cell in row])
    img = img.resize((n * scale, n * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def clamp_size(size: int) -> int:
    return min(PNG_MAX, max(PNG_MIN, size))


def cached(media_dir: Path, url: str, fmt: str, size: int = PNG_DEFAULT) -> bytes:
    """The image from ``MEDIA_DIR/qr``, rendering and storing it on first use.

    Files are written to a temporary name and renamed, so concurrent workers
    never serve a half-written image.
    """
    name = "qr.svg" if fmt == "svg" else f"qr-{clamp_size(size)}.png"
    digest = hashlib.sha256(f"{_RENDER_VERSION}|{url}".encode()).hexdigest()[:24]
    path = Path(media_dir) / "qr" / f"{digest}-{name}"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data = render_svg(url) if fmt == "svg" else render_png(url, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return data


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
