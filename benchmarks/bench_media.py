"""What true sizes and video cost to render (printed, never asserted).

    python benchmarks/bench_media.py [--repeat 3]

1. a V7 grid at its true size (2048², four 1024² cells): draw, PNG encode;
2. a U result (the cell: a crop) and an Upscale (Subtle) (2048²): render + PNG;
3. videos: frames + H.264 encode of an SD (640²) and an HD (1280²) clip, and decoding one back.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from mockmj.media import images, video


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat

    ms, grid = best_of(repeat, lambda: images.render_grid("bench", (1, 1)))
    print(f"grid 1:1 {grid.size[0]}x{grid.size[1]}: draw {ms:.0f} ms")
    ms, png = best_of(repeat, lambda: images.encode_png(grid))
    print(f"grid PNG encode: {ms:.0f} ms, {len(png) / 1024:.0f} KiB")
    cell = images.crop_panel(grid, 1)
    ms, _ = best_of(repeat, lambda: images.encode_png(images.crop_panel(grid, 1)))
    print(f"U result {cell.size[0]}x{cell.size[1]} (crop + PNG): {ms:.0f} ms")
    ms, _ = best_of(repeat, lambda: images.encode_png(images.upscale(cell, 2.0)))
    print(f"Upscale (Subtle) to 2048x2048 (LANCZOS + PNG): {ms:.0f} ms")

    for name, long_side in (("SD", video.SD_LONG_SIDE), ("HD", video.HD_LONG_SIDE)):
        size = video.video_size(cell.size, long_side)
        clip = video.Clip(video.fit(cell, size), "bench", "high")
        ms_frames, frames = best_of(repeat, lambda clip=clip: video.frames(clip))
        ms_encode, data = best_of(repeat, lambda frames=frames: video.encode_mp4(frames))
        ms_decode, _ = best_of(repeat, lambda data=data: video.decode_frames(data))
        print(f"video {name} {size[0]}x{size[1]}, {video.FRAMES} frames: frames {ms_frames:.0f} ms, "
              f"H.264 encode {ms_encode:.0f} ms, {len(data) / 1024:.0f} KiB; decode {ms_decode:.0f} ms")
    small = video.Clip(video.fit(cell, (96, 64)), "bench", "low")
    ms, data = best_of(repeat, lambda: video.render_mp4(small))
    print(f"video 96x64 (what the tests render): {ms:.0f} ms, {len(data) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
