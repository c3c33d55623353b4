"""Photo intake: only real images, bombs refused before decoding, metadata stripped,
resized variants; zip uploads matched by the `Ảnh` column."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from sqlmodel import Session, select

from catalogue.accounts.models import User
from catalogue.db import get_engine
from catalogue.imports import checking as importing
from catalogue.imports import publishing
from catalogue.registry import photos as media
from catalogue.registry.models import Photo, Product
from tests.fixtures.workspace import login, make_user, post, row, xlsx_bytes


def _jpeg_with_exif(size: tuple[int, int] = (2000, 1500)) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0112] = 6  # orientation: rotate 90° when shown
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 30.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"private comment")
    return out.getvalue()


def _png_bomb() -> bytes:
    """A tiny PNG whose header claims 30000 × 30000 pixels (900 megapixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\0" * 30001 * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_exif_is_stripped_orientation_applied_and_variants_made(tmp_path: Path) -> None:
    stored = media.ingest(_jpeg_with_exif(), tmp_path)
    assert stored.file_key.endswith("-md.webp")
    shown = Image.open(tmp_path / stored.file_key)
    assert shown.size == (800, 1067)  # rotated upright, then resized to 800 wide
    assert (stored.width, stored.height) == (800, 1067)
    for size, width in (("sm", 400), ("lg", 1500)):
        for fmt in ("webp", "jpg"):
            variant = Image.open(tmp_path / media.variant_key(stored.file_key, size, fmt))
            assert variant.width == width
            assert not variant.getexif() and "exif" not in variant.info and "comment" not in variant.info
    raw = (tmp_path / media.variant_key(stored.file_key, "lg", "jpg")).read_bytes()
    assert b"SecretCam" not in raw and b"private comment" not in raw


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\0" * 100, "not a readable"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a readable"),
        (b"%PDF-1.4 not an image", "not a readable"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 50, "not a readable"),  # truncated JPEG
    ],
)
def test_non_images_are_refused(tmp_path: Path, data: bytes, words: str) -> None:
    with pytest.raises(media.PhotoRejected, match=words):
        media.ingest(data, tmp_path)
    assert not any(tmp_path.rglob("*.webp"))


def test_gif_is_not_an_accepted_format(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    with pytest.raises(media.PhotoRejected, match="Only JPEG, PNG and WebP"):
        media.ingest(out.getvalue(), tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    data = _png_bomb()
    assert len(data) < 50_000
    with pytest.raises(media.PhotoRejected, match="too large"):
        media.ingest(data, tmp_path)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(media.PhotoRejected, match="larger than"):
        media.ingest(b"\xff" * (media.MAX_PHOTO_BYTES + 1), tmp_path)


def test_transparent_png_keeps_alpha_in_webp(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (10, 20, 30, 0)).save(out, "PNG")
    stored = media.ingest(out.getvalue(), tmp_path)
    assert Image.open(tmp_path / stored.file_key).mode == "RGBA"
    assert Image.open(tmp_path / media.variant_key(stored.file_key, "md", "jpg")).mode == "RGB"


@pytest.fixture
def hue(seeded_app: Flask) -> dict:
    make_user(seeded_app, "hue@so.gov.vn", "province", "Huế")
    client = seeded_app.test_client()
    login(client, "hue@so.gov.vn")
    with seeded_app.test_request_context("/?lang=en"), Session(get_engine()) as s:
        user = s.exec(select(User).where(User.email == "hue@so.gov.vn")).one()
        rows = [
            row(1, province="Huế", photo="Ảnh 1.JPG"),
            row(2, province="Huế", photo="anh-2.png"),
            row(3, province="Huế", photo="thieu.jpg"),
        ]
        batch, _ = importing.stage_batch(s, actor=user, filename="hue.xlsx", data=xlsx_bytes(rows))
        publishing.publish_batch(s, actor=user, batch=batch)
        s.commit()
        return {"client": client, "batch_id": batch.id}


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), color).save(out, "PNG")
    return out.getvalue()


def test_zip_photos_are_matched_by_the_photo_column(seeded_app: Flask, hue: dict) -> None:
    client, batch_id = hue["client"], hue["batch_id"]
    data = _zip(
        {
            "anh/ảnh 1.jpg": _jpeg_with_exif((640, 480)),
            "anh-2.png": _png(),
            "la.png": _png("blue"),
            "ghi-chu.txt": b"hello",
            "__MACOSX/._anh-2.png": b"junk",
        }
    )
    response = post(
        client,
        f"/admin/imports/{batch_id}/photos?lang=en",
        {"file": (io.BytesIO(data), "anh.zip")},
        token_from=f"/admin/imports/{batch_id}",
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "2 photos attached." in page
    assert "la.png" in page and "ghi-chu.txt" in page  # reported, not attached
    assert "thieu.jpg" in page  # named in the file but missing from the zip
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        photos = s.exec(select(Photo, Product.name).join(Product, Product.id == Photo.product_id)).all()
        assert sorted(name for _, name in photos) == [
            "Chè Shan tuyết thử nghiệm 1",
            "Chè Shan tuyết thử nghiệm 2",
        ]
        key = photos[0][0].file_key
    served = seeded_app.test_client().get(f"/media/{key}")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert seeded_app.test_client().get("/media/../catalogue.sqlite3").status_code == 404


def test_single_photo_upload_and_removal_are_audited(seeded_app: Flask, hue: dict) -> None:
    client = hue["client"]
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        product = s.exec(select(Product).where(Product.name == "Chè Shan tuyết thử nghiệm 3")).one()
    url = f"/admin/products/{product.id}"
    response = post(
        client,
        url + "/photos?lang=en",
        {"file": (io.BytesIO(b"not an image"), "x.jpg"), "alt": ""},
        token_from=url,
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "not a readable JPEG, PNG or WebP image" in response.get_data(as_text=True)
    post(
        client,
        url + "/photos",
        {"file": (io.BytesIO(_png()), "p.png"), "alt": "Hộp chè"},
        token_from=url,
        content_type="multipart/form-data",
    )
    from catalogue.audit.models import AuditEntry

    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        photo = s.exec(select(Photo).where(Photo.product_id == product.id)).one()
        assert photo.alt == "Hộp chè"
    post(client, f"/admin/photos/{photo.id}/delete", {}, token_from=url)
    with Session(get_engine(seeded_app.config["SQLALCHEMY_URL"])) as s:
        assert s.exec(select(Photo).where(Photo.product_id == product.id)).first() is None
        actions = s.exec(select(AuditEntry.action).where(AuditEntry.entity_type == "photo")).all()
    assert sorted(actions) == ["add_photo", "remove_photo"]
