"""Calibration from a recording, and custom timing profiles (`--timing file:PROFILE.toml`)."""

from __future__ import annotations

import itertools
import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mockmj.config import load_settings
from mockmj.model.profile_file import load_profile
from mockmj.model.tasks import Status
from mockmj.record.calibrate import calibrate
from mockmj.record.har import Exchange, RecordingWriter
from mockmj.serve.inprocess import MockServer, start_mock
from tests.helpers import Client

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def exchange(at_ms: float, method: str, path: str, answer: dict[str, Any], body: Any = None) -> Exchange:
    return Exchange(
        started=T0 + timedelta(milliseconds=at_ms), elapsed_ms=0, method=method, url=f"http://relay.test{path}",
        request_headers=[("Content-Type", "application/json")],
        request_body=json.dumps(body).encode() if body is not None else b"", status=200, reason="OK",
        response_headers=[("Content-Type", "application/json")],
        response_body=json.dumps(answer, separators=(",", ":")).encode())


def polls(writer: RecordingWriter, task_id: str, action: str, views: list[tuple[float, str, str]]) -> None:
    for at, status, progress in views:
        writer.add(exchange(at, "GET", f"/mj/task/{task_id}/fetch",
                            {"id": task_id, "action": action, "status": status, "progress": progress}))


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    """Two imagines, one upscale and one failure, with exactly known moments."""
    writer = RecordingWriter(tmp_path, {"dialect": "proxy"})
    for n, (start, first_step) in enumerate(((0, 500), (10_000, 520))):
        tid = f"17000000000000{n}1"
        writer.add(exchange(start, "POST", "/mj/submit/imagine", {"code": 1, "result": tid}, {"prompt": f"p{n}"}))
        polls(writer, tid, "IMAGINE", [(start + 100, "SUBMITTED", "0%"), (start + 300, "IN_PROGRESS", "0%"),
                                       (start + first_step, "IN_PROGRESS", "20%"),
                                       (start + first_step + 200, "IN_PROGRESS", "60%"),
                                       (start + first_step + 200, "IN_PROGRESS", "60%"),  # a repeated view
                                       (start + first_step + 600, "SUCCESS", "100%")])
    writer.add(exchange(20_000, "POST", "/mj/submit/action", {"code": 1, "result": "1700000000000031"},
                        {"taskId": "1700000000000001", "customId": "MJ::JOB::upsample::1::h"}))
    polls(writer, "1700000000000031", "UPSCALE", [(20_050, "SUBMITTED", "0%"), (20_450, "SUCCESS", "100%")])
    writer.add(exchange(30_000, "POST", "/mj/submit/imagine", {"code": 1, "result": "1700000000000041"},
                        {"prompt": "fails"}))
    polls(writer, "1700000000000041", "IMAGINE", [(30_100, "SUBMITTED", "0%"), (30_150, "FAILURE", "")])
    return tmp_path


def test_calibrate_prints_the_observed_medians(recording: Path) -> None:
    text = calibrate(recording)
    profile = tomllib.loads(text)
    assert text.startswith("# Timing profile calibrated by `mockmj calibrate`")
    assert "2 IMAGINE task(s), 1 UPSCALE task(s)" in text  # the failure says nothing about the pace
    assert profile["base"] == "fast"
    # IMAGINE: submitted at once, IN_PROGRESS 200 ms later, steps of 200, 200, 220, 200 ms, 400 ms to finish
    assert (profile["dispatch_ms"], profile["start_ms"], profile["finish_ms"]) == (0, 200, 400)
    assert profile["step_ms"] == 200
    assert profile["steps"] == ["20%", "60%"]
    assert profile["actions"]["UPSCALE"] == {"quick_ms": 400}


def test_the_calibrated_profile_drives_the_simulation(recording: Path, tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(calibrate(recording), encoding="utf-8")
    server = start_mock(timing=f"file:{path}", seed=3, strict=True)
    try:
        c = Client(server)
        grid_id = c.imagine("a lighthouse").json()["result"]
        grid = server.mock.engine.task(grid_id)
        steps = [(m.status, m.progress) for m in grid.milestones if m.status is Status.IN_PROGRESS]
        assert steps == [(Status.IN_PROGRESS, p) for p in ("0%", "20%", "60%")]
        at = [m.at for m in grid.milestones]
        assert [b - a for a, b in itertools.pairwise(at[1:])] == [200, 200, 200, 400]
        grid_view = c.finish(grid_id)
        assert grid_view["status"] == "SUCCESS"
        u1 = next(b["customId"] for b in grid_view["buttons"] if b["label"] == "U1")
        up_id = c.post("/mj/submit/action", {"taskId": grid_id, "customId": u1}).json()["result"]
        upscale = server.mock.engine.task(up_id).milestones
        assert upscale[-1].status is Status.SUCCESS and upscale[-1].at - upscale[-2].at == 400  # its own quick_ms
        assert c.control("GET", "/clock")["timing"] == f"file:{path}"
    finally:
        server.stop()


def test_a_profile_file_with_actions_and_a_manual_base(tmp_path: Path) -> None:
    path = tmp_path / "slow-upscales.toml"
    path.write_text('base = "manual"\nstart_ms = 2000\nsteps = ["50%"]\n[actions.UPSCALE]\nquick_ms = 9000\n',
                    encoding="utf-8")
    profile = load_profile(path)
    assert profile.virtual_clock and profile.start_ms == 2000 and profile.steps == ("50%",)
    assert profile.for_action("UPSCALE").quick_ms == 9000 and profile.for_action("UPSCALE").start_ms == 2000
    assert profile.for_action("IMAGINE") is profile


def served(tmp_path: Path, text: str) -> MockServer:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return start_mock(timing=f"file:{path}", strict=True)


@pytest.mark.parametrize(("text", "words"), [
    ("start_ms = -1\n", "start_ms must be a whole number"),
    ("start_ms = 1.5\n", "start_ms must be a whole number"),
    ('base = "warp"\n', "base 'warp' is not one of"),
    ("speed = 3\n", "unknown key 'speed'"),
    ('steps = ["60%", "20%"]\n', "steps must rise strictly"),
    ('steps = ["120%"]\n', "steps must be a list of percentages"),
    ("[actions.DANCE]\nquick_ms = 1\n", "[actions.DANCE] is not an action"),
    ("start_ms = \n", "not valid TOML"),
])
def test_bad_profile_files_are_refused_with_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        served(tmp_path, text)
    assert words in str(caught.value) and "p.toml" in str(caught.value)


def test_a_missing_profile_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read it"):
        load_settings(None, timing=f"file:{tmp_path / 'nowhere.toml'}")


def test_calibrate_refuses_a_recording_without_a_finished_task(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, {"dialect": "88api"})
    writer.add(exchange(0, "GET", "/mj/task/list", {"code": 1}))
    with pytest.raises(ValueError, match="no task of the recording was polled to SUCCESS"):
        calibrate(tmp_path)
