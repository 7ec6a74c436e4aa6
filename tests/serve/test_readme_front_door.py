"""The README's own examples, run: the curl block, the JavaScript and Python apps (against a live mock, its
address put where the README says 127.0.0.1:8080) and the pytest example (through the installed plugin)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from tests.doc_blocks import blocks, page

pytest_plugins = ["pytester"]

README_URL = "http://127.0.0.1:8080"
OTHERS = [arg for ep in entry_points(group="pytest11") if ep.name != "mockmj" for arg in ("-p", f"no:{ep.name}")]


def example(lang: str, needle: str) -> str:
    (block,) = [b for b in blocks(page("README.md"), lang) if needle in b]
    return block


def test_the_curl_block_fetches_a_finished_task(make_server: Any, tmp_path: Path) -> None:
    server = make_server(timing="fast")
    script = "set -euo pipefail\n" + example("bash", "/mj/submit/imagine").replace(README_URL, server.base_url)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout.splitlines()[-1])
    assert (task["action"], task["status"], task["progress"]) == ("IMAGINE", "SUCCESS", "100%")
    assert task["imageUrl"].startswith(f"{server.base_url}/attachments/")


def test_the_javascript_app_polls_a_task_to_success(make_server: Any, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js runs the README's JavaScript example (a fresh machine has it; `apt-get install nodejs`)"
    server = make_server(timing="fast")
    app = tmp_path / "app.mjs"  # an ES module: top-level await, as the README's block is written
    app.write_text(example("js", "fetch("), encoding="utf-8")
    done = subprocess.run([node, str(app)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MJ_BASE_URL": server.base_url})
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"SUCCESS {re.escape(server.base_url)}/attachments/\S+\.png", done.stdout.strip())
    # the JavaScript example of Getting started is the same app
    assert example("js", "fetch(") in blocks(page("getting-started.md"), "js")


def test_the_python_app_polls_a_task_to_success(make_server: Any, tmp_path: Path) -> None:
    server = make_server(timing="fast")
    app = tmp_path / "app.py"
    app.write_text(example("python", "requests.post(f\"{BASE}").replace(README_URL, server.base_url), encoding="utf-8")
    done = subprocess.run([sys.executable, str(app)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"SUCCESS {re.escape(server.base_url)}/attachments/\S+\.png", done.stdout.strip())


def test_the_pytest_example_passes_with_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=example("python", "def test_"))
    result = pytester.runpytest_subprocess(*OTHERS, "-v")
    result.assert_outcomes(passed=2)
