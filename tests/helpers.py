"""Helpers shared by the tests: the HTTP client of a mock, mocks started for a module or a test, real
images, the calls most tests make (submit, finish, press a button, count tasks and credit) and a callback
receiver. Fixtures built on them live in conftest.py."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from PIL import Image, ImageChops, ImageStat

from mockmj.serve.inprocess import MockServer, start_mock
from tests.wsgi import AppMock

# What a test talks to: a mock on a loopback socket (tests/serve) or the same app without one (tests/web).
Mock = MockServer | AppMock
Start = Callable[..., Mock]


# ------------------------------------------------------------------------------------------- client
class Client:
    """A tiny HTTP client bound to one mock and one key."""

    def __init__(self, server: Mock, key: str | None = "test-key") -> None:
        self.server = server
        self.base = server.base_url
        self.key = key
        self.http = session_of(server)

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


def session_of(server: Mock) -> requests.Session:
    """A plain requests session that reaches this mock (without a socket for a tests/web mock)."""
    return server.session() if isinstance(server, AppMock) else requests.Session()


# ------------------------------------------------------------------------------------------- mocks
class Servers:
    """Start fresh mocks (strict mode, and `defaults`, unless told) with `starter` (on a socket unless told);
    `stop_all` at teardown.

    `start` gives the server, calling the object gives a client of it."""

    def __init__(self, starter: Start = start_mock, **defaults: Any) -> None:
        self.starter = starter
        self.defaults = {"strict": True, **defaults}
        self.started: list[Any] = []

    def start(self, **options: Any) -> Any:
        server = self.starter(**{**self.defaults, **options})
        self.started.append(server)
        return server

    def __call__(self, **options: Any) -> Client:
        return Client(self.start(**options))

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


def running_mock(starter: Start = start_mock, **options: Any) -> Iterator[Any]:
    """A strict mock for the life of a (module-scoped) fixture: `yield from running_mock(...)`."""
    server = starter(**{"strict": True, **options})
    yield server
    server.stop()


def mock_client(starter: Start = start_mock, **options: Any) -> Iterator[Client]:
    """A client of a strict mock for the life of a (module-scoped) fixture: `yield from mock_client(...)`."""
    server = starter(**{"strict": True, **options})
    c = Client(server)
    yield c
    c.http.close()
    server.stop()


def is_proxy(c: Client) -> bool:
    """Does this client's mock speak the proxy dialect?"""
    return c.server.mock.engine.dialect.name == "proxy"


def nothing(c: Client) -> str | None:
    """What a task's string field holds before it has a value: null in the proxy dialect, "" in the 88api
    dialect (a relay serves its task fields as strings)."""
    return None if is_proxy(c) else ""


def reset_client(server: Mock) -> Client:
    """A client of a shared mock, reset to a clean world (tasks, keys, accounts, clock)."""
    client = Client(server)
    client.control("POST", "/reset", {})
    return client


def run_bash(server: MockServer, script: str, cwd: Any) -> Any:
    """Run a README script with $MJ and $KEY set for this mock; the finished process (it must succeed)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "MJ": server.base_url, "KEY": "demo",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def free_port() -> int:
    """A loopback port nobody listens on now (for a process the test starts itself)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------- images
def image_bytes(fmt: str, size: tuple[int, int] = (40, 30), colour: object = (200, 30, 60), **save: object) -> bytes:
    """A real image of one colour, encoded as `fmt` (Pillow's save options in `save`)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def mask_url(size: tuple[int, int] = (64, 64), white: tuple[int, int, int, int] | None = (0, 0, 32, 64)) -> str:
    """A Vary (Region) mask as a data URL: black, with the box `white` pure white (None: all black)."""
    mask = Image.new("L", size, 0)
    if white is not None:
        mask.paste(255, white)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


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


def png_of(picture: Image.Image, fmt: str = "PNG") -> bytes:
    """The encoded bytes of a picture (PNG unless told)."""
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    return buffer.getvalue()


def encoded(size: tuple[int, int], colour: tuple[int, int, int], fmt: str = "PNG") -> tuple[bytes, str]:
    """(the bytes of a real image, the same as a data URL)."""
    data = png_of(Image.new("RGB", size, colour), fmt)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg"}[fmt]
    return data, f"data:{mime};base64," + base64.b64encode(data).decode()


def quarter(grid: Image.Image, index: int) -> Image.Image:
    """Panel 1..4 of a 2×2 grid (1 top left, 2 top right, 3 bottom left, 4 bottom right)."""
    w, h = grid.width // 2, grid.height // 2
    left, top = (index - 1) % 2 * w, (index - 1) // 2 * h
    return grid.crop((left, top, left + w, top + h))


def download(c: Client, url: str) -> tuple[bytes, str]:
    assert url.startswith(c.base + "/"), url  # absolute, on this mock
    r = c.http.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return r.content, r.headers["content-type"]


def image_of(c: Client, task: dict[str, Any], mime: str | None = None) -> Image.Image:
    """The task's image, downloaded from the mock (and served as `mime` when told), in RGB."""
    assert task["imageUrl"], task
    data, served_as = download(c, task["imageUrl"])
    assert mime is None or served_as.startswith(mime), served_as
    return decode_image(data).convert("RGB")


