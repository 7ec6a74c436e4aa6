"""Store records are data: every task the engine can make, in any state and with any media, reads back equal
from each backend, on any worker; a record that is not one this version wrote is refused, and never runs code."""

from __future__ import annotations

import base64
import io
import json
import pickle
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mockmj.config import load_settings
from mockmj.engine import codec
from mockmj.engine.accounts import Account, ApiKey
from mockmj.engine.replica import check_store
from mockmj.engine.rules import Rule
from mockmj.model.tasks import MilestonePath, Task
from mockmj.model.values import Action, Milestone, Outcome, Status
from mockmj.store.base import open_store
from mockmj.store.records import TaskRow
from mockmj.web.app import create_app
from tests.stores import flush_redis

KEY = {"Authorization": "Bearer tenant-a"}


# ------------------------------------------------------------------------------------------- the codec
text = st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats() | text
values = st.recursive(
    scalars | st.binary(max_size=16),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(text, inner, max_size=3) | st.dictionaries(st.integers(), inner, max_size=2)
    | st.frozensets(st.integers(), max_size=3).map(set),
    max_leaves=12)
milestones = st.builds(Milestone, st.sampled_from(Status), st.none() | st.sampled_from(["15%", "46%", "100%"]),
                       st.none() | st.integers(0, 2**62))
