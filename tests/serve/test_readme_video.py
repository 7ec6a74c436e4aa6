"""The video, edits and describe-by-link examples of docs/media.md, run against a live mock after the shell
functions that open docs/flows.md (auth, field, wait_done, png): documentation that cannot rot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mockmj.media import video
from tests.doc_blocks import marked, promised
from tests.helpers import run_bash


def video_script() -> str:
    helpers = marked("flows.md", "flow-examples")[0]
    blocks = marked("media.md", "video-examples")
    assert len(blocks) >= 3, "the video section lost its examples"
    return "set -euo pipefail\n" + helpers + "\n".join(blocks)


def test_every_video_example_runs_against_a_live_mock(make_server: Any, tmp_path: Path) -> None:
    done = run_bash(make_server(timing="fast", seed=5), video_script(), tmp_path)
    expected = promised(video_script())
    assert len(expected) >= 8
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines() if re.match(r"^[\w -]+: ", line))
    for label, value in expected:
        assert printed[label] == value.strip(), label
    assert re.search(r"/video_start_[0-9a-f]{16}\.png waves roll in --video 1 --motion high --bs 2$", done.stdout,
                     flags=re.M)
    assert re.search(r"^MJ::JOB::video_virtual_upscale::1::[0-9a-f-]{36}$", done.stdout, flags=re.M)
    frames = video.decode_frames((tmp_path / "clip.mp4").read_bytes())
    assert (len(frames), frames[0].size) == (18, (96, 64))  # what the page says the MP4 is
