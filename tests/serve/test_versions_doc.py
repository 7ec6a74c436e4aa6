"""The side-by-side example of docs/versions.md, run in a fresh shell against the two `mockmj serve` it
starts (their ports moved to free ones): a V8.1 upscale and a pinned V7 upscale print what the page says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.doc_blocks import marked, promised
from tests.helpers import free_port


def test_the_versions_page_example_prints_what_it_promises(tmp_path: Path) -> None:
    (script,) = marked("versions.md", "version-examples")
    script = script.replace("8080", str(free_port())).replace("8081", str(free_port()))
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
           "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    expected = promised(script)
    assert [label for label, _ in expected] == ["default", "pinned"]
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines() if re.match(r"^[\w .-]+: ", line))
    for label, value in expected:
        assert printed[label] == value.strip(), label
