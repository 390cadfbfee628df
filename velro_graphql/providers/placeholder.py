"""Labelled stand-in pictures the simulator returns: nobody can mistake them for real output."""

from __future__ import annotations

import colorsys
import hashlib
import io
import textwrap

import av
from PIL import Image, ImageDraw, ImageFont

LABEL = "SIMULATED"
REFERENCE_LABEL = "reference image"
# The reference image's frame: a share of the picture's width and height, bottom right.
REFERENCE_SHARE = 0.4
REFERENCE_MARGIN = 0.04
MAX_REFERENCE_PIXELS = 8192 * 8192
VIDEO_FRAMES = 12
FRAME_MILLISECONDS = 100
PROMPT_LINES = 4

Colour = tuple[int, int, int]


def render_image(
    *,
    prompt: str,
    model_id: str,
    width: int,
    height: int,
    variant: int = 0,
    caption: str = "",
    reference: bytes | None = None,
) -> bytes:
    """Render a PNG in colours taken from the prompt, labelled SIMULATED, the model and prompt,
    with the reference image (if any) in a labelled frame."""
    picture = _gradient(prompt, variant, (width, height))
    picture.alpha_composite(_labels(prompt, model_id, caption, (width, height)))
    picture.alpha_composite(_reference_layer(reference, (width, height)))
    buffer = io.BytesIO()
    # Fast compression: the simulator at zero delay is what the worker benchmark measures.
    picture.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def render_animation(
    *,
    prompt: str,
    model_id: str,
    width: int,
    height: int,
    caption: str = "",
    reference: bytes | None = None,
) -> bytes:
    """Render a short H.264 MP4 of a ball crossing a labelled background (and the reference
    image, if any, in its frame)."""
    width, height = width - width % 2, height - height % 2  # 4:2:0 needs even sides
    background = _gradient(prompt, 0, (width, height))
    labels = _labels(prompt, model_id, caption, (width, height))
    labels.alpha_composite(_reference_layer(reference, (width, height)))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=1000 // FRAME_MILLISECONDS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(VIDEO_FRAMES):
            image = _frame(background, labels, index)
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))  # flush the encoder
    return buffer.getvalue()


def reference_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where the reference image's frame is: (left, top, right, bottom) in the picture."""
    width, height = size
    right, bottom = round(width * (1 - REFERENCE_MARGIN)), round(height * (1 - REFERENCE_MARGIN))
    return (
        right - round(width * REFERENCE_SHARE),
        bottom - round(height * REFERENCE_SHARE),
        right,
        bottom,
    )


def fit_reference(
    reference: Image.Image, box: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """Where the reference image goes inside `box`: as large as fits, centred."""
    left, top, right, bottom = box
    scale = min((right - left) / reference.width, (bottom - top) / reference.height)
    width, height = max(1, round(reference.width * scale)), max(1, round(reference.height * scale))
    x, y = left + (right - left - width) // 2, top + (bottom - top - height) // 2
    return x, y, x + width, y + height


def _reference_layer(reference: bytes | None, size: tuple[int, int]) -> Image.Image:
    """A transparent layer with the reference image in a white, labelled frame."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    image = _open_reference(reference)
    if image is None:
        return layer
    box = reference_box(size)
    draw = ImageDraw.Draw(layer)
    border = max(2, size[0] // 200)
    outer = (box[0] - border, box[1] - border, box[2] + border, box[3] + border)
    draw.rectangle(outer, fill=(0, 0, 0, 255), outline=(255, 255, 255, 255), width=border)
    placed = fit_reference(image, box)
    layer.paste(image.resize((placed[2] - placed[0], placed[3] - placed[1])), placed[:2])
    font = _font(max(8, (box[3] - box[1]) / 12))
    _draw_centred(draw, REFERENCE_LABEL, font, ((box[0] + box[2]) / 2, box[1] - font.size))
    return layer


def _open_reference(reference: bytes | None) -> Image.Image | None:
    if reference is None:
        return None
    try:
        with Image.open(io.BytesIO(reference)) as image:
            if image.width * image.height > MAX_REFERENCE_PIXELS:
                return None
            return image.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _frame(background: Image.Image, labels: Image.Image, index: int) -> Image.Image:
    frame = background.copy()
    width, height = frame.size
    radius = max(4, height // 10)
    x = radius + (width - 2 * radius) * index // (VIDEO_FRAMES - 1)
    y = height - radius * 3 // 2
    box = (x - radius, y - radius, x + radius, y + radius)
    ImageDraw.Draw(frame).ellipse(box, fill=(255, 214, 0, 255), outline=(0, 0, 0, 255))
    frame.alpha_composite(labels)
    return frame.convert("RGB")


def _gradient(prompt: str, variant: int, size: tuple[int, int]) -> Image.Image:
    top, bottom = _palette(prompt, variant)
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGBA", size, bottom), Image.new("RGBA", size, top), mask)


def _palette(prompt: str, variant: int) -> tuple[Colour, Colour]:
    digest = hashlib.sha256(prompt.encode()).digest()
    hue = (digest[0] / 256 + variant * 0.17) % 1.0
    saturation = 0.45 + digest[1] / 256 * 0.4
    return _rgb(hue, saturation, 0.62), _rgb((hue + 0.12) % 1.0, saturation, 0.22)


def _rgb(hue: float, saturation: float, value: float) -> Colour:
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _labels(prompt: str, model_id: str, caption: str, size: tuple[int, int]) -> Image.Image:
    """A transparent layer with the rows of text centred as one block."""
    rows = _rows(prompt, model_id, caption, size)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    line_heights = [round(font.size * 1.35) for _, font in rows]
    y = (size[1] - sum(line_heights)) / 2
    for (text, font), line_height in zip(rows, line_heights, strict=True):
        y += line_height / 2
        _draw_centred(draw, text, font, (size[0] / 2, y))
        y += line_height / 2
    return layer


def _rows(
    prompt: str, model_id: str, caption: str, size: tuple[int, int]
) -> list[tuple[str, ImageFont.FreeTypeFont]]:
    scale = min(size[0], size[1] * 1.5)
    title, small = _font(scale / 7), _font(scale / 28)
    text = _font(scale / 30)
    rows = [(LABEL, title), (model_id, small)]
    if caption:
        rows.append((caption, small))
    return rows + [(line, text) for line in _wrap(prompt, size[0], text.size)]


def _wrap(prompt: str, width: int, font_size: float) -> list[str]:
    characters = max(10, int(width * 0.9 / (font_size * 0.55)))
    return textwrap.wrap(prompt, characters, max_lines=PROMPT_LINES, placeholder=" ...")


def _font(size: float) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=max(8, round(size)))
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("the simulator's placeholders need Pillow built with FreeType")
    return font


def _draw_centred(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, at: tuple[float, float]
) -> None:
    stroke = max(1, round(font.size / 18))
    draw.text(
        at, text, font=font, anchor="mm", fill="white", stroke_width=stroke, stroke_fill="black"
    )
