"""Mode prices: with `mode_prices` a key pays the action's price times its mode's factor (fast, relax,
turbo by path prefix or prompt flag, draft for a --draft prompt), as relays bill; a key configured with
`modes` is refused any other mode with HTTP 403, nothing stored or charged. Both dialects, strict mocks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockmj.config import KeyConfig, load_settings
from tests.helpers import Client, Start, balance, task_count
from tests.helpers import Mock as MockServer

RESELLER = {"fast": 1.0, "relax": 1.0, "turbo": 2.0, "draft": 0.5}  # a new-api fork's table
START = 1000


@pytest.fixture(scope="module", params=["88api", "proxy"])
def server(request: pytest.FixtureRequest, starter: Start) -> Iterator[MockServer]:
    keys = [KeyConfig(key="any", balance=START), KeyConfig(key="relaxed", balance=START, modes=["relax", "draft"])]
    s = starter(settings=load_settings(dialect=request.param, timing="per-poll", seed=2, strict=True, keys=keys,
                                       mode_prices=RESELLER))
    yield s
    s.stop()


@pytest.mark.parametrize(("path", "prompt", "cost"), [
    ("/mj/submit/imagine", "a fox", 10),  # fast by default: IMAGINE costs 10
    ("/mj-turbo/mj/submit/imagine", "a fox", 20),
    ("/mj-relax/mj/submit/imagine", "a fox", 10),
    ("/mj/submit/imagine", "a fox --turbo", 20),
    ("/mj/submit/imagine", "a fox --draft", 5),
    ("/mj-turbo/mj/submit/imagine", "a fox --draft", 5),  # a draft is billed as a draft
])
def test_each_mode_is_charged_its_factor(server: MockServer, path: str, prompt: str, cost: int) -> None:
    c = Client(server, key="any")
    before = balance(c)
    answer = c.post(path, {"prompt": prompt})
    assert answer.status_code == 200 and answer.json()["code"] in (1, 22), answer.text
    assert before - balance(c) == cost


@pytest.mark.parametrize(("path", "prompt", "mode"), [
    ("/mj/submit/imagine", "a fox", "fast"), ("/mj-turbo/mj/submit/imagine", "a fox", "turbo"),
    ("/mj/submit/imagine", "a fox --fast", "fast"),
])
def test_a_mode_the_key_may_not_use_is_http_403(server: MockServer, path: str, prompt: str, mode: str) -> None:
    c = Client(server, key="relaxed")
    before, tasks = balance(c), task_count(c)
    r = c.post(path, {"prompt": prompt})
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["code"] == 403 and body["result"] is None
    assert body["description"] == f"Forbidden: this API key may not use {mode} mode (it may use relax, draft)"
    assert (balance(c), task_count(c)) == (before, tasks)  # nothing charged, nothing stored


def test_the_allowed_modes_work(server: MockServer) -> None:
    c = Client(server, key="relaxed")
    before = balance(c)
    assert c.post("/mj-relax/mj/submit/imagine", {"prompt": "a fox"}).json()["code"] in (1, 22)
    assert c.post("/mj/submit/imagine", {"prompt": "a fox --relax"}).json()["code"] in (1, 22)
    assert c.post("/mj/submit/imagine", {"prompt": "a fox --draft"}).json()["code"] in (1, 22)
    assert before - balance(c) == 10 + 10 + 5


def test_without_mode_prices_every_mode_costs_the_action_price(starter: Start) -> None:
    s = starter(settings=load_settings(timing="per-poll", strict=True, keys=[KeyConfig(key="k", balance=START)]))
    try:
        c = Client(s, key="k")
        c.post("/mj-turbo/mj/submit/imagine", {"prompt": "a fox --draft"})
        assert balance(c) == START - 10
    finally:
        s.stop()


@pytest.mark.parametrize(("settings", "words"), [
    ({"mode_prices": {"warp": 1.0}}, "unknown mode 'warp'"),
    ({"mode_prices": {"fast": -1.0}}, "must be 0 or more"),
    ({"keys": [KeyConfig(key="k", modes=["slow"])]}, "key k: unknown mode 'slow'"),
])
def test_bad_mode_settings_are_named(settings: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        load_settings(**settings)
