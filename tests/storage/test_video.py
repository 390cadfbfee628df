"""Videos read from their bytes with PyAV: duration, size and a frame, or a clear refusal."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from velro_graphql.providers.placeholder import FRAME_MILLISECONDS, VIDEO_FRAMES, render_animation
from velro_graphql.storage.media import UnsupportedMedia
from velro_graphql.storage.video import describe_video


def test_an_mp4_has_its_duration_size_and_a_frame() -> None:
    data = render_animation(prompt="tide", model_id="fal-ai/veo3", width=640, height=360)

    info = describe_video(data)

    assert info.duration_seconds == pytest.approx(VIDEO_FRAMES * FRAME_MILLISECONDS / 1000)
    assert (info.width, info.height) == (640, 360)
    assert Image.open(io.BytesIO(info.frame)).size == (640, 360)


def test_bytes_that_are_not_a_video_are_refused() -> None:
    with pytest.raises(UnsupportedMedia, match="Not a readable video"):
        describe_video(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200)