json_dicts = st.dictionaries(text, st.none() | st.integers() | text | st.lists(text, max_size=2), max_size=3)
tasks = st.builds(
    Task, id=text, owner=text, action=st.sampled_from(Action), submit_time=st.integers(0, 2**62),
    prompt=st.none() | text, state=st.none() | text, properties=json_dicts,
    milestones=st.lists(milestones, max_size=8).map(MilestonePath) | st.lists(milestones, max_size=3),
    image_recipe=st.none() | json_dicts, choices=st.lists(text, max_size=3).map(tuple),
    _outcome=st.none() | st.builds(Outcome, st.sampled_from(["success", "fail", "stall"]), st.none() | text),
    media_paths=st.lists(text, max_size=2), _uploads=st.none() | st.lists(text, max_size=3),
    price=st.integers(0, 100), refunded=st.booleans(), callback_delay_ms=st.none() | st.integers(0, 10**6))


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself (a float that is not a number still round-trips)."""
    return json.dumps(codec._encode(a), sort_keys=True) == json.dumps(codec._encode(b), sort_keys=True)


@given(values)
def test_any_plain_value_round_trips(value: Any) -> None:
    assert same(codec.loads(codec.dumps(value)), value)


@given(tasks)
def test_any_task_round_trips(task: Task) -> None:
    back = codec.loads(codec.dumps(task))
    assert isinstance(back, Task)
    assert back == task


def test_a_task_with_uploads_round_trips() -> None:
    # the upload list that joins its task once filled: the object whose pickle could not be read back
    task = Task("t1", "k", Action.DESCRIBE, 0)
    task.uploads.append("/attachments/x.png")
    back = codec.loads(codec.dumps(task))
    assert back.uploads == ["/attachments/x.png"] and back == task


def test_accounts_keys_and_rules_round_trip() -> None:
    account = Account("a1", "c1", "g1", core_size=2)
    account.slots[0], account.holders[0] = float("inf"), "t9"
    account.waiting.append((5.0, "t10"))
    key = ApiKey("k", 7, 0.5, {"submitImagine"})
    rule = Rule("rule-1", {"$weird": [1, {"x": None}]}, {"code": 23}, 2, 1)
    for value in (account, key, rule):
        back = codec.loads(codec.dumps(value))
        assert type(back) is type(value) and back == value
    assert codec.loads(codec.dumps(account)).waiting == account.waiting


class Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, ("raise SystemExit('pickle ran code')",))


@pytest.mark.parametrize("raw", [
    pickle.dumps(Boom()),  # an old or hostile pickle is not read as one
    b"garbage",
    b'{"v": 1}',
    b'{"mockmj": 99, "v": 1}',
    b'{"mockmj": 1, "v": {"$o": ["Popen", {"args": "touch x"}]}}',
    b'{"mockmj": 1, "v": {"$e": ["Signals", "SIGKILL"]}}',
    b'{"mockmj": 1, "v": {"$b": "***"}}',
    b'{"mockmj": 1, "v": {"$x": 1}}',
    b'{"mockmj": 1, "v": {"$o": ["Task", {"id": 1}]}}',
    b'{"mockmj": 1, "v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
])
def test_a_record_that_is_not_ours_is_refused(raw: bytes) -> None:
    with pytest.raises(codec.RecordError):
        codec.loads(raw)


def test_a_record_of_an_unknown_schema_names_the_version() -> None:
    with pytest.raises(codec.RecordError, match="schema 2"):
        codec.loads(b'{"mockmj": 2, "v": null}')


# ------------------------------------------------------------------------------------------- through the engine
def png(size: tuple[int, int], colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


images = st.builds(png, st.tuples(st.integers(1, 24), st.integers(1, 24)),
                   st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
outcomes = st.sampled_from(["", " --mockmj fail", " --mockmj stuck", " --mockmj stall:46%", " --mockmj slow"])
hooks = st.sampled_from([{}, {"notifyHook": "http://127.0.0.1:9/cb"}, {"state": "s1"}])


@st.composite
def requests_of_a_session(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    """Submissions of every kind of task, with media, outcomes and hooks; then actions, cancels and time."""
    made: list[tuple[str, dict[str, Any]]] = []
    for _ in range(draw(st.integers(1, 6))):
        extra = draw(hooks)
        prompt = "a fox" + draw(outcomes)
        made.append(draw(st.sampled_from([
            ("/mj/submit/imagine", {"prompt": prompt, **extra}),
            ("/mj/submit/imagine", {"prompt": prompt, "base64Array": draw(st.lists(images, min_size=1, max_size=2)),
                                    **extra}),
            ("/mj/submit/describe", {"base64": draw(images), **extra}),
            ("/mj/submit/blend", {"base64Array": draw(st.lists(images, min_size=2, max_size=3)), **extra}),
            ("/mj/insight-face/swap", {"sourceBase64": draw(images), "targetBase64": draw(images), **extra}),
            ("/mj/submit/video", {"prompt": prompt, "image": draw(images), **extra}),
            ("/mj/submit/edits", {"prompt": prompt, "image": draw(images), **extra}),
            ("/mj/submit/upload-discord-images", {"base64Array": [draw(images)]}),
            ("/mj/submit/shorten", {"prompt": "a very long prompt about a fox in the snow", **extra}),
            ("advance", {"seconds": draw(st.integers(0, 90))}),
            ("cancel", {}),
            ("action", {"label": draw(st.sampled_from(["U1", "V2", "🔄"]))}),
        ])))
    return made


@contextmanager
def backend(kind: str, redis_url: str | None) -> Iterator[str]:
    if kind == "redis":
        assert redis_url is not None
        flush_redis(redis_url)
        yield redis_url
        return
    if kind == "memory":
        yield "memory"
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:{Path(folder) / 'mock.db'}"


def play(client: Any, session: list[tuple[str, dict[str, Any]]]) -> None:
    last: str | None = None
    for path, body in session:
        if path == "advance":
            client.post("/_mockmj/clock/advance", json=body)
        elif path == "cancel":
            if last:
                client.post(f"/mj/task/{last}/cancel", headers=KEY)
        elif path == "action":
            if last:
                task = client.get(f"/mj/task/{last}/fetch", headers=KEY).get_json() or {}
                buttons = {b["label"] or b["emoji"]: b["customId"] for b in task.get("buttons") or []}
                if body["label"] in buttons:
                    answer = client.post("/mj/submit/action", headers=KEY,
                                         json={"taskId": last, "customId": buttons[body["label"]]}).get_json()
                    last = answer.get("result") or last
        else:
            answer = client.post(path, json=body, headers=KEY)
            assert answer.status_code < 500, answer.get_data(as_text=True)
            result = (answer.get_json(silent=True) or {}).get("result")
            if isinstance(result, str):
                last = result


def world_of(app: Any) -> dict[str, Task]:
    engine = app.extensions["mockmj"].engine
    with engine.reading():
        return {t.id: t for t in engine.newest_tasks(engine.task_count())}


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(session=requests_of_a_session())
def test_every_task_the_engine_makes_reads_back_equal(kind: str, session: list[tuple[str, dict[str, Any]]],
                                                      request: pytest.FixtureRequest) -> None:
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else None
    with backend(kind, redis_url) as url:
        config = load_settings(store=url, timing="manual", seed=3)
        first = create_app(config)
        try:
            play(first.test_client(), session)
            made = world_of(first)
            for task in made.values():
                assert codec.loads(codec.dumps(task)) == task
            if kind == "memory":
                return
            second = create_app(config)  # another worker, started on the store the first one wrote
            try:
                assert world_of(second) == made
                # and it keeps reading what the first one writes next
                play(first.test_client(), [("advance", {"seconds": 200})])
                assert world_of(second) == world_of(first)
            finally:
                second.extensions["mockmj"].callbacks.stop()
        finally:
            first.extensions["mockmj"].callbacks.stop()


def test_a_store_holding_a_record_it_cannot_read_is_refused_at_start(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'mock.db'}"
    app = create_app(load_settings(store=url, timing="manual"))
    app.extensions["mockmj"].callbacks.stop()
    store = open_store(url)
    with store.exclusive():
        store.put([("key:evil", pickle.dumps(Boom()))], store.head())
    store.close()
    # a record of the world, which every worker reads at start
    with pytest.raises(ValueError, match=r"record 'key:evil'.*not a mockmj record"):
        create_app(load_settings(store=url, timing="manual"))


def test_a_task_record_it_cannot_read_is_refused_by_the_check_at_start_and_answered_503(tmp_path: Path) -> None:
    """Workers read task records when asked: `serve`'s check at start reads the oldest and newest of them, and a
    worker that meets one it cannot read answers 503 naming it (never a 500, never a misread task)."""
    url = f"sqlite:{tmp_path / 'mock.db'}"
    app = create_app(load_settings(store=url, timing="manual"))
    app.extensions["mockmj"].callbacks.stop()
    store = open_store(url)
    with store.exclusive():
        store.put([("task:1717200000000123", pickle.dumps(Boom()))], store.head(),
                  [TaskRow("1717200000000123", "tenant-a", None, None)])
    try:
        with pytest.raises(ValueError, match=r"record 'task:1717200000000123'.*not a mockmj record"):
            check_store(store)
    finally:
        store.close()
    answer = app.test_client().get("/mj/task/1717200000000123/fetch", headers=KEY)
    assert answer.status_code == 503, answer.text
    assert "task:1717200000000123" in answer.get_data(as_text=True)
