"""Two mocks driven by the same requests must give the same answers (status and JSON body, or bytes for files):
a rule-based state machine (hypothesis) of submissions of every kind, buttons, reads, files, clock moves, timing
switches, keys' resets and eviction past max_tasks. A test subclasses `TwoMocks` with the two mocks it compares
(`make_apps`); tests/web/test_task_cache_differential.py and tests/web/test_shared_cache_differential.py."""

from __future__ import annotations

import types
from typing import Any

from hypothesis import Phase
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mockmj.config import load_settings
from mockmj.web.app import create_app
from tests.helpers import png_data_url

KEYS = ("tenant-a", "tenant-b", "tenant-c")
MAX_TASKS = 15
IMAGES = [png_data_url(colour=c) for c in ((250, 0, 0), (0, 0, 250), (0, 200, 0))]
OUTCOMES = (None, None, None, None, "fail", "fail:nope", "slow", "modal", "stuck")


# Hypothesis shrinks a failing sequence of two mocks for minutes; the steps a failure prints (the last 30 requests)
# are enough to replay it, so the tests skip shrinking.
NO_SHRINKING = (Phase.explicit, Phase.generate)

# Wall time stands still (only /_mockmj/clock/advance moves it), so that a real-clock profile (per-poll) answers the
# same on both mocks.
FROZEN = types.SimpleNamespace(time=lambda: 1_800_000_000.0)


def make(cache: int, **options: Any) -> Any:
    """A mock in manual timing with `max_tasks` small enough for eviction, holding `cache` finished tasks."""
    app = create_app(load_settings(timing="manual", seed=9, task_cache=cache, max_tasks=MAX_TASKS, **options))
    app.extensions["mockmj"].callbacks.stop()
    return app


def answer(r: Any) -> tuple[int, Any]:
    if r.is_json:
        return r.status_code, r.get_json()
    return r.status_code, r.content_type, bytes(r.data)


def path_of(url: str) -> str:
    return "/" + url.split("//", 1)[1].split("/", 1)[1]


