"""The hot path (web/hot.py) answers fetch and submit-imagine in front of Flask: byte for byte what Flask
answers, with the same journal, findings and access log. Two identical mocks (same seed, manual clock)
get the same requests, one with the hot path and one through Flask alone, and must agree on everything."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from mockmj.config import KeyConfig, Settings
from mockmj.store.memory import entry_weight
from mockmj.web import handlers
from mockmj.web.app import create_app
from mockmj.web.hot import HotPath, status_line
from mockmj.web.render import Reply

KEY = "hot-key"
BUILT: list[Flask] = []  # apps of the running test, whose callback workers are stopped after it


@pytest.fixture(autouse=True)
def _stop_apps() -> Iterator[None]:
    yield
    while BUILT:
        BUILT.pop().extensions["mockmj"].callbacks.stop()


def pair(store_dir: Path | None = None, **options: Any) -> tuple[Flask, Flask]:
    """The same mock twice: the first as built (hot path in front), the second with Flask alone; each on
    its own SQLite store in `store_dir` when given."""
    made = []
    for name in ("hot", "plain"):
        store = {"store": f"sqlite:{store_dir / (name + '.db')}"} if store_dir else {}
        settings = Settings(**{"timing": "manual", "seed": 11, "strict": True, **store, **options})
        made.append(create_app(settings))
    BUILT.extend(made)
    hot, plain = made
    assert isinstance(hot.wsgi_app, HotPath)
    plain.wsgi_app = plain.wsgi_app.flask  # type: ignore[attr-defined,method-assign]
    return hot, plain


class Access(logging.Handler):
    """The access log's structured fields, without the time a request took: the lines of the requests this test
    sends (through Flask's test client, in its own thread). A mock of an earlier test in this process may still
    be answering a slow request, and logs its line from that request's thread meanwhile."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, Any]] = []
        self.thread = threading.current_thread()

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() is not self.thread:
            return
        fields = dict(getattr(record, "fields", {}))
        fields.pop("ms", None)
        self.lines.append(fields)


@pytest.fixture
def access() -> Iterator[Access]:
    handler = Access()
    logger = logging.getLogger("mockmj.access")
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(before)


def answer(app: Flask, method: str, path: str, **kw: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    response = app.test_client().open(path, method=method, **kw)
    return response.status, list(response.headers.items()), response.get_data()


def journal(app: Flask) -> list[dict[str, Any]]:
    items = app.test_client().get("/_mockmj/requests").get_json()["items"]
    return [{k: v for k, v in item.items() if k != "latencyMs"} for item in items]


def findings(app: Flask) -> Any:
    """What was found about whom, how often (their times and timings are wall-clock, so left out)."""
    items = app.test_client().get("/_mockmj/findings?final=true").get_json()["items"]
    return [(f["key"], f["kind"], f["subject"], f["taskId"], f["count"]) for f in items]


class StoppedWallClock:
    """The wall clock of the rate limiter (mockmj's and the `limits` memory storage's), stopped at one instant:
    a 429's "retry in 1.00s" is measured on it, so two mocks asked one after the other must give the same
    figure to the hundredth instead of differing by the time between the two calls."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def stopped_wall_clock(monkeypatch: pytest.MonkeyPatch) -> StoppedWallClock:
    import limits.storage.memory

    from mockmj.store import ratelimit

    clock = StoppedWallClock(1_800_000_000.0)
    for module in (ratelimit, limits.storage.memory):
        monkeypatch.setattr(module, "time", clock)  # raises if the module stops reading `time`
    return clock


def same_everywhere(hot: Flask, plain: Flask, access: Access, calls: list[tuple[Any, ...]]) -> list[bytes]:
    """Send every call to both apps, alternately; every answer, log line and journal entry must agree."""
    bodies = []
    for method, path, kw in calls:
        mark = len(access.lines)
        got = answer(hot, method, path, **kw)
        hot_lines = access.lines[mark:]
        mark = len(access.lines)
        wanted = answer(plain, method, path, **kw)
        assert got == wanted, f"{method} {path} {kw}"
        assert hot_lines and hot_lines == access.lines[mark:], f"access log of {method} {path}"
        bodies.append(got[2])
    assert journal(hot) == journal(plain)
    assert findings(hot) == findings(plain)
    return bodies


def auth(key: str = KEY, **headers: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {key}", **headers}}


def submit(body: Any, key: str = KEY, **headers: str) -> dict[str, Any]:
    return {"json": body, **auth(key, **headers)}


def first_task(hot: Flask, plain: Flask) -> str:
    ids = {answer(app, "POST", "/mj/submit/imagine", **submit({"prompt": "a fox"}))[2] for app in (hot, plain)}
    assert len(ids) == 1, "both mocks make the same ids"
    return __import__("json").loads(ids.pop())["result"]


@pytest.mark.parametrize("dialect", ["88api", "proxy"])
def test_submit_answers_agree(dialect: str, access: Access) -> None:
    hot, plain = pair(dialect=dialect)
    raw = {"headers": {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}}
    calls = [
        ("POST", "/mj/submit/imagine", submit({"prompt": "a red fox --ar 3:2"})),
        ("POST", "/mj-relax/mj/submit/imagine", submit({"prompt": "a slow fox"})),
        ("POST", "/mj-fast/mj/submit/imagine", submit({"prompt": "a quick fox", "state": "s1"})),
        ("POST", "/mj/submit/imagine", submit({"prompt": "a fox"}, "undefined")),  # placeholder key
        ("POST", "/mj/submit/imagine", {"json": {"prompt": "no key at all"}}),
        ("POST", "/mj/submit/imagine", submit({})),  # prompt missing
        ("POST", "/mj/submit/imagine", submit({"prompt": 123})),  # a number where a string is due
        ("POST", "/mj/submit/imagine", submit({"prompt": "x", "accountFilter": {"modes": ["SLOW"]}})),
        ("POST", "/mj/submit/imagine", submit([1, 2])),  # not an object
        ("POST", "/mj/submit/imagine", submit({"prompt": "y" * 7000})),  # over max_prompt_chars
        ("POST", "/mj/submit/imagine", {**raw, "data": b"{not json"}),
        ("POST", "/mj/submit/imagine", {**raw, "data": b""}),
        ("POST", "/mj/submit/imagine", {"data": b'{"prompt":"cat"}', **auth(**{"Content-Type": "text/plain"})}),
        ("POST", "/mj/submit/imagine", {"data": b'{"prompt":"\xff"}', **auth()}),  # not UTF-8
        ("POST", "/mj/submit/imagine", submit({"prompt": "a fox"}, **{"X-MockMJ-Outcome": "failure"})),
        ("POST", "/mj/submit/imagine", submit({"prompt": "a fox"}, **{"X-MockMJ-Callback-Fault": "bogus"})),
        ("POST", "/mj/submit/imagine", submit({"prompt": "a naked fox"})),  # a banned word
        ("POST", "/mj/submit/imagine?x=1", submit({"prompt": "with a query string"})),
        ("POST", "/mj/submit/imagine/", submit({"prompt": "trailing slash"})),  # Flask's 404
        ("PUT", "/mj/submit/imagine", submit({"prompt": "wrong method"})),  # Flask's 405
        ("POST", "/mj/submit/imagine", {"json": {"prompt": "secret header"}, "headers": {"mj-api-secret": KEY}}),
    ]
    same_everywhere(hot, plain, access, calls)


@pytest.mark.parametrize(("dialect", "store"), [("88api", "memory"), ("proxy", "memory"), ("88api", "sqlite")])
def test_fetch_answers_agree(dialect: str, store: str, access: Access, tmp_path: Path) -> None:
    hot, plain = pair(tmp_path if store == "sqlite" else None, dialect=dialect)
    task_id = first_task(hot, plain)
    fetch = f"/mj/task/{task_id}/fetch"
    unfinished = [
        ("GET", fetch, auth()),
        ("GET", fetch, auth("someone-else")),  # another key's task looks like no task
        ("GET", fetch, {}),
        ("GET", fetch, auth("null")),
        ("GET", "/mj/task/1234567890/fetch", auth()),
        ("GET", "/mj/task/12%2034/fetch", auth()),  # not an id the hot path takes
        ("GET", f"/mj-turbo/mj/task/{task_id}/fetch", auth()),
        ("HEAD", fetch, auth()),
        ("GET", fetch + "/", auth()),
        ("GET", fetch, {"headers": {"mj-api-secret": f"Bearer {KEY}"}}),
    ]
    same_everywhere(hot, plain, access, unfinished)
    for app in (hot, plain):
        app.test_client().post("/_mockmj/clock/advance", json={"seconds": 600})
    finished = [
        ("GET", fetch, auth()),
        ("GET", fetch, auth()),  # remembered bytes now
        ("GET", fetch, {**auth(), "base_url": "http://other.example:8081"}),  # image URLs follow the Host
        ("GET", fetch, {**auth(), "base_url": "https://other.example:443"}),
        ("GET", fetch + "?poll=1", auth()),
        ("GET", f"/mj-fast/mj/task/{task_id}/fetch", auth()),
    ]
    bodies = same_everywhere(hot, plain, access, finished)
    assert b'"status":"SUCCESS"' in bodies[0] and b"http://other.example:8081/" in bodies[2]
    assert b"https://other.example/" in bodies[3]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_a_finished_task_fetched_from_its_kept_bytes_agrees(store: str, access: Access, tmp_path: Path) -> None:
    """Out of strict mode a finished task's second fetch is answered from the bytes kept at the first, with
    no view built: same answer, journal, findings and access line; other keys, resets and rules still count."""
    hot, plain = pair(tmp_path if store == "sqlite" else None, strict=False,
                      keys=[KeyConfig(key=KEY), KeyConfig(key="other"), KeyConfig(key="slow", rate_limit=1.0),
                            KeyConfig(key="no-fetch", allowed_operations=["submitImagine"])])
    task_id = first_task(hot, plain)
    fetch = f"/mj/task/{task_id}/fetch"
    for app in (hot, plain):
        app.test_client().post("/_mockmj/clock/advance", json={"seconds": 600})
    built: list[str] = []
    engine = hot.extensions["mockmj"].engine
    snapshot = engine.views.snapshot
    engine.views.snapshot = lambda task, *a, **kw: built.append(task.id) or snapshot(task, *a, **kw)  # type: ignore[method-assign]
    same_everywhere(hot, plain, access, [("GET", fetch, auth())])
    assert built == [task_id]  # the first fetch renders the task once
    calls = [
        ("GET", fetch, auth()),
        ("GET", fetch, auth()),
        ("GET", f"/mj-relax/mj/task/{task_id}/fetch", auth()),
        ("GET", fetch, {"headers": {"mj-api-secret": KEY}}),
        ("GET", fetch, auth("other")),  # not its task: no such task
        ("GET", fetch, auth("stranger")),  # 401
        ("GET", fetch, auth("no-fetch")),  # 403
        ("GET", fetch, auth("slow")),
        ("GET", fetch, {}),  # no key: 401
    ]
    same_everywhere(hot, plain, access, calls)
    assert built == [task_id]  # …and none of these built it again
    if store == "memory":  # the weights the hot path gives the journal's byte cap are what weighing each finds
        kept = hot.extensions["mockmj"].engine.world.store._logs["journal"].entries
        assert len(kept) > len(calls) and all(weight == entry_weight(entry.value) for weight, entry in kept)
    for app in (hot, plain):  # a rule: every request takes the whole way, which applies it
        assert app.test_client().post("/_mockmj/rules", json={"match": {"operation": "fetchTask"}, "times": 1,
                                      "respond": {"httpStatus": 503}}).status_code == 200
    same_everywhere(hot, plain, access, [("GET", fetch, auth()), ("GET", fetch, auth())])
    for app in (hot, plain):  # a full reset forgets the kept bytes: the id is unknown again
        app.test_client().post("/_mockmj/reset", json={})
    same_everywhere(hot, plain, access, [("GET", fetch, auth())])


def test_refusals_with_headers_and_rules_agree(access: Access, stopped_wall_clock: StoppedWallClock) -> None:
    hot, plain = pair(keys=[KeyConfig(key=KEY, rate_limit=1.0), KeyConfig(key="poor", balance=0)])
    task_id = first_task(hot, plain)
    calls = [
        ("POST", "/mj/submit/imagine", submit({"prompt": "too soon"})),  # 429 with Retry-After
        ("GET", f"/mj/task/{task_id}/fetch", auth("unknown-key")),  # 401: only the listed keys
        ("POST", "/mj/submit/imagine", submit({"prompt": "no money"}, "poor")),
    ]
    bodies = same_everywhere(hot, plain, access, calls)
    assert b"retry in 1.00s" in bodies[0], bodies[0]  # the whole window: no wall-clock time went by
    rule = {"match": {"operation": "fetchTask"}, "respond": {"httpStatus": 503}, "times": 1}
    for app in (hot, plain):
        assert app.test_client().post("/_mockmj/rules", json=rule).status_code == 200
    same_everywhere(hot, plain, access, [("GET", f"/mj/task/{task_id}/fetch", auth("poor"))] * 2)


@pytest.mark.parametrize("dialect", ["88api", "proxy"])
def test_an_exception_is_answered_by_flask_as_from_a_view(dialect: str, access: Access,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A strict-mode violation (or any bug) on the hot path: Flask's 500 in the dialect, its exception log."""
    hot, plain = pair(dialect=dialect)
    task_id = first_task(hot, plain)
    monkeypatch.setitem(handlers.HANDLERS, "fetchTask", lambda ctx: Reply(200, {"not": "a task"}))
    with caplog.at_level(logging.ERROR, logger="mockmj"):
        same_everywhere(hot, plain, access, [("GET", f"/mj/task/{task_id}/fetch", auth())])
    assert [line["status"] for line in access.lines if line["path"].endswith("/fetch")] == [500, 500]
    assert sum("Exception on /mj/task/" in r.getMessage() for r in caplog.records) == 2  # once per mock


def test_a_long_or_chunked_body_is_left_to_flask(access: Access) -> None:
    hot, plain = pair(max_body_bytes=1000)
    big = {"data": b'{"prompt":"' + b"z" * 2000 + b'"}', **auth(**{"Content-Type": "application/json"})}
    calls = [("POST", "/mj/submit/imagine", big)]
    same_everywhere(hot, plain, access, calls)
    route = hot.wsgi_app.route  # type: ignore[attr-defined]
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/mj/submit/imagine", "CONTENT_LENGTH": "12"}
    assert route(environ) is not None
    assert route({**environ, "HTTP_TRANSFER_ENCODING": "chunked"}) is None
    assert route({**environ, "CONTENT_LENGTH": ""}) is None
    assert route({**environ, "CONTENT_LENGTH": "5000"}) is None
    assert route({**environ, "SCRIPT_NAME": "/mounted"}) is None
    assert route({**environ, "REQUEST_METHOD": "HEAD"}) is None


def test_flask_hooks_are_the_ones_the_hot_path_stands_in_for() -> None:
    """The hot path skips Flask's request hooks: it writes the access log itself and no other hook
    concerns its routes. A new hook must be weighed in web/hot.py before this list is changed."""
    app = create_app(Settings())
    BUILT.append(app)
    names = lambda funcs: sorted(f.__name__ for f in funcs.get(None, []))  # noqa: E731
    assert names(app.before_request_funcs) == ["_started", "_to_dashboard"]
    assert names(app.after_request_funcs) == ["_log"]
    assert not app.teardown_request_funcs and not app.url_value_preprocessors


def test_status_lines_are_werkzeugs() -> None:
    assert [status_line(s) for s in (200, 404, 429, 599)] == ["200 OK", "404 NOT FOUND", "429 TOO MANY REQUESTS",
                                                              "599 UNKNOWN"]


def test_the_hot_routes_do_not_reach_flask() -> None:
    hot, _ = pair()
    reached: list[str] = []
    flask_app = hot.wsgi_app.flask  # type: ignore[attr-defined]

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        reached.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    hot.wsgi_app.flask = counting  # type: ignore[attr-defined]
    task_id = answer(hot, "POST", "/mj/submit/imagine", **submit({"prompt": "a fox"}))[2].decode()
    task_id = __import__("json").loads(task_id)["result"]
    answer(hot, "GET", f"/mj/task/{task_id}/fetch", **auth())
    answer(hot, "GET", f"/mj-fast/mj/task/{task_id}/fetch", **auth())
    answer(hot, "GET", "/mj/task/1/fetch", **auth())
    answer(hot, "POST", "/mj/submit/imagine", **submit({}))
    assert reached == []
    answer(hot, "GET", "/_mockmj/health")
    answer(hot, "POST", "/mj/submit/blend", **submit({}))
    assert reached == ["/_mockmj/health", "/mj/submit/blend"]
