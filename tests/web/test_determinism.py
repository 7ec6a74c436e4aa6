"""Determinism: with the same seed and manual timing, the same requests get byte-identical answers (ids,
hashes, images, timings); another seed gives other ids."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers import Client, Servers, png_data_url

PUBLIC_URL = "http://mj.example"  # image links must not carry the (random) port of each mock

Transcript = list[tuple[str, int, str, bytes]]


class Script:
    """Runs the scripted session against one mock and records every answer."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.transcript: Transcript = []

    def record(self, label: str, response: requests.Response) -> requests.Response:
        self.transcript.append((label, response.status_code, response.headers.get("Content-Type", ""),
                                response.content))
        return response

    def post(self, label: str, path: str, body: object) -> dict:
        return self.record(label, self.client.post(path, body)).json()

    def get(self, label: str, path: str) -> requests.Response:
        return self.record(label, self.client.get(path))

    def fetch(self, label: str, task_id: str) -> dict:
        return self.get(label, f"/mj/task/{task_id}/fetch").json()

    def image(self, label: str, url: str) -> None:
        assert url.startswith(PUBLIC_URL), url
        self.get(label, urlsplit(url).path)

    def control(self, label: str, method: str, path: str, body: object = None) -> dict:
        response = self.client.http.request(method, f"{self.client.base}/_mockmj{path}", json=body, timeout=30)
        return self.record(label, response).json()

    def advance(self, seconds: float) -> None:
        self.control(f"advance {seconds}", "POST", "/clock/advance", {"seconds": seconds})


def run_script(client: Client) -> Transcript:
    s = Script(client)
    body = {"prompt": "a lighthouse at dusk --ar 3:2", "state": "s1"}
    grid_id = s.post("imagine", "/mj/submit/imagine", body)["result"]
    failing = s.post("imagine fail", "/mj/submit/imagine", {"prompt": "a storm --mockmj fail:too windy"})["result"]
    s.fetch("fetch NOT_START", grid_id)
    s.advance(4)
    preview = s.fetch("fetch IN_PROGRESS", grid_id)
    s.image("preview image", preview["imageUrl"])
    s.advance(30)
    grid = s.fetch("fetch SUCCESS", grid_id)
    s.image("grid image", grid["imageUrl"])
    s.fetch("fetch FAILURE", failing)
    s.get("image seed", f"/mj/task/{grid_id}/image-seed")

    by_label = {b["label"]: b["customId"] for b in grid["buttons"]}
    upscale_id = s.post("U1", "/mj/submit/action", {"taskId": grid_id, "customId": by_label["U1"]})["result"]
    variation_id = s.post("V2", "/mj/submit/action", {"taskId": grid_id, "customId": by_label["V2"]})["result"]
    describe_id = s.post("describe", "/mj/submit/describe", {"base64": png_data_url((96, 64), (20, 120, 200))})[
        "result"]
    shorten_id = s.post("shorten", "/mj/submit/shorten", {"prompt": "a very detailed cinematic lighthouse"})["result"]
    s.advance(60)
    for label, task_id in (("upscale", upscale_id), ("variation", variation_id), ("describe", describe_id),
                           ("shorten", shorten_id)):
        task = s.fetch(f"fetch {label}", task_id)
        if task["imageUrl"]:
            s.image(f"{label} image", task["imageUrl"])
    s.get("list", "/mj/task/list")
    s.record("list-by-ids", client.post("/mj/task/list-by-ids", {"ids": [grid_id, upscale_id, "nope"]}))
    s.control("timeline", "GET", f"/tasks/{grid_id}/timeline")
    s.control("clock", "GET", "/clock")
    s.control("key", "GET", "/keys/test-key")
    # an unreadable body: the proxy dialect's Spring error carries a timestamp, from the mock's clock
    s.record("bad json", client.http.post(client.base + "/mj/submit/imagine", data=b"{oops",
                                          headers={**client.headers(), "Content-Type": "application/json"}))
    return s.transcript


def assert_identical(first: Transcript, second: Transcript) -> None:
    assert [t[0] for t in first] == [t[0] for t in second]
    for (label, status_a, type_a, body_a), (_, status_b, type_b, body_b) in zip(first, second, strict=True):
        assert (status_a, type_a) == (status_b, type_b), label
        assert body_a == body_b, f"{label}: the answers differ"


@pytest.mark.parametrize("dialect", ["88api", "proxy"])
def test_same_seed_same_bytes_and_a_full_reset_replays_them(mocks: Servers, dialect: str) -> None:
    first = run_script(mocks(timing="manual", seed=2024, public_url=PUBLIC_URL, dialect=dialect))
    second_mock = mocks(timing="manual", seed=2024, public_url=PUBLIC_URL, dialect=dialect)
    second = run_script(second_mock)
    answered = [(label, status) for label, status, _, _ in first]
    assert answered[-1] == ("bad json", 400)
    assert all(status == 200 for _, status in answered[:-1]), answered
    images = [body for label, _, kind, body in first if kind.startswith("image/")]
    assert len(images) == 5 and all(len(b) > 100 for b in images)
    assert_identical(first, second)
    if dialect == "88api":
        # A full reset of a mock that has run the script makes it a fresh mock of its seed again: the same
        # script replays the same bytes (a reset does not depend on the dialect: one dialect checks it).
        second_mock.control("POST", "/reset")
        assert_identical(first, run_script(second_mock))


def test_other_seed_other_ids(mocks: Servers) -> None:
    a = mocks(timing="manual", seed=1, public_url=PUBLIC_URL)
    b = mocks(timing="manual", seed=2, public_url=PUBLIC_URL)
    ids_a = [a.imagine(f"cat {i}").json()["result"] for i in range(3)]
    ids_b = [b.imagine(f"cat {i}").json()["result"] for i in range(3)]
    assert set(ids_a).isdisjoint(ids_b)
    a.advance(30)
    b.advance(30)
    first_a, first_b = a.fetch(ids_a[0]), b.fetch(ids_b[0])
    assert first_a["properties"]["messageHash"] != first_b["properties"]["messageHash"]
    assert first_a["properties"]["nonce"] != first_b["properties"]["nonce"]
    assert first_a["imageUrl"] != first_b["imageUrl"]
