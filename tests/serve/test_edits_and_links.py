"""Edits and retexture (/mj/submit/edits, its alias /mj/submit/edit, /mj/submit/retexture), images given by
link (the mock's own URLs and loopback only, never the network), and describe by `link`."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image, ImageStat

from tests.helpers import (
    Client,
    balance,
    button,
    decode_image,
    download,
    image_of,
    is_proxy,
    mock_client,
    png_of,
    quarter,
    run,
    submit,
    task_count,
)


@pytest.fixture(scope="module", params=["88api", "proxy"])
def ec(request: pytest.FixtureRequest) -> Iterator[Client]:
    yield from mock_client(timing="per-poll", seed=3, dialect=request.param)


def halves(size: tuple[int, int] = (120, 80)) -> bytes:
    """A PNG dark on the left half, bright yellow on the right: shapes a retexture must keep."""
    picture = Image.new("RGB", size, (20, 20, 30))
    picture.paste((250, 240, 60), (size[0] // 2, 0, size[0], size[1]))
    return png_of(picture)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """A loopback HTTP server with one image at /pic.png (a test's own fixture server)."""
    data = halves()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/elsewhere.png":  # a loopback server sending the mock off the machine
                self.send_response(302)
                self.send_header("Location", "https://203.0.113.7/cat.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            found = self.path == "/pic.png"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def done(c: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = submit(c, path, body)
    assert answer["code"] == 1, answer
    _, task = run(c, answer["result"])
    assert task["status"] == "SUCCESS", task
    return task


def light(image: Image.Image) -> float:
    return ImageStat.Stat(image.convert("L")).mean[0]


@pytest.mark.parametrize(("path", "action", "command"), [
    ("/mj/submit/edits", "EDIT", "edit"), ("/mj/submit/edit", "EDIT", "edit"),
    ("/mj/submit/retexture", "RETEXTURE", "retexture"),
])
def test_edits_and_retexture_make_grids_from_the_input(ec: Client, path: str, action: str, command: str) -> None:
    task = done(ec, path, {"prompt": "the same, in gold", "image": b64(halves())})  # bare base64: prefix optional
    assert task["action"] == action and task["description"] == f"/{command} the same, in gold"
    assert task["version"] == ("v 8.1" if is_proxy(ec) else "8.1")  # the default model
    assert [b["label"] for b in task["buttons"]] == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    source_url = task["promptEn"].split(" ", 1)[0]
    assert decode_image(download(ec, source_url)[0]).size == (120, 80)
    grid = image_of(ec, task)
    assert grid.size == (2688, 1792)  # four 1344×896 cells: the input is 3:2
    for k in range(1, 5):
        cell = quarter(grid, k)
        w, h = cell.size
        # made from the input: its dark left and bright right survive in every panel
        assert light(cell.crop((0, 0, w // 3, h))) + 40 < light(cell.crop((2 * w // 3, 0, w, h))), (k, action)
    u1 = run(ec, submit(ec, "/mj/submit/action", {"taskId": task["id"], "customId": button(task, "U1")})["result"])[1]
    assert image_of(ec, u1).tobytes() == quarter(grid, 1).tobytes()


def test_an_image_link_to_the_mock_itself_is_read(ec: Client) -> None:
    first = done(ec, "/mj/submit/edits", {"prompt": "x", "image": "data:image/png;base64," + b64(halves())})
    again = done(ec, "/mj/submit/retexture", {"prompt": "y", "image": first["imageUrl"]})
    linked = decode_image(download(ec, again["promptEn"].split(" ", 1)[0])[0])
    assert linked.tobytes() == image_of(ec, first).tobytes()  # read from the mock's own gallery, not the network
    assert image_of(ec, again).size == (2688, 1792)  # a grid of the 3:2 grid it was given


@pytest.mark.parametrize("body", [{"prompt": "x"}, {"image": "iVBORw0KGgo="}, {"prompt": " ", "image": "iVBORw0KGgo="}])
def test_edits_need_image_and_prompt(ec: Client, body: dict[str, Any]) -> None:
    before, money = task_count(ec), balance(ec)
    r = ec.post("/mj/submit/edits", body)
    if not is_proxy(ec) and ("prompt" not in body or "image" not in body):
        assert r.status_code == 400, r.text  # the 88API dialect applies the schema: both fields are required
    else:
        assert r.status_code == 200, r.text
        answer = r.json()
        assert (answer["code"], answer["description"]) == ((4, "image或prompt不能为空") if is_proxy(ec) else
                                                          (21, "Parameter error: image and prompt must not be empty"))
    assert (task_count(ec), balance(ec)) == (before, money)


def test_describe_by_link(ec: Client, image_server: str) -> None:
    grid = done(ec, "/mj/submit/imagine", {"prompt": "a lantern"})
    own = done(ec, "/mj/submit/describe", {"link": grid["imageUrl"]})
    assert own["action"] == "DESCRIBE" and own["prompt"].startswith("1️⃣")
    assert decode_image(download(ec, own["imageUrl"])[0]).size == (2048, 2048)  # the linked image itself
    loopback = done(ec, "/mj/submit/describe", {"link": image_server + "/pic.png"})
    assert decode_image(download(ec, loopback["imageUrl"])[0]).size == (120, 80)


@pytest.mark.parametrize(("link", "words"), [
    ("https://203.0.113.7/cat.png", "never fetches from the network"),
    ("ftp://127.0.0.1/cat.png", "http(s)"),
    ("LOOPBACK/missing.png", "HTTP 404"),
    ("LOOPBACK/elsewhere.png", "HTTP 302"),  # redirects are not followed
])
def test_describe_refuses_links_it_cannot_read(ec: Client, image_server: str, link: str, words: str) -> None:
    before, money = task_count(ec), balance(ec)
    r = ec.post("/mj/submit/describe", {"link": link.replace("LOOPBACK", image_server)})
    assert r.status_code == 200, r.text
    answer = r.json()
    if is_proxy(ec):
        assert (answer["code"], answer["description"]) == (4, "链接格式错误")
    else:
        assert answer["code"] == 21 and words in answer["description"], answer
    assert (task_count(ec), balance(ec)) == (before, money)


def test_describe_needs_base64_or_link(ec: Client) -> None:
    answer = submit(ec, "/mj/submit/describe", {"base64": "", "link": ""})
    assert (answer["code"], answer["description"]) == ((4, "base64或link不能为空") if is_proxy(ec) else
                                                      (21, "Parameter error: base64 or link must not be empty"))
