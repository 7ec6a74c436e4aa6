"""Shared fixtures: mocks always in strict mode (every response the mock sends is validated against
openapi.yaml; a violation fails the request with a 500), on loopback sockets unless a layer's conftest.py
says otherwise (`starter`). The helpers they use, and that the tests import, live in tests/helpers.py.

The tests come in layers, fastest first: tests/engine (no sockets, no Flask), tests/web (the app over HTTP
without a socket), tests/serve (real sockets, subprocesses, browsers, redis-server) and tests/contract (the
contract suite's own tests). Everything under tests/serve and tests/contract is marked `serve`, and so is
the contract suite in contracts/ (it drives a mock on a loopback socket, with a callback receiver of its
own), as is any case of a faster layer's test that runs on a redis-server, so `pytest -m "not serve"` is
the inner loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mockmj.serve.inprocess import start_mock
from tests.helpers import Client, Mock, Receiver, Servers, Start, mock_client, running_mock

SLOW_LAYERS = ("serve", "contract")
CONTRACT_SUITE = Path(__file__).resolve().parents[1] / "contracts"


def needs_redis_server(item: pytest.Item) -> bool:
    """A test of a faster layer run on a Redis store (asking for the redis-server fixtures, or given "redis"
    as a parameter) needs a redis-server: that case alone belongs with the serve layer."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & {"redis_url", "fresh_redis"}) or "redis" in params


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark by folder: a test's layer is where it lives, not a decorator someone may forget."""
    for item in items:
        parts = item.path.parts
        if ("tests" in parts and parts[parts.index("tests") + 1] in SLOW_LAYERS) or \
                item.path.is_relative_to(CONTRACT_SUITE) or needs_redis_server(item):
            item.add_marker(pytest.mark.serve)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; without xdist there is nothing to schedule
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n N`, each test module goes whole to one worker (pytest-xdist's loadscope), the modules with
    the most tests first. Module-scoped fixtures (a module's shared mock, the contract self-check's runs of
    the suite) are then set up once per run. xdist's default sends consecutive chunks of tests instead, so a
    module that straddles two chunks sets its fixtures up on two workers: under `-n 4` the mutation
    self-check, the costliest fixture of all, ran twice."""
    from xdist.scheduler import LoadScopeScheduling

    return LoadScopeScheduling(config, log)


@pytest.fixture(scope="session")
def starter() -> Start:
    """How the fixtures below start a mock: on a loopback socket here; tests/web/conftest.py overrides it
    with the same app reached without a socket."""
    return start_mock


@pytest.fixture
def make_server(starter: Start) -> Iterator[Callable[..., Mock]]:
    """Start mocks with any options (strict mode on); all are stopped after the test."""
    servers = Servers(starter)
    yield servers.start
    servers.stop_all()


@pytest.fixture
def server(make_server: Callable[..., Mock]) -> Mock:
    return make_server(timing="fast", seed=7)


@pytest.fixture
def client(server: Mock) -> Client:
    return Client(server)


@pytest.fixture
def manual(make_server: Callable[..., Mock]) -> Client:
    """A client of a mock whose time moves only when the test advances it."""
    return Client(make_server(timing="manual", seed=7))


@pytest.fixture
def mocks(starter: Start) -> Iterator[Servers]:
    """Start fresh mocks as clients (strict mode, seed 7 unless told); all are stopped after the test."""
    servers = Servers(starter, seed=7)
    yield servers
    servers.stop_all()


@pytest.fixture(scope="module")
def shared_manual(starter: Start) -> Iterator[Mock]:
    """One manual-timing mock for a whole module (starting a mock per test costs most of the run); a module
    that uses it overrides `manual` with `reset_client(shared_manual)`."""
    yield from running_mock(starter, timing="manual", seed=7)


@pytest.fixture(scope="module")
def shared_manual_proxy(starter: Start) -> Iterator[Mock]:
    """`shared_manual` in the proxy dialect."""
    yield from running_mock(starter, timing="manual", seed=7, dialect="proxy")


@pytest.fixture(scope="module")
def pc(starter: Start, request: pytest.FixtureRequest) -> Iterator[Client]:
    """One per-poll mock for the module (every fetch moves a task one step, so nothing waits on time), with
    the module's `PER_POLL` options (seed 7 unless it sets one)."""
    yield from mock_client(starter, **{"timing": "per-poll", "seed": 7, **getattr(request.module, "PER_POLL", {})})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**options: Any) -> Receiver:
        receiver = Receiver(**options)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One real redis-server for the session; tests that use it flush it first (`fresh_redis`)."""
    from tests.redis_server import redis_server, require_redis_server

    require_redis_server()
    with redis_server() as url:
        yield url


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    from tests.stores import flush_redis

    flush_redis(redis_url)
    return redis_url


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """The URL of an empty shared store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'mock.db'}"
    return request.getfixturevalue("fresh_redis")
