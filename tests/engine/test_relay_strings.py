"""In the 88api dialect a task's string fields are strings at every stage, never null: a relay answers
fetches from its database, whose task fields are Go strings ("0%" before the start, "" where there is no
value yet), and clients written against a relay call string methods on them (`progress.rstrip("%")`).

Hypothesis draws the submission, its outcome and whether it is cancelled, then every milestone of the task
is read as a client would see it; the proxy dialect keeps its nulls (Jackson writes them)."""

from __future__ import annotations

import base64
import contextlib
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mockmj.engine.facade import Caller, Engine
from mockmj.engine.submissions import submit as subs
from mockmj.engine.submissions import video as videos
from mockmj.model.dialects import EIGHTY_EIGHT, PROXY
from mockmj.model.errors import Refusal
from mockmj.model.settings import Settings

# What new-api re-serves on a fetch, each a Go string (reference: relay-compatibility, "what the relay
# re-serves"); `customId` and `botType` are left out there when empty, so they are not listed.
RELAY_STRING_FIELDS = ("id", "action", "status", "progress", "prompt", "promptEn", "description", "state",
                       "imageUrl", "failReason", "videoUrl")
BUTTON_FIELDS = ("customId", "emoji", "label")
ORIGIN = "http://127.0.0.1:9"


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 60, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


PNG = _png()

SUBMISSIONS = {
    "imagine": lambda e, c, state: subs.imagine(e, c, {"prompt": "a red fox", **state}),
    "imagine_v6": lambda e, c, state: subs.imagine(e, c, {"prompt": "a red fox --v 6", **state}),
    "blend": lambda e, c, state: subs.blend(e, c, {"base64Array": [PNG, PNG], **state}),
    "describe": lambda e, c, state: subs.describe(e, c, {"base64": PNG, **state}),
    "shorten": lambda e, c, state: subs.shorten(e, c, {"prompt": "a very red fox in snow", **state}),
    "video": lambda e, c, state: videos.video(e, c, {"prompt": "the fox runs", "image": PNG, **state}),
}
OUTCOMES = (None, "fail", "fail:no reason given", "banned", "stuck", "stall:46", "timeout", "modal", "queued")


def engine_for(dialect: str) -> Engine:
    return Engine(Settings(dialect=dialect, timing="per-poll", seed=3, no_auth=True))


def every_view(engine: Engine, task_id: str) -> list[dict[str, Any]]:
    """The task at each of its milestones, as fetch shows it."""
    task = engine.task(task_id)
    assert task is not None
    return [engine.views.snapshot(task, ORIGIN, i) for i in range(len(task.milestones))]


def views_of(dialect: str, kind: str, outcome: str | None, cancel: bool, state: dict[str, Any]) -> list[dict]:
    engine = engine_for(dialect)
    caller = Caller(key="k", origin=ORIGIN, outcome=outcome)
    accepted = SUBMISSIONS[kind](engine, caller, state)
    if cancel:
        with contextlib.suppress(Refusal):  # a task past the point of cancelling: its path is read as it is
            engine.cancel(caller, accepted.result)
    for _ in range(40):  # per-poll timing: each fetch moves the task one milestone, to its end
        engine.fetch(caller, accepted.result)
    return every_view(engine, accepted.result)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(SUBMISSIONS)), outcome=st.sampled_from(OUTCOMES), cancel=st.booleans(),
       state=st.sampled_from([{}, {"state": "s-1"}, {"state": None}]))
def test_every_string_field_is_a_string_in_every_state_of_the_88api_dialect(
        kind: str, outcome: str | None, cancel: bool, state: dict[str, Any]) -> None:
    views = views_of("88api", kind, outcome, cancel, state)
    assert views
    for view in views:
        for name in RELAY_STRING_FIELDS:
            assert isinstance(view[name], str), (name, view["status"], view)
        for name in ("finalPrompt", "finalZhPrompt"):  # the properties a relay reads as strings
            assert isinstance(view["properties"].get(name, ""), str), (name, view)
        for b in view["buttons"]:
            assert all(isinstance(b[f], str) for f in BUTTON_FIELDS), b


def test_progress_before_the_start_is_0_percent_in_88api_and_null_in_the_proxy_dialect() -> None:
    first = views_of("88api", "imagine", None, False, {})[0]
    assert (first["status"], first["progress"]) == ("NOT_START", "0%")
    assert first["imageUrl"] == first["failReason"] == first["state"] == first["videoUrl"] == ""
    first = views_of("proxy", "imagine", None, False, {})[0]
    assert (first["status"], first["progress"]) == ("NOT_START", None)
    assert first["imageUrl"] is first["failReason"] is first["state"] is first["videoUrl"] is None


def test_the_88api_table_covers_every_nullable_relay_string_field() -> None:
    """A field the relay serves as a string is either never null in the engine's JSON (id, action, status)
    or has the relay's stand-in in the dialect table; the proxy dialect has none."""
    assert set(EIGHTY_EIGHT.null_strings) == set(RELAY_STRING_FIELDS) - {"id", "action", "status"}
    assert PROXY.null_strings == {}


@pytest.mark.parametrize("dialect", ["88api", "proxy"])
def test_a_value_that_is_there_is_not_touched(dialect: str) -> None:
    views = views_of(dialect, "imagine", None, False, {"state": "s-1"})
    assert all(v["state"] == "s-1" and v["prompt"] == "a red fox" for v in views)
    assert views[-1]["progress"] == "100%" and views[-1]["imageUrl"].endswith(".png")