def mean_diff(a: Image.Image, b: Image.Image, size: tuple[int, int] | None = (16, 16)) -> float:
    """Mean absolute per-channel difference (0..255) of two images, both brought to `size` (None: b to a's)."""
    a, b = a.convert("RGB"), b.convert("RGB")
    if size is None:
        b = b.resize(a.size)
    else:
        a, b = a.resize(size, Image.Resampling.BOX), b.resize(size, Image.Resampling.BOX)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


# ------------------------------------------------------------------------------------------- calls
def submit(c: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a submission that must answer 200; the envelope."""
    r = c.post(path, body)
    assert r.status_code == 200, r.text
    return r.json()


def submit_imagine(client: Client, prompt: str = "a lighthouse", headers: dict[str, str] | None = None,
                   codes: tuple[int, ...] = (1,), **body: Any) -> str:
    """Submit an imagine that must be answered with one of `codes`; the task id."""
    r = client.post("/mj/submit/imagine", {"prompt": prompt, **body}, headers=headers)
    assert r.status_code == 200 and r.json()["code"] in codes, r.text
    return r.json()["result"]


def finished(c: Client, answer: dict[str, Any]) -> dict[str, Any]:
    """The task of an accepted submission, driven to SUCCESS."""
    assert answer["code"] == 1, answer
    task = c.finish(answer["result"])
    assert task["status"] == "SUCCESS", task
    return task


def run(c: Client, task_id: str) -> tuple[list[str], dict[str, Any]]:
    """Poll a per-poll task to its end: the statuses it showed (one step per fetch) and the final view."""
    seen: list[str] = []
    for _ in range(40):
        task = c.fetch(task_id)
        seen.append(task["status"])
        if task["status"] in ("SUCCESS", "FAILURE", "CANCEL", "MODAL"):
            return seen, task
    raise AssertionError(f"task {task_id} did not finish: {seen}")


def button(task: dict[str, Any], label: str | None = None, emoji: str | None = None) -> str:
    """The customId of the task's one button with this label (or this emoji)."""
    found = [b["customId"] for b in task["buttons"]
             if (label is None or b["label"] == label) and (emoji is None or b["emoji"] == emoji)]
    assert len(found) == 1, (label, emoji, task["buttons"])
    return found[0]


def press(c: Client, task: dict[str, Any], custom_id: str, **extra: Any) -> requests.Response:
    """Press a button of the task (POST /mj/submit/action); `button(task, label)` finds a button's customId."""
    return c.post("/mj/submit/action", {"taskId": task["id"], "customId": custom_id, **extra})


def pressed(c: Client, task: dict[str, Any], custom_id: str, **extra: Any) -> dict[str, Any]:
    """`press` that must answer 200; the envelope."""
    r = press(c, task, custom_id, **extra)
    assert r.status_code == 200, r.text
    return r.json()


def task_count(c: Client) -> int:
    r = c.get("/mj/task/list")
    assert r.status_code == 200, r.text
    return len(r.json())


def balance(client: Client, key: str | None = None) -> int:
    """The credit of `key` (the client's own key unless told)."""
    return int(client.control("GET", f"/keys/{key or client.key}")["balance"])


# ------------------------------------------------------------------------------------------- callbacks
@dataclass
class Received:
    path: str
    content_type: str
    body: bytes
    wall_ms: float  # time.time() in ms when the request arrived

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A callback receiver on 127.0.0.1 in a thread.

    `statuses` are answered in turn (the last one repeats); with `hold` each request waits (up to
    `hold_seconds`) until `release()` before it is answered: a receiver that sleeps.
    """

    def __init__(self, statuses: tuple[int, ...] = (200,), hold: bool = False, hold_seconds: float = 10.0) -> None:
        self.calls: list[Received] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        self._statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.calls.append(Received(self.path, self.headers.get("Content-Type", ""), body,
                                                   time.time() * 1000))
                    status = receiver._statuses.pop(0) if len(receiver._statuses) > 1 else receiver._statuses[0]
                if hold:
                    receiver.released.wait(hold_seconds)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="test-receiver",
                                       daemon=True)
        self.thread.start()

    def payloads(self, task_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            calls = list(self.calls)
        return [c.payload for c in calls if task_id is None or c.payload.get("id") == task_id]

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            payloads = self.payloads()
            if done(payloads) or time.monotonic() > deadline:
                return payloads
            time.sleep(0.02)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
