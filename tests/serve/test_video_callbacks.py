"""A video task's callbacks, sent to a real receiver on a loopback socket, carry the video (the rest of
video is tested in tests/web/test_video.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import Client, Receiver, mock_client, run, submit
from tests.web.test_video import start_image


@pytest.fixture(scope="module", params=["88api", "proxy"])
def vc(request: pytest.FixtureRequest) -> Iterator[Client]:
    yield from mock_client(timing="per-poll", seed=11, dialect=request.param)


def test_callbacks_carry_the_videos(vc: Client, receiver: Receiver) -> None:
    answer = submit(vc, "/mj/submit/video", {"prompt": "x", "image": start_image(), "batchSize": 1,
                                             "notifyHook": receiver.url})
    _, task = run(vc, answer["result"])
    calls = receiver.wait_for(lambda got: any(p.get("status") == "SUCCESS" for p in got))
    final = [p for p in calls if p["id"] == task["id"] and p["status"] == "SUCCESS"]
    assert final and final[-1]["videoUrl"] == task["videoUrl"] and final[-1]["contentType"] == "video/mp4"
    assert any(p["status"] == "IN_PROGRESS" for p in calls if p["id"] == task["id"])
