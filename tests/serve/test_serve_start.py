"""`mockmj serve` builds its app once per worker: the supervisor checks the settings, the recording and the
shared store (refusing bad ones with exit status 2 before anything listens) but builds no app of its own."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from mockmj.cli import main
from mockmj.serve.inprocess import release
from mockmj.web import app as web_app
from tests.helpers import free_port


def started(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, dict[str, Any], list[Any]]:
    """`serve` in-process up to where granian would start: what it would have started, and the apps built."""
    built: list[Any] = []
    real = web_app._create_app
    monkeypatch.setattr(web_app, "_create_app", lambda settings: built.append(settings) or real(settings))
    seen: dict[str, Any] = {}

    def granian(settings: Any, on_listening: Any, build: Any) -> None:
        seen.update(settings=settings, build=build, built_before=len(built))

    with mock.patch("mockmj.serve.granian.serve_granian", side_effect=granian), \
            mock.patch("mockmj.web.logs.configure_logging"):
        result = CliRunner().invoke(main, ["serve", "--port", str(free_port()), *args], catch_exceptions=False)
    return result.exit_code, result.output, seen, built


def test_the_supervisor_builds_no_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    code, output, seen, built = started(monkeypatch, "--seed", "3")
    assert code == 0, output
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ  # turned off while the settings were read, only
    assert seen["built_before"] == 0 and built == []
    app = seen["build"](seen["settings"])  # what each worker does
    try:
        assert built == [seen["settings"]] and seen["settings"].seed == 3
        assert app.test_client().get("/_mockmj/health").status_code == 200
    finally:
        release(app)


def test_a_bad_recording_is_refused_before_serving(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, output, seen, built = started(monkeypatch, "--replay", str(tmp_path), "--dialect", "proxy")
    assert code == 2 and "no recording at" in output and "Traceback" not in output, output
    assert seen == {} and built == []


def test_a_bad_shared_store_is_refused_before_serving(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spoiled = tmp_path / "mock.db"
    spoiled.write_bytes(b"not a database at all, " * 400)
    code, output, seen, built = started(monkeypatch, "--store", f"sqlite:{spoiled}")
    assert code == 2 and "Traceback" not in output and "Error:" in output, output
    assert seen == {} and built == []