class TwoMocks(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        import mockmj.model.clock as clock

        self._time, clock.time = clock.time, FROZEN  # type: ignore[assignment]
        self.apps = self.make_apps()
        self.clients = [a.test_client() for a in self.apps]
        self.ids: list[tuple[str, str]] = []  # (task id, key)
        self.views: dict[str, dict[str, Any]] = {}  # latest view of a task (from the first mock)
        self.files: list[str] = []
        self.steps: list[str] = []

    def make_apps(self) -> list[Any]:
        raise NotImplementedError  # the two mocks a test compares

    def close_apps(self) -> None:
        """What the two mocks leave behind (a store's file): nothing by default."""

    # ------------------------------------------------------------------------------ driving both
    def both(self, method: str, path: str, key: str | None = None, body: Any = None) -> Any:
        self.steps.append(f"{method} {path} key={key} body={str(body)[:80]}")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        said = []
        for c in self.clients:
            r = c.open(path, method=method, json=body, headers=headers)
            said.append(answer(r))
        assert said[0][0] < 500 and said[1][0] < 500, (said, self.steps)
        assert said[0] == said[1], ("\n".join(self.steps[-30:]), said[0], said[1])
        return said[0]

    def remember(self, said: Any, key: str) -> None:
        status, body = said[0], said[1]
        if status == 200 and isinstance(body, dict) and body.get("result") and body.get("code") in (1, 21, 22):
            self.ids.append((str(body["result"]), key))

    def note_view(self, view: Any) -> None:
        if isinstance(view, dict) and "id" in view:
            self.views[view["id"]] = view
            if view.get("imageUrl"):
                self.files.append(path_of(view["imageUrl"]))

    # ------------------------------------------------------------------------------ submissions
    @rule(key=st.sampled_from(KEYS), n=st.integers(0, 99), outcome=st.sampled_from(OUTCOMES),
          image=st.booleans())
    def imagine(self, key: str, n: int, outcome: str | None, image: bool) -> None:
        body: dict[str, Any] = {"prompt": f"a lighthouse {n}" + (f" --mockmj {outcome}" if outcome else "")}
        if image:
            body["base64Array"] = [IMAGES[n % 3]]
        self.remember(self.both("POST", "/mj/submit/imagine", key, body), key)

    @rule(key=st.sampled_from(KEYS), n=st.integers(0, 2))
    def blend(self, key: str, n: int) -> None:
        body = {"base64Array": [IMAGES[n], IMAGES[(n + 1) % 3]]}
        self.remember(self.both("POST", "/mj/submit/blend", key, body), key)

    @rule(key=st.sampled_from(KEYS), n=st.integers(0, 2))
    def describe(self, key: str, n: int) -> None:
        self.remember(self.both("POST", "/mj/submit/describe", key, {"base64": IMAGES[n]}), key)

    @rule(key=st.sampled_from(KEYS), n=st.integers(0, 2), batch=st.sampled_from([1, 2]))
    def video(self, key: str, n: int, batch: int) -> None:
        body = {"prompt": f"a wave {n}", "image": IMAGES[n], "batchSize": batch}
        self.remember(self.both("POST", "/mj/submit/video", key, body), key)

    @rule(key=st.sampled_from(KEYS), n=st.integers(0, 9))
    def shorten(self, key: str, n: int) -> None:
        self.remember(self.both("POST", "/mj/submit/shorten", key, {"prompt": f"a very long prompt {n} " * 3}), key)

    @rule(key=st.sampled_from(KEYS), n=st.integers(0, 2), kind=st.sampled_from(["edits", "retexture", "swap"]))
    def edit(self, key: str, n: int, kind: str) -> None:
        if kind == "swap":
            said = self.both("POST", "/mj/insight-face/swap", key,
                             {"sourceBase64": IMAGES[n], "targetBase64": IMAGES[(n + 1) % 3]})
        else:
            said = self.both("POST", f"/mj/submit/{kind}", key, {"prompt": f"make it blue {n}", "image": IMAGES[n]})
        self.remember(said, key)

    @rule(key=st.sampled_from(KEYS), n=st.integers(0, 2))
    def upload(self, key: str, n: int) -> None:
        said = self.both("POST", "/mj/submit/upload-discord-images", key, {"base64Array": [IMAGES[n]]})
        if said[0] == 200 and isinstance(said[1], dict) and isinstance(said[1].get("result"), list):
            self.files.extend(path_of(u) for u in said[1]["result"] if isinstance(u, str) and "//" in u)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), n=st.integers(0, 9))
    def modal(self, data: Any, n: int) -> None:
        task_id, key = data.draw(st.sampled_from(self.ids))
        self.remember(self.both("POST", "/mj/submit/modal", key, {"taskId": task_id, "prompt": f"confirmed {n}"}), key)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), action=st.sampled_from(["UPSCALE", "VARIATION", "REROLL"]), index=st.integers(1, 4))
    def change(self, data: Any, action: str, index: int) -> None:
        task_id, key = data.draw(st.sampled_from(self.ids))
        self.remember(self.both("POST", "/mj/submit/change", key,
                                {"taskId": task_id, "action": action, "index": index}), key)

    @precondition(lambda self: self.views)
    @rule(data=st.data())
    def press(self, data: Any) -> None:
        withbuttons = [i for i, v in self.views.items() if v.get("buttons")]
        if not withbuttons:
            return
        task_id = data.draw(st.sampled_from(withbuttons))
        key = next((k for i, k in self.ids if i == task_id), KEYS[0])
        button = data.draw(st.sampled_from(self.views[task_id]["buttons"]))
        said = self.both("POST", "/mj/submit/action", key, {"taskId": task_id, "customId": button["customId"]})
        self.remember(said, key)

    @precondition(lambda self: self.views)
    @rule(data=st.data())
    def press_again(self, data: Any) -> None:
        self.press(data)

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def cancel(self, data: Any) -> None:
        task_id, key = data.draw(st.sampled_from(self.ids))
        self.both("POST", f"/mj/task/{task_id}/cancel", key, {})

    # ------------------------------------------------------------------------------ reads
    @precondition(lambda self: self.ids)
    @rule(data=st.data(), other=st.booleans())
    def fetch(self, data: Any, other: bool) -> None:
        task_id, key = data.draw(st.sampled_from(self.ids))
        if other:
            key = data.draw(st.sampled_from(KEYS))
        self.fetch_one(task_id, key)

    def fetch_one(self, task_id: str, key: str) -> None:
        """A fetch (perhaps answered from the bytes the hot path keeps), checked against the dashboard's view of the
        task, which neither polls it nor reads kept bytes."""
        said = self.both("GET", f"/mj/task/{task_id}/fetch", key)
        if said[0] == 200:
            self.note_view(said[1])
            seen = self.both("GET", f"/_mockmj/tasks/{task_id}")
            assert seen[0] == 200 and seen[1]["task"] == said[1], ("\n".join(self.steps[-30:]), seen, said)

    @precondition(lambda self: self.ids)
    @rule(back=st.integers(1, 12), seconds=st.sampled_from([0, 600]))
    def fetch_latest(self, back: int, seconds: int) -> None:
        """Let time pass, then poll each of the latest tasks as its owner (this fills the views buttons come from)."""
        if seconds:
            self.both("POST", "/_mockmj/clock/advance", None, {"seconds": seconds})
        for task_id, key in self.ids[-back:]:
            self.fetch_one(task_id, key)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), key=st.sampled_from(KEYS))
    def list_by_condition(self, data: Any, key: str) -> None:
        ids = data.draw(st.lists(st.sampled_from([i for i, _ in self.ids]), max_size=6))
        said = self.both("POST", "/mj/task/list-by-condition", key, {"ids": ids})
        for view in said[1] if isinstance(said[1], list) else []:
            self.note_view(view)

    @rule(key=st.sampled_from(KEYS))
    def list_all(self, key: str) -> None:
        said = self.both("GET", "/mj/task/list", key)
        for view in said[1] if isinstance(said[1], list) else []:
            self.note_view(view)

    @rule(key=st.sampled_from(KEYS))
    def queue(self, key: str) -> None:
        self.both("GET", "/mj/task/queue", key)

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def download(self, data: Any) -> None:
        self.both("GET", data.draw(st.sampled_from(self.files)))

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def seed(self, data: Any) -> None:
        task_id, key = data.draw(st.sampled_from(self.ids))
        self.both("GET", f"/mj/task/{task_id}/image-seed", key)

    # ------------------------------------------------------------------------------ control plane
    @rule(seconds=st.sampled_from([1, 5, 30, 120, 600]))
    def advance(self, seconds: int) -> None:
        self.both("POST", "/_mockmj/clock/advance", None, {"seconds": seconds})

    @rule(key=st.sampled_from(KEYS))
    def reset_key(self, key: str) -> None:
        self.both("POST", "/_mockmj/reset", None, {"key": key})

    @rule()
    def dashboard(self) -> None:
        self.both("GET", "/_mockmj/tasks?limit=5")

    @rule(key=st.sampled_from(KEYS))
    def dashboard_of(self, key: str) -> None:
        self.both("GET", f"/_mockmj/tasks?limit=5&key={key}")

    @rule(key=st.sampled_from(KEYS))
    def key_record(self, key: str) -> None:
        self.both("GET", f"/_mockmj/keys/{key}")

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def timeline(self, data: Any) -> None:
        task_id, _ = data.draw(st.sampled_from(self.ids))
        self.both("GET", f"/_mockmj/tasks/{task_id}/timeline")

    @rule(name=st.sampled_from(["manual", "manual", "per-poll"]))
    def timing(self, name: str) -> None:
        self.both("PUT", "/_mockmj/timing", None, {"timing": name})

    def teardown(self) -> None:
        import mockmj.model.clock as clock

        clock.time = self._time  # type: ignore[assignment]
        self.close_apps()

    @invariant()
    def same_count(self) -> None:
        counts = [len(a.extensions["mockmj"].engine.world.tasks) for a in self.apps]
        assert counts[0] == counts[1], counts
