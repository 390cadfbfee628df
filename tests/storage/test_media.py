from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image

from velro_graphql.storage.media import (
    UnsupportedMedia,
    describe_image,
    sha256_hex,
    sniff,
    thumbnails,
)


def picture(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object) -> bytes:
    colors: dict[str, int | tuple[int, ...]] = {"P": 1, "RGBA": (255, 0, 0, 128)}
    color = colors.get(mode, (255, 0, 0))
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def ftyp(brand: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", brand + b"\x00\x00\x02\x00" + b"".join(compatible)) + box(b"mdat")


def ebml(doctype: bytes) -> bytes:
    children = (
        b"\x42\x86\x81\x01"  # EBMLVersion 1
        + b"\x42\xf7\x81\x01"  # EBMLReadVersion 1
        + b"\x42\x82"
        + bytes([0x80 | len(doctype)])
        + doctype
        + b"\x42\x87\x81\x04"  # DocTypeVersion 4
    )
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(children)]) + children + b"\x18\x53\x80\x67"


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (picture("JPEG"), ("image/jpeg", "jpg")),
        (picture("PNG"), ("image/png", "png")),
        (picture("WEBP"), ("image/webp", "webp")),
        (picture("GIF"), ("image/gif", "gif")),
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), ("video/mp4", "mp4")),
        (ftyp(b"mp41"), ("video/mp4", "mp4")),
        (ftyp(b"mp42", b"mp42", b"isom"), ("video/mp4", "mp4")),
        (ftyp(b"avc1"), ("video/mp4", "mp4")),
        (ftyp(b"dash", b"iso6"), ("video/mp4", "mp4")),
        (ftyp(b"M4V ", b"M4V ", b"mp42"), ("video/mp4", "mp4")),
        (ftyp(b"iso5"), ("video/mp4", "mp4")),
        (ftyp(b"3gp5"), ("video/mp4", "mp4")),
        (ftyp(b"qt  ", b"qt  "), ("video/quicktime", "mov")),
        (box(b"wide") + box(b"mdat"), ("video/quicktime", "mov")),
        (box(b"moov", b"\x00" * 100), ("video/quicktime", "mov")),
        (ebml(b"webm"), ("video/webm", "webm")),
    ],
)
def test_sniff_recognises_supported_media(data: bytes, expected: tuple[str, str]) -> None:
    assert sniff(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world",
        b"<html><body>not found</body></html>",
        b"\x00" * 64,
        ftyp(b"heic", b"mif1", b"heic"),
        ftyp(b"mif1", b"heic"),
        ftyp(b"avif", b"mif1", b"miaf"),
        ebml(b"matroska"),
        b"\x1a\x45\xdf\xa3\x00",  # truncated EBML header
        b"RIFF\x00\x00\x00\x00WAVE",
        picture("BMP"),
        picture("TIFF"),
    ],
)
def test_sniff_refuses_everything_else(data: bytes) -> None:
    with pytest.raises(UnsupportedMedia):
        sniff(data)


def test_unsupported_media_is_a_value_error() -> None:
    assert issubclass(UnsupportedMedia, ValueError)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_describe_image_reads_the_dimensions(fmt: str) -> None:
    assert describe_image(picture(fmt, (123, 45))) == (123, 45)


@pytest.mark.parametrize(
    "data",
    [
        png_header(100_000, 100_000),  # a decompression bomb by its header alone
        picture("PNG", (20, 20))[:30],
        picture("BMP"),
        b"garbage",
    ],
)
def test_describe_image_refuses_bombs_and_garbage(data: bytes) -> None:
    with pytest.raises(UnsupportedMedia):
        describe_image(data)


def test_describe_image_applies_the_pixel_limit() -> None:
    data = picture("PNG", (20, 20))

    assert describe_image(data, max_pixels=400) == (20, 20)
    with pytest.raises(UnsupportedMedia, match="exceeds"):
        describe_image(data, max_pixels=399)


def webp_size(data: bytes) -> tuple[int, int]:
    assert sniff(data) == ("image/webp", "webp")
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ((1000, 600), {256: (256, 154), 512: (512, 307)}),
        ((600, 1000), {256: (154, 256), 512: (307, 512)}),
        ((300, 200), {256: (256, 171), 512: (300, 200)}),
        ((100, 50), {256: (100, 50), 512: (100, 50)}),
    ],
)
def test_thumbnails_fit_the_longest_side_without_upscaling(
    original: tuple[int, int], expected: dict[int, tuple[int, int]]
) -> None:
    result = thumbnails(picture("JPEG", original))

    assert {size: webp_size(data) for size, data in result.items()} == expected


def test_thumbnails_keep_transparency_and_take_other_sizes() -> None:
    result = thumbnails(picture("PNG", (64, 64), mode="RGBA"), sizes=(32,))

    assert list(result) == [32]
    with Image.open(io.BytesIO(result[32])) as image:
        assert (image.size, image.mode) == ((32, 32), "RGBA")


def test_thumbnails_of_a_transparent_gif() -> None:
    result = thumbnails(picture("GIF", (64, 32), mode="P", transparency=0))

    assert webp_size(result[256]) == (64, 32)


def test_thumbnails_follow_the_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    data = picture("JPEG", (200, 100), exif=exif)

    assert webp_size(thumbnails(data)[512]) == (100, 200)


def test_thumbnails_refuse_what_is_not_an_image() -> None:
    with pytest.raises(UnsupportedMedia):
        thumbnails(ftyp(b"isom"))
    with pytest.raises(UnsupportedMedia):
        thumbnails(picture("JPEG", (400, 300))[:200])


def test_sha256_hex() -> None:
    assert sha256_hex(b"velro") == hashlib.sha256(b"velro").hexdigest()
