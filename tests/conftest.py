"""Shared fixtures: real mock servers on loopback sockets, always in strict mode (every response the
mock sends is validated against openapi.yaml; a violation fails the request with a 500)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from mockmj.server import MockServer, start_mock


class Client:
    """A tiny HTTP client bound to one mock and one key."""

    def __init__(self, server: MockServer, key: str | None = "test-key") -> None:
        self.server = server
        self.base = server.base_url
        self.key = key
        self.http = requests.Session()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**h, **(extra or {})}

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, json=body, headers=self.headers(headers), timeout=30, **kw)

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, headers=self.headers(headers), timeout=30, **kw)

    def imagine(self, prompt: str = "Cat", **extra: Any) -> requests.Response:
        return self.post("/mj/submit/imagine", {"prompt": prompt, **extra})

    def fetch(self, task_id: str) -> dict[str, Any]:
        r = self.get(f"/mj/task/{task_id}/fetch")
        assert r.status_code == 200, r.text
        return r.json()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, self.base + "/_mockmj" + path, json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def advance(self, seconds: float) -> Any:
        return self.control("POST", "/clock/advance", {"seconds": seconds})

    def finish(self, task_id: str, limit: float = 120) -> dict[str, Any]:
        """Drive a task to a terminal state whatever the timing profile."""
        import time

        deadline = time.monotonic() + 20
        while True:
            task = self.fetch(task_id)
            if task["status"] in ("SUCCESS", "FAILURE", "CANCEL", "MODAL"):
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} did not finish: {task}")
            timing = self.control("GET", "/clock")["timing"]
            if timing == "manual":
                self.advance(5)
            elif timing != "per-poll":
                time.sleep(0.05)


@pytest.fixture
def make_server() -> Iterator[Callable[..., MockServer]]:
    """Start mocks with any options (strict mode on); all are stopped after the test."""
    started: list[MockServer] = []

    def make(**options: Any) -> MockServer:
        options.setdefault("strict", True)
        server = start_mock(**options)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., MockServer]) -> MockServer:
    return make_server(timing="fast", seed=7)


@pytest.fixture
def client(server: MockServer) -> Client:
    return Client(server)


@pytest.fixture
def manual(make_server: Callable[..., MockServer]) -> Client:
    """A client of a mock whose time moves only when the test advances it."""
    return Client(make_server(timing="manual", seed=7))


def png_data_url(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30),
                 fmt: str = "PNG") -> str:
    """A real image as a data URL."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode()


def decode_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
