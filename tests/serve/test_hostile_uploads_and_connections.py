"""Hostile input, shared resources: upload URLs that cannot be guessed or collide across tenants, uploads
freed with their key, and idle connections that cannot starve the server."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import requests

from mockmj.serve.inprocess import MockServer
from tests.helpers import Client, png_data_url, running_mock


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    yield from running_mock(timing="manual", seed=7)


def upload(client: Client, count: int = 1) -> list[str]:
    images = [png_data_url((4, 4), (i * 40 % 256, 10, 10)) for i in range(count)]
    answer = client.post("/mj/submit/upload-discord-images", {"base64Array": images}).json()
    assert answer["code"] == 1, answer
    return answer["result"]


def test_upload_urls_carry_64_random_bits(server: MockServer) -> None:
    (url,) = upload(Client(server, key="random-a"))
    name = url.rsplit("/", 1)[1]
    assert re.fullmatch(r"upload_0_[0-9a-f]{16}\.png", name), name


def test_uploads_never_collide_across_tenants_even_when_time_stands_still(server: MockServer) -> None:
    # manual timing: the clock does not move, so nothing time-based tells two uploads apart
    a, b = Client(server, key="tenant-a"), Client(server, key="tenant-b")
    seen: dict[str, str] = {}
    for _ in range(300):
        for client in (a, b):
            for url in upload(client, 5):
                path = url.split("/attachments/", 1)[1]
                assert path not in seen, f"{path} issued twice ({seen[path]} and {client.key})"
                seen[path] = client.key
    assert len(seen) == 3000


def test_a_key_reset_frees_its_uploads(server: MockServer) -> None:
    client = Client(server, key="reset-uploads")
    urls = upload(client, 2)
    imagined = client.imagine("cat", base64Array=[png_data_url((6, 6))]).json()["result"]
    reference = client.fetch(imagined)["prompt"].split()[0]
    assert all(requests.get(u, timeout=10).status_code == 200 for u in [*urls, reference])
    client.control("POST", "/reset", {"key": client.key})
    assert all(requests.get(u, timeout=10).status_code == 404 for u in [*urls, reference])


def test_a_key_keeps_only_its_latest_uploads_with_no_task(server: MockServer) -> None:
    client = Client(server, key="many-uploads")
    first = upload(client)[0]
    for _ in range(21):
        upload(client, 5)  # 105 more
    assert requests.get(first, timeout=10).status_code == 404, "the oldest loose upload was let go"


def test_hundreds_of_idle_connections_do_not_starve_a_fetch(server: MockServer) -> None:
    client = Client(server, key="idle-sockets")
    task = client.imagine("a cat").json()["result"]
    idle: list[socket.socket] = []
    try:
        for _ in range(500):  # five times waitress's default limit of 100 open channels
            idle.append(socket.create_connection((server.host, server.port), timeout=5))
        answer = requests.get(f"{server.base_url}/mj/task/{task}/fetch", headers=client.headers(), timeout=10)
        assert answer.status_code == 200 and answer.json()["id"] == task
    finally:
        for sock in idle:
            sock.close()
