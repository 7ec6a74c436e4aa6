"""`mockmj serve`: its options, a real start and a clean stop, and clear errors for bad input."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import requests
from click.testing import CliRunner
from PIL import Image

from mockmj.cli import main
from mockmj.config import load_settings
from tests.helpers import free_port

OPTIONS = ("--host", "--port", "--timing", "--seed", "--api-key", "--no-auth", "--config", "--public-url", "--dialect")


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockmj", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.fixture
def serve() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; any still running at the end is killed (by its own pid)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def start(serve: list[subprocess.Popen[str]], *args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mockmj", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    serve.append(process)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, process.communicate()
        try:
            requests.get(base + "/_mockmj/health", timeout=1)
            return process, base
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_serve_help_lists_the_options() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in OPTIONS:
        assert option in result.stdout, option
    for choice in ("fast", "realistic", "per-poll", "manual", "88api", "proxy"):
        assert choice in result.stdout, choice


def test_console_script_help() -> None:
    script = shutil.which("mockmj") or str(Path(sys.executable).with_name("mockmj"))
    if not Path(script).exists():
        pytest.skip("the mockmj console script is not installed in this environment")
    result = subprocess.run([script, "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    for option in OPTIONS:
        assert option in result.stdout, option


def test_serve_answers_and_stops_on_sigint(serve: list[subprocess.Popen[str]]) -> None:
    process, base = start(serve, "--timing", "manual", "--seed", "3", "--api-key", "k1", "--public-url",
                          "https://cdn.example.com")
    health = requests.get(base + "/_mockmj/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["timing"] == "manual"
    assert health.json()["dialect"] == "88api"
    # the options took effect: only k1 is a key, and image links use the public URL
    assert requests.post(base + "/mj/submit/imagine", json={"prompt": "Cat"}, timeout=5).status_code == 401
    assert requests.post(base + "/mj/submit/imagine", json={"prompt": "Cat"}, timeout=5,
                         headers={"Authorization": "Bearer k2"}).status_code == 401
    submitted = requests.post(base + "/mj/submit/imagine", json={"prompt": "Cat"}, timeout=5,
                              headers={"Authorization": "Bearer k1"}).json()
    assert submitted["code"] == 1
    requests.post(base + "/_mockmj/clock/advance", json={"seconds": 60}, timeout=5)
    task = requests.get(base + f"/mj/task/{submitted['result']}/fetch", timeout=5,
                        headers={"Authorization": "Bearer k1"}).json()
    assert task["imageUrl"].startswith("https://cdn.example.com/attachments/")

    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode in (0, -signal.SIGINT, 130), (process.returncode, err)
    assert "Traceback" not in err, err
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/_mockmj/health", timeout=2)


def test_serve_stops_on_sigterm(serve: list[subprocess.Popen[str]]) -> None:
    process, base = start(serve, "--dialect", "proxy", "--no-auth")
    health = requests.get(base + "/_mockmj/health", timeout=5).json()
    assert health["dialect"] == "proxy"
    assert health["timing"] == "fast"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0, (process.returncode, err)
    assert "Traceback" not in err, err


def usage_error(exit_code: int, output: str) -> None:
    assert exit_code == 2, (exit_code, output[-2000:])
    assert "Traceback" not in output, output[-2000:]
    assert "Usage:" in output
    assert "Error:" in output


def invoke(*args: str) -> tuple[int, str]:
    """The command in-process (fast); exceptions other than click's own exits are not swallowed, and a
    server that would start (the input was accepted) fails the test instead of blocking it."""
    never = AssertionError("the server was started: the input was accepted")
    with mock.patch("mockmj.cli.serve_app", side_effect=never), mock.patch("logging.basicConfig"):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param('keys = "not closed\n', ["line 1"], id="invalid-toml"),
        pytest.param("colour = 'blue'\n", ["colour"], id="unknown-setting"),
        pytest.param('timing = "slow"\n', ["slow"], id="unknown-timing"),
        pytest.param('[[keys]]\nkey = "a"\nbogus = 1\n', ["bogus"], id="unknown-key-field"),
        pytest.param("[prices]\nimagine = 'ten'\n", ["ten"], id="bad-price"),
        pytest.param('[[accounts]]\ncore_size = "three"\n', ["core_size"], id="account-core-size-string"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, content: str, words: list[str]) -> None:
    config = tmp_path / "mockmj.toml"
    config.write_text(content, encoding="utf-8")
    exit_code, output = invoke("serve", "--port", str(free_port()), "--config", str(config))
    usage_error(exit_code, output)
    for word in words:
        assert word in output, output


def test_bad_config_in_a_real_process(tmp_path: Path) -> None:
    config = tmp_path / "mockmj.toml"
    config.write_text('keys = "not closed\n', encoding="utf-8")
    result = run("serve", "--port", str(free_port()), "--config", str(config), timeout=20)
    usage_error(result.returncode, result.stderr)
    assert result.stdout == ""


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    exit_code, output = invoke("serve", "--config", str(tmp_path / "absent.toml"))
    usage_error(exit_code, output)
    assert "absent.toml" in output


@pytest.mark.parametrize("args", [("--timing", "slow"), ("--dialect", "klingon"), ("--port", "eighty"),
                                  ("--seed", "abc"), ("--bogus",)])
def test_bad_option_values_are_usage_errors(args: tuple[str, ...]) -> None:
    usage_error(*invoke("serve", *args))


def test_help_in_process_lists_the_options() -> None:
    exit_code, output = invoke("serve", "--help")
    assert exit_code == 0
    for option in OPTIONS:
        assert option in output, option


def test_wrongly_typed_setting_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "mockmj.toml"
    config.write_text('default_balance = "lots"\n', encoding="utf-8")
    with pytest.raises((ValueError, TypeError)):
        load_settings(config)


TASK_KEYS = {"id", "action", "status", "progress", "prompt", "promptEn", "description", "state", "submitTime",
             "startTime", "finishTime", "imageUrl", "failReason", "buttons", "properties",
             "version", "imageUrls", "videoUrl", "videoUrls", "contentType"}


def test_full_lifecycle_against_mockmj_serve(serve: list[subprocess.Popen[str]]) -> None:
    """The whole imagine → fetch → image → U1 path, against the real `mockmj serve` process (strict)."""
    _, base = start(serve, "--timing", "per-poll", "--strict", "--seed", "9")
    headers = {"Authorization": "Bearer serve-key"}
    submitted = requests.post(base + "/mj/submit/imagine", json={"prompt": "a heron --ar 2:3", "state": "s"},
                              headers=headers, timeout=5).json()
    assert (submitted["code"], submitted["description"]) == (1, "Submitted successfully")
    seen = []
    task: dict = {}
    for _ in range(12):
        task = requests.get(f"{base}/mj/task/{submitted['result']}/fetch", headers=headers, timeout=5).json()
        assert set(task) == TASK_KEYS
        seen.append((task["status"], task["progress"]))
    assert seen[:3] == [("SUBMITTED", "0%"), ("IN_PROGRESS", "0%"), ("IN_PROGRESS", "15%")]
    assert seen[-1] == ("SUCCESS", "100%")
    assert task["submitTime"] <= task["startTime"] <= task["finishTime"]
    image = requests.get(task["imageUrl"], timeout=10)
    assert image.headers["Content-Type"] == "image/png"
    width, height = Image.open(io.BytesIO(image.content)).size
    assert abs(width / height - 2 / 3) < 0.02
    u1 = next(b["customId"] for b in task["buttons"] if b["label"] == "U1")
    child = requests.post(base + "/mj/submit/action", json={"taskId": task["id"], "customId": u1}, headers=headers,
                          timeout=5).json()
    assert child["code"] == 1
    for _ in range(4):
        upscaled = requests.get(f"{base}/mj/task/{child['result']}/fetch", headers=headers, timeout=5).json()
    assert (upscaled["action"], upscaled["status"], upscaled["description"]) == (
        "UPSCALE", "SUCCESS", f"/up {task['id']} U1")
