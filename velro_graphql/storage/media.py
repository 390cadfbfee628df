"""What a stored file is, read from its bytes: type, size, hash, thumbnails. No network."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageOps

# 8192 x 8192: above any model's output, below Pillow's own bomb warning (~89 M pixels).
MAX_PIXELS = 8192 * 8192
THUMBNAIL_SIZES = (256, 512)

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
VIDEO_TYPES = ("video/mp4", "video/webm", "video/quicktime")

_PILLOW_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
# ISO base media files that are pictures, not videos (HEIF, AVIF and their sequences).
_IMAGE_BRANDS = {
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
    b"mif1", b"msf1", b"avif", b"avis", b"avio",
}  # fmt: skip
# Old QuickTime files start with one of these atoms instead of `ftyp`.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"pnot"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282


class UnsupportedMedia(ValueError):
    """The bytes are not one of the image or video formats we store."""


def sniff(data: bytes) -> tuple[str, str]:
    """Return (content_type, extension) from the file's magic bytes."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    if head.startswith(_EBML_MAGIC):
        return _sniff_ebml(data[:4096])
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_ftyp(head[8:12])
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return "video/quicktime", "mov"
    raise UnsupportedMedia("Unrecognised file type: not JPEG, PNG, WebP, GIF, MP4, WebM or MOV.")


def _sniff_ftyp(brand: bytes) -> tuple[str, str]:
    if brand == b"qt  ":
        return "video/quicktime", "mov"
    if brand in _IMAGE_BRANDS:
        raise UnsupportedMedia(f"HEIF/AVIF images are not supported (brand {brand!r}).")
    return "video/mp4", "mp4"


def _sniff_ebml(data: bytes) -> tuple[str, str]:
    doctype = _ebml_doctype(data)
    if doctype == b"webm":
        return "video/webm", "webm"
    raise UnsupportedMedia(f"Matroska document type {doctype!r} is not supported, only WebM.")


def _ebml_doctype(data: bytes) -> bytes | None:
    """Return the DocType of an EBML header, or None when it has none."""
    try:
        pos = len(_EBML_MAGIC)
        header_size, pos = _read_vint(data, pos, keep_marker=False)
        end = min(pos + header_size, len(data))
        while pos < end:
            element_id, pos = _read_vint(data, pos, keep_marker=True)
            size, pos = _read_vint(data, pos, keep_marker=False)
            if element_id == _EBML_DOCTYPE:
                return data[pos : pos + size]
            pos += size
    except IndexError:
        pass
    return None


def _read_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > 8 or pos + length > len(data):
        raise IndexError("invalid or truncated EBML variable-length integer")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def describe_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Return the (width, height) of an image, refusing anything over `max_pixels`."""
    with _open_image(data, max_pixels=max_pixels) as image:
        return image.size


def thumbnails(
    data: bytes, sizes: tuple[int, ...] = THUMBNAIL_SIZES, *, max_pixels: int = MAX_PIXELS
) -> dict[int, bytes]:
    """Return a WebP per size whose longest side is that size (or the original's, if smaller)."""
    with _open_image(data, max_pixels=max_pixels) as image:
        base = _upright_rgb(image)
    result: dict[int, bytes] = {}
    for size in sizes:
        thumbnail = base.copy()
        thumbnail.thumbnail((size, size), Image.Resampling.LANCZOS)
        result[size] = _encode_webp(thumbnail)
    return result


def _open_image(data: bytes, *, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except (OSError, Image.DecompressionBombError) as exc:
        raise UnsupportedMedia(f"Not a readable image: {exc}") from exc
    if image.format not in _PILLOW_FORMATS:
        image.close()
        raise UnsupportedMedia(f"Image format {image.format} is not supported.")
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise UnsupportedMedia(f"Image of {width}x{height} exceeds {max_pixels} pixels.")
    return image


def _upright_rgb(image: Image.Image) -> Image.Image:
    try:
        upright = ImageOps.exif_transpose(image)
        has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
        return upright.convert("RGBA" if has_alpha else "RGB")
    except (OSError, ValueError, EOFError) as exc:
        raise UnsupportedMedia(f"Image data is damaged: {exc}") from exc


def _encode_webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()
