"""The README's curl examples, run in order against a live mock: documentation that cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import run_bash

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_script() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- readme-examples:start -->", 1)[1].split("<!-- readme-examples:end -->", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 10, "the flow section lost its examples"
    return "set -euo pipefail\n" + "\n".join(blocks)


def test_every_flow_example_runs_against_a_live_mock(make_server: Any, tmp_path: Path) -> None:
    done = run_bash(make_server(timing="fast", seed=5), readme_script(), tmp_path)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("MJ::JOB::upsample::1::")
    # every value the README announces in a "# label: value" comment is what the mock printed
    promised = re.findall(r'echo "([\w-]+): .*#\s*\1: (.+)$', readme_script(), flags=re.M)
    assert len(promised) >= 9
    printed = dict(line.split(": ", 1) for line in lines if re.match(r"^[\w-]+: ", line))
    for label, value in promised:
        expected = value.strip()
        if "<id>" in expected:
            assert re.fullmatch(re.escape(expected).replace("<id>", r"\d{16}"), printed[label]), label
        else:
            assert printed[label] == expected, label
    assert "1️⃣" in done.stdout and "--ar 4:3" in done.stdout
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "uploaded.png").stat().st_size > 0


def test_quick_start_copy_pastes_in_a_fresh_shell(tmp_path: Path) -> None:
    """The Quick start block as a newcomer pastes it: a fresh bash, nothing on PATH but the virtual
    environment and the system's tools, no MJ/KEY set (its port moved to a free one: 8080 may be taken)."""
    import json
    import socket

    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- quick-start:start -->", 1)[1].split("<!-- quick-start:end -->", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + block.replace("8080", str(port))
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
           "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    lines = done.stdout.splitlines()
    task_id = re.fullmatch(r"task: (\d{16})", lines[0])
    assert task_id, lines
    task = json.loads(lines[-1])
    assert (task["id"], task["status"], task["progress"]) == (task_id.group(1), "SUCCESS", "100%")
    assert task["imageUrl"].startswith(f"http://127.0.0.1:{port}/attachments/")
    assert any(b["label"] == "U1" for b in task["buttons"])
