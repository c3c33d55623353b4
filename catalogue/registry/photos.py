"""Photo intake: only real JPEG/PNG/WebP images, re-encoded without metadata.

An upload is refused unless Pillow recognises and verifies it, it is within
the byte and pixel limits (decompression bombs are refused before decoding),
and it decodes cleanly. The stored files are fresh encodings — EXIF, GPS and
comments are never copied — in three widths, WebP with a JPEG fallback:

    photos/<h2>/<hash>-sm.webp|jpg   ≤ 400 px wide (cards, lists)
    photos/<h2>/<hash>-md.webp|jpg   ≤ 800 px wide (product page) ← Photo.file_key
    photos/<h2>/<hash>-lg.webp|jpg   ≤ 1600 px wide (zoom)

Keys are content hashes, so files never change and can be cached for a year.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flask import Response, abort, current_app, send_from_directory
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from catalogue.text import fold, nfc

MAX_PHOTO_BYTES = 12 * 1024 * 1024
#: 40 megapixels: any phone photo passes; a small file inflating to more is a bomb.
MAX_PIXELS = 40_000_000
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
VARIANTS = {"sm": 400, "md": 800, "lg": 1600}
DISPLAY = "md"
MAX_ZIP_BYTES = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 1000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
CACHE_SECONDS = 365 * 24 * 3600


class PhotoRejected(ValueError):
    """The upload is not an acceptable photo; the message is for the official."""


@dataclass
class StoredPhoto:
    file_key: str
    width: int
    height: int


def _open_checked(data: bytes) -> Image.Image:
    if not data:
        raise PhotoRejected(_("The file is empty."))
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRejected(_("The photo is larger than %(n)d MB.", n=MAX_PHOTO_BYTES // 1048576))
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice it: treat that as a bomb too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
            if probe.format not in ALLOWED_FORMATS:
                raise PhotoRejected(_("Only JPEG, PNG and WebP photos are accepted."))
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise PhotoRejected(_("The image is too large (%(w)d × %(h)d pixels).", w=width, h=height))
            probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
        except PhotoRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRejected(_("The image is too large to be a photo.")) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise PhotoRejected(_("This file is not a readable JPEG, PNG or WebP image.")) from None
    return image


def _normalise(image: Image.Image) -> Image.Image:
    """Upright (EXIF orientation applied) RGB or RGBA pixels with no metadata attached."""
    image = ImageOps.exif_transpose(image)
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
    clean = image.convert(mode)
    # A fresh image carries no info dict (exif, icc, comments, XMP).
    fresh = Image.new(mode, clean.size)
    fresh.paste(clean)
    return fresh


def ingest(data: bytes, media_dir: Path | str) -> StoredPhoto:
    """Verify, strip and store a photo in every variant; return the display key."""
    image = _normalise(_open_checked(data))
    digest = hashlib.sha256(image.tobytes() + repr(image.size).encode()).hexdigest()[:32]
    folder = Path(media_dir) / "photos" / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    for name, width in VARIANTS.items():
        variant = image
        if image.width > width:
            variant = image.resize(
                (width, round(image.height * width / image.width)), Image.Resampling.LANCZOS
            )
        variant.save(folder / f"{digest}-{name}.webp", "WEBP", quality=80, method=4)
        flat = variant
        if variant.mode == "RGBA":
            flat = Image.new("RGB", variant.size, "white")
            flat.paste(variant, mask=variant.getchannel("A"))
        flat.save(folder / f"{digest}-{name}.jpg", "JPEG", quality=84, optimize=True, progressive=True)
    shown = image if image.width <= VARIANTS[DISPLAY] else None
    width = shown.width if shown else VARIANTS[DISPLAY]
    height = shown.height if shown else round(image.height * VARIANTS[DISPLAY] / image.width)
    return StoredPhoto(file_key=f"photos/{digest[:2]}/{digest}-{DISPLAY}.webp", width=width, height=height)


def variant_key(file_key: str, size: str = DISPLAY, fmt: str = "webp") -> str:
    """The sibling file of a stored photo: ``size`` in sm/md/lg, ``fmt`` webp or jpg."""
    stem = file_key.rsplit("-", 1)[0] if "-" in PurePosixPath(file_key).name else file_key.rsplit(".", 1)[0]
    return f"{stem}-{size}.{fmt}"


def remove_files(media_dir: Path | str, file_key: str) -> None:
    for size in VARIANTS:
        for fmt in ("webp", "jpg"):
            path = Path(media_dir) / variant_key(file_key, size, fmt)
            path.unlink(missing_ok=True)


def photo_name_key(name: str | None) -> str:
    """How a file name in a zip is matched to the `Ảnh` column: base name, folded."""
    base = PurePosixPath(nfc(str(name or "")).replace("\\", "/")).name
    return fold(base)


def zip_images(data: bytes) -> dict[str, tuple[str, bytes]]:
    """Image members of a zip keyed by :func:`photo_name_key` → (name, bytes); bounded in size."""
    if len(data) > MAX_ZIP_BYTES:
        raise PhotoRejected(_("The zip file is too large."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        raise PhotoRejected(_("This is not a zip file.")) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise PhotoRejected(_("The zip file holds more than %(n)d files.", n=MAX_ZIP_MEMBERS))
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise PhotoRejected(_("The zip file is too large once unpacked."))
        out: dict[str, tuple[str, bytes]] = {}
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/")).name
            if name.startswith((".", "__")) or "__MACOSX" in member.filename:
                continue
            if not name.lower().endswith(IMAGE_SUFFIXES) or member.file_size > MAX_PHOTO_BYTES:
                out.setdefault(photo_name_key(name), (name, b""))
                continue
            try:
                content = archive.read(member)
            except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
                # A bad CRC, a truncated or encrypted member: the zip as a whole is refused.
                raise PhotoRejected(
                    _(
                        "The zip file is damaged: %(name)s cannot be unpacked. "
                        "Make the zip file again and upload it.",
                        name=name,
                    )
                ) from None
            out[photo_name_key(name)] = (name, content)
    return out


def serve(key: str) -> Response:
    """A stored media file, cached for a year (keys are content hashes)."""
    if ".." in key.split("/") or key.startswith("/"):
        abort(404)
    return send_from_directory(current_app.config["MEDIA_DIR"], key, max_age=CACHE_SECONDS)
