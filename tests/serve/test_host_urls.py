"""A task's image URLs follow the Host a request came in on, on a real socket whose port is in that Host
(the rest of the lifecycle is tested in tests/web/test_lifecycle.py)."""

from __future__ import annotations

from tests.helpers import Client
from tests.web.test_lifecycle import submit


def test_image_url_follows_the_request_host(manual: Client) -> None:
    task_id = submit(manual)
    manual.advance(60)
    port = manual.server.port
    as_localhost = manual.get(f"/mj/task/{task_id}/fetch", headers={"Host": f"localhost:{port}"}).json()
    as_loopback = manual.fetch(task_id)
    assert as_localhost["imageUrl"].startswith(f"http://localhost:{port}/attachments/")
    assert as_loopback["imageUrl"].startswith(f"http://127.0.0.1:{port}/attachments/")
    path = as_localhost["imageUrl"].removeprefix(f"http://localhost:{port}")
    assert as_loopback["imageUrl"] == manual.base + path
    assert manual.http.get(manual.base + path, timeout=30).status_code == 200
