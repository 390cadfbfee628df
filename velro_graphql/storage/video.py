"""What a stored video is, read with PyAV (FFmpeg inside the wheel; no system ffmpeg): its
duration, its size and one frame to make thumbnails from."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
from PIL import Image

from velro_graphql.storage.media import MAX_PIXELS, UnsupportedMedia

# The thumbnail's frame: this far in (or a tenth of a shorter video), past fade-ins.
_THUMBNAIL_AT_SECONDS = 1.0
# A file whose first frames do not decode is refused rather than read to its end.
_MAX_FRAMES_DECODED = 300


@dataclass(frozen=True)
class VideoInfo:
    duration_seconds: float | None
    width: int
    height: int
    frame: bytes  # PNG of the thumbnail's frame


def describe_video(data: bytes) -> VideoInfo:
    """Duration, size and a frame of an MP4, WebM or MOV; UnsupportedMedia when unreadable."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            duration = _duration(container, stream)
            frame = _frame_near(container, stream, _thumbnail_time(duration))
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise UnsupportedMedia(f"Not a readable video: {exc}") from exc
    width, height = frame.width, frame.height
    if width * height > MAX_PIXELS:
        raise UnsupportedMedia(f"Video of {width}x{height} exceeds {MAX_PIXELS} pixels.")
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    return VideoInfo(duration, width, height, _png(image))


def _duration(container: av.container.InputContainer, stream: av.video.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base), 3)
    if container.duration is not None:
        return round(container.duration / av.time_base, 3)
    return None


def _thumbnail_time(duration: float | None) -> float:
    return _THUMBNAIL_AT_SECONDS if duration is None else min(_THUMBNAIL_AT_SECONDS, duration / 10)


def _frame_near(
    container: av.container.InputContainer, stream: av.video.VideoStream, seconds: float
) -> av.VideoFrame:
    chosen = None
    for count, frame in enumerate(container.decode(stream)):
        chosen = frame
        if (frame.time or 0.0) >= seconds or count >= _MAX_FRAMES_DECODED:
            break
    if chosen is None:
        raise ValueError("no frame decodes")
    return chosen


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()
