"""The image core in fresh Python processes: the same bytes whatever the process and its hash seed, and no
Flask imported (the images themselves are tested in tests/engine/test_images.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from mockmj.media.images import encode_png, render_grid


def run_fresh_python(code: str, hash_seed: str) -> str:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_images_are_identical_across_processes_and_hash_seeds() -> None:
    grid = render_grid("task-1", (1, 1))
    code = (
        "import hashlib; from mockmj.media.images import encode_png, render_grid; "
        "print(hashlib.sha256(encode_png(render_grid('task-1', (1, 1)))).hexdigest())"
    )
    expected = hashlib.sha256(encode_png(grid)).hexdigest()
    assert run_fresh_python(code, "1") == run_fresh_python(code, "2") == expected


def test_the_image_core_does_not_import_flask() -> None:
    code = "import sys, mockmj.media.images, mockmj.media.image_input; print('flask' in sys.modules)"
    assert run_fresh_python(code, "0") == "False"
