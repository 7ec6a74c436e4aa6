"""The README's video, edits and describe-by-link examples, run against a live mock after the helpers that
open the flow section (auth, field, wait_done, png): documentation that cannot rot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mockmj.media import video
from tests.helpers import run_bash

README = Path(__file__).resolve().parents[2] / "README.md"


def between(text: str, marker: str) -> str:
    return text.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]


def video_script() -> str:
    text = README.read_text(encoding="utf-8")
    helpers = re.findall(r"```bash\n(.*?)```", between(text, "readme-examples"), flags=re.S)[0]
    blocks = re.findall(r"```bash\n(.*?)```", between(text, "video-examples"), flags=re.S)
    assert len(blocks) >= 3, "the video section lost its examples"
    return "set -euo pipefail\n" + helpers + "\n".join(blocks)


def test_every_video_example_runs_against_a_live_mock(make_server: Any, tmp_path: Path) -> None:
    done = run_bash(make_server(timing="fast", seed=5), video_script(), tmp_path)
    promised = re.findall(r'echo "([\w -]+): .*#\s*\1: (.+)$', video_script(), flags=re.M)
    assert len(promised) >= 8
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines() if re.match(r"^[\w -]+: ", line))
    for label, value in promised:
        assert printed[label] == value.strip(), label
    assert re.search(r"/video_start_[0-9a-f]{16}\.png waves roll in --video 1 --motion high --bs 2$", done.stdout,
                     flags=re.M)
    assert re.search(r"^MJ::JOB::video_virtual_upscale::1::[0-9a-f-]{36}$", done.stdout, flags=re.M)
    frames = video.decode_frames((tmp_path / "clip.mp4").read_bytes())
    assert (len(frames), frames[0].size) == (18, (96, 64))  # what the README says the MP4 is
