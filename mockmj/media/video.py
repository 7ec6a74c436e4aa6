"""Deterministic, real videos: a still image animated into a short H.264 MP4.

A client of the video API downloads `videoUrl`, checks it is an MP4 that decodes, maybe shows it or
reads its first and last frames (an extend must continue where its parent stopped). So the bytes are
real: PyAV, whose wheel ships FFmpeg with libx264, encodes frames computed from the source image.

Every frame is a pure function of (source, end image, seed, motion, t), so a video is never stored:
it is rendered the first time its URL is fetched, and any frame (the last one, for an extend) can be
computed alone without encoding anything. Motion is a slow zoom and drift ("Ken Burns"); high motion
moves further and adds a light pulse. With an end image (or a loop) the last frame is that image.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

from mockmj.media.pillow import Image

FPS = 6
SECONDS = 3
FRAMES = FPS * SECONDS  # a few seconds at a low rate: real bytes, cheap to render in tests
SD_LONG_SIDE = 640  # vid_1.1_i2v_480 (the default video type)
HD_LONG_SIDE = 1280  # vid_1.1_i2v_720, and what a video upscale gives
THUMBNAIL_LONG_SIDE = 640
VIDEO_TYPES = {"vid_1.1_i2v_480": SD_LONG_SIDE, "vid_1.1_i2v_720": HD_LONG_SIDE}
MOTIONS = ("low", "high")
BATCH_SIZES = (1, 2, 4)

# How far the camera moves over the whole clip, per motion level: (zoom added, drift as a share of the frame).
_MOVE = {"low": (0.06, 0.03), "high": (0.2, 0.1)}


@dataclass(frozen=True)
class Clip:
    """What one video of a batch shows: its first picture, where it ends, and how it moves."""

    start: Image.Image  # already at the video's size
    seed: str
    motion: str = "low"
    end: Image.Image | None = None  # the last frame (an end image, or the start again for a loop)

    @property
    def size(self) -> tuple[int, int]:
        return self.start.size


def video_size(source: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The source's aspect at most `long_side` long (never enlarged), both sides even as H.264 needs."""
    width, height = source
    scale = min(1.0, long_side / max(width, height))
    return (max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2))


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` as RGB at exactly `size` (a no-op when it already is)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return rgb if rgb.size == size else rgb.resize(size, Image.Resampling.BILINEAR)


def frame_at(clip: Clip, t: float) -> Image.Image:
    """The clip at time `t` (0..1): exactly the start image at 0, exactly the end image (if any) at 1."""
    t = min(max(t, 0.0), 1.0)
    if t == 0.0:
        return clip.start.copy()
    if t == 1.0 and clip.end is not None:
        return clip.end.copy()
    moved = _camera(clip.start, clip.seed, clip.motion, t)
    if clip.end is None:
        return moved
    # Over the second half the picture dissolves into where the clip must end.
    weight = max(0.0, (t - 0.5) / 0.5)
    return Image.blend(moved, clip.end, weight * weight) if weight > 0 else moved


def frames(clip: Clip, count: int = FRAMES) -> list[Image.Image]:
    return [frame_at(clip, k / (count - 1)) for k in range(count)]


def _camera(image: Image.Image, seed: str, motion: str, t: float) -> Image.Image:
    rng = random.Random(f"mockmj:video:{seed}")
    zoom_total, drift_total = _MOVE.get(motion, _MOVE["low"])
    heading = rng.uniform(0, math.tau)
    ease = t * t * (3 - 2 * t)  # smoothstep: the camera starts and stops gently
    width, height = image.size
    zoom = 1.0 + zoom_total * ease
    win_w, win_h = width / zoom, height / zoom
    cx = width / 2 + math.cos(heading) * drift_total * width * ease
    cy = height / 2 + math.sin(heading) * drift_total * height * ease
    left = min(max(cx - win_w / 2, 0.0), width - win_w)
    top = min(max(cy - win_h / 2, 0.0), height - win_h)
    frame = image.resize(image.size, Image.Resampling.BILINEAR, box=(left, top, left + win_w, top + win_h))
    if motion == "high":
        pulse = 1.0 + 0.12 * math.sin(math.pi * ease) * rng.choice((-1, 1))
        frame = frame.point([min(255, round(v * pulse)) for v in range(256)] * 3)
    return frame


def encode_mp4(pictures: list[Image.Image], fps: int = FPS) -> bytes:
    """H.264 (yuv420p) in an MP4 container, byte-identical for identical frames.

    One encoder thread, because x264's frame threads may pick other decisions from run to run; the
    container gets no creation time, so the bytes depend on the frames alone.
    """
    import av  # PyAV (FFmpeg) costs a tenth of the server's start-up: loaded with the first video made

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = pictures[0].size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"preset": "ultrafast", "crf": "26"}
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def render_mp4(clip: Clip) -> bytes:
    return encode_mp4(frames(clip))


def decode_frames(data: bytes) -> list[Image.Image]:
    """Every frame of an MP4 as RGB pictures (tests and the contract suite check what they got)."""
    import av

    with av.open(io.BytesIO(data)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]
