"""The record → replay → calibrate workflow of docs/record-replay.md, run as written (ports swapped for free ones)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.doc_blocks import marked
from tests.helpers import free_port

PORTS = ("8090", "8081", "8082", "8083")  # the ports the page uses


def workflow_script() -> str:
    blocks = marked("record-replay.md", "record-example")
    assert len(blocks) == 4, "the record → replay → calibrate section lost a step"
    ports = {p: str(free_port()) for p in PORTS}
    script = re.sub(r"\b(" + "|".join(PORTS) + r")\b", lambda m: ports[m.group(1)], "\n".join(blocks))
    # whatever happens, no server outlives the script
    return "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script


def test_record_replay_calibrate_as_the_docs_show(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MOCKMJ_TARGET_KEY", None)
    done = subprocess.run(["bash", "-c", workflow_script()], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert '"total":0' in lines  # the recorder saw no violation
    assert "no key under rec/" in lines
    replayed = next(line for line in lines if line.startswith("replayed image: "))
    assert re.fullmatch(r"replayed image: /_mockmj/replay/media/\w+\.png", replayed), replayed
    image = (tmp_path / "replayed.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert image in [p.read_bytes() for p in (tmp_path / "rec" / "media").iterdir()]  # the recorded bytes
    assert '"timing":"file:relay-pace.toml"' in lines
    profile = tomllib.loads((tmp_path / "relay-pace.toml").read_text(encoding="utf-8"))
    assert profile["base"] == "fast" and profile["steps"] and profile["start_ms"] >= 0
    assert "violation(s)" in done.stderr  # the recorder's summary when it was stopped
