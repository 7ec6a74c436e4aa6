"""Every request example of the 88API Midjourney document, sent as the document shows it.

The bodies below are copied from the document's curl examples, character for character; only the
placeholders are replaced by real values: `xxx` by real PNG data URLs, the truncated JPEGs of the
face-swap example by two real, different JPEGs, and the example task ids and customId by those of
real tasks of the mock (a finished imagine task, its U1 button, and a MODAL task from Custom Zoom).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from mockmj.serve.inprocess import MockServer
from tests.helpers import Client, decode_image, png_data_url, reset_client

# The document ends every submission example with the same account filter, hook and state: written once here,
# the texts below are still the document's character for character.
TAIL = """  "accountFilter": {
    "channelId": "",
    "instanceId": "",
    "modes": [],
    "remark": "",
    "remix": true,
    "remixAutoConsidered": true
  },
  "notifyHook": "",
  "state": ""
}"""

IMAGINE = """{
  "botType": "MID_JOURNEY",
  "prompt": "Cat",
  "base64Array": [],
""" + TAIL

BLEND = """{
  "botType": "MID_JOURNEY",
  "base64Array": [
    "data:image/png;base64,xxx1",
    "data:image/png;base64,xxx2"
  ],
  "dimensions": "SQUARE",
""" + TAIL

DESCRIBE = """{
  "botType": "MID_JOURNEY",
  "base64": "data:image/png;base64,xxx",
""" + TAIL

MODAL = """{
  "maskBase64": "",
  "prompt": "",
  "taskId": "14001934816969359"
}"""

SWAP_FACE_SOURCE = (
    "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAkGBwgHBgkIBwgKCgkLDRYPDQwMDRsUFRAWIB0iIiAdHx8kKDQsJCYxJx8f"
    "LT0tMTU3Ojo6Iys/RDnYdriP1wsS81kwU8OVs/R3xu8s6bX7+zYnOH8coSqpmRSBjqerjcBlr2OB/lbAf/2Q=="
)
SWAP_FACE_TARGET = (
    "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAkGBwgHBgkIBwgKCgkLDRYPDQwMDRsUFRAWIB0iIiAdHx8kKDQsJCYxJx8f"
    "LT0tMTU3Ojo6Iys/RD849k="
)
SWAP_FACE = f"""{{
  "sourceBase64": "{SWAP_FACE_SOURCE}",
  "targetBase64": "{SWAP_FACE_TARGET}"
}}"""

ACTION = """{
  "chooseSameChannel": true,
  "customId": "MJ::JOB::upsample::1::82c51c9d-bc33-4c07-a471-36c3dcb1a6f0",
  "taskId": "1728781324658687",
""" + TAIL

UPLOAD = """{
  "base64Array": [],
  "filter": {
    "channelId": "",
    "instanceId": "",
    "remark": ""
  }
}"""

LIST_BY_CONDITION = """{
  "ids": []
}"""

DOC_ACTION_ID = "1728781324658687"
DOC_CUSTOM_ID = "MJ::JOB::upsample::1::82c51c9d-bc33-4c07-a471-36c3dcb1a6f0"
DOC_MODAL_ID = "14001934816969359"


def send(client: Client, method: str, path: str, raw: str | None = None) -> requests.Response:
    """The request exactly as the document's curl sends it: these headers, this body text."""
    headers = client.headers({"Accept": "application/json", "Content-Type": "application/json"})
    data = raw.encode("utf-8") if raw is not None else None
    return client.http.request(method, client.base + path, data=data, headers=headers, timeout=30)


def accepted(r: requests.Response, code: int = 1) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"code", "description", "properties", "result"}, body
    assert body["code"] == code, body
    assert isinstance(body["properties"], dict)
    return body


def jpeg_data_url(colour: tuple[int, int, int]) -> str:
    return png_data_url((96, 96), colour, fmt="JPEG")


def finished_imagine(client: Client, prompt: str = "Cat") -> dict[str, Any]:
    task_id = accepted(client.imagine(prompt))["result"]
    task = client.finish(task_id)
    assert task["status"] == "SUCCESS", task
    return task


@pytest.fixture
def manual(shared_manual: MockServer) -> Client:
    """conftest's `manual`, on conftest's module-wide `shared_manual` mock, reset to a clean world."""
    return reset_client(shared_manual)


def test_imagine(manual: Client) -> None:
    json.loads(IMAGINE)  # the example is valid JSON as printed
    body = accepted(send(manual, "POST", "/mj/submit/imagine", IMAGINE))
    assert isinstance(body["result"], str)
    task = manual.finish(body["result"])
    assert task["status"] == "SUCCESS"
    assert task["prompt"] == "Cat"
    assert task["state"] == ""  # echoed verbatim
    assert task["properties"]["notifyHook"] is None  # blank: no callback (no global hook configured)
    assert task["properties"]["botType"] == "MID_JOURNEY"


def test_blend(manual: Client) -> None:
    raw = BLEND.replace("data:image/png;base64,xxx1", png_data_url((60, 60), (220, 40, 40)))
    raw = raw.replace("data:image/png;base64,xxx2", png_data_url((60, 60), (40, 40, 220)))
    assert "xxx" not in raw
    body = accepted(send(manual, "POST", "/mj/submit/blend", raw))
    task = manual.finish(body["result"])
    assert task["status"] == "SUCCESS" and task["action"] == "BLEND"
    image = decode_image(manual.http.get(task["imageUrl"], timeout=30).content)
    assert image.width == image.height  # SQUARE


def test_describe(manual: Client) -> None:
    raw = DESCRIBE.replace("data:image/png;base64,xxx", png_data_url((80, 60)))
    body = accepted(send(manual, "POST", "/mj/submit/describe", raw))
    task = manual.finish(body["result"])
    assert task["status"] == "SUCCESS" and task["action"] == "DESCRIBE"
    assert task["prompt"]


def test_action(manual: Client) -> None:
    grid = finished_imagine(manual)
    u1 = grid["buttons"][0]["customId"]
    assert u1.startswith("MJ::JOB::upsample::1::")
    raw = ACTION.replace(DOC_CUSTOM_ID, u1).replace(DOC_ACTION_ID, grid["id"])
    body = accepted(send(manual, "POST", "/mj/submit/action", raw))
    assert body["result"] != grid["id"]
    task = manual.finish(body["result"])
    assert task["status"] == "SUCCESS" and task["action"] == "UPSCALE"


def test_modal_after_custom_zoom(manual: Client) -> None:
    grid = finished_imagine(manual, "Cat --v 7")  # Custom Zoom is a V7 button (V8.1 has no Zoom)
    u1 = grid["buttons"][0]["customId"]
    upscale = accepted(manual.post("/mj/submit/action", {"taskId": grid["id"], "customId": u1}))
    upscaled = manual.finish(upscale["result"])
    zoom = next(b["customId"] for b in upscaled["buttons"] if b["customId"].startswith("MJ::CustomZoom::"))
    window = accepted(manual.post("/mj/submit/action", {"taskId": upscaled["id"], "customId": zoom}), code=21)
    modal_id = window["result"]
    assert "--zoom 2" in window["properties"]["finalPrompt"]
    assert manual.fetch(modal_id)["status"] == "MODAL"

    body = accepted(send(manual, "POST", "/mj/submit/modal", MODAL.replace(DOC_MODAL_ID, modal_id)))
    assert body["result"] == modal_id
    task = manual.finish(modal_id)
    assert task["status"] == "SUCCESS" and task["action"] == "ZOOM"


def test_swap_face(manual: Client) -> None:
    source, target = jpeg_data_url((230, 190, 160)), jpeg_data_url((30, 90, 160))
    assert source != target
    raw = SWAP_FACE.replace(SWAP_FACE_SOURCE, source).replace(SWAP_FACE_TARGET, target)
    body = accepted(send(manual, "POST", "/mj/insight-face/swap", raw))
    assert isinstance(body["result"], str)
    task = manual.finish(body["result"])
    assert task["status"] == "SUCCESS" and task["action"] == "SWAP_FACE"
    assert task["properties"]["botType"] == "INSIGHT_FACE"


def test_upload_discord_images(manual: Client) -> None:
    body = accepted(send(manual, "POST", "/mj/submit/upload-discord-images", UPLOAD))
    assert body["result"] == []
    one = json.loads(UPLOAD)
    one["base64Array"] = [png_data_url()]
    body = accepted(send(manual, "POST", "/mj/submit/upload-discord-images", json.dumps(one)))
    assert len(body["result"]) == 1
    assert manual.http.get(body["result"][0], timeout=30).status_code == 200


def test_list_by_condition(manual: Client) -> None:
    accepted(manual.imagine("Cat"))  # there is a task, and the empty list still finds none
    r = send(manual, "POST", "/mj/task/list-by-condition", LIST_BY_CONDITION)
    assert r.status_code == 200
    assert r.json() == []


def test_fetch(manual: Client) -> None:
    grid = finished_imagine(manual)
    r = send(manual, "GET", f"/mj/task/{grid['id']}/fetch")
    assert r.status_code == 200
    assert r.json() == grid


def test_image_seed(manual: Client) -> None:
    grid = finished_imagine(manual)
    body = accepted(send(manual, "GET", f"/mj/task/{grid['id']}/image-seed"))
    assert isinstance(body["result"], str) and body["result"].isdigit()


@pytest.mark.parametrize("prefix", ["/mj-fast", "/mj-relax", "/mj-turbo"])
def test_imagine_under_a_mode_prefix(manual: Client, prefix: str) -> None:
    body = accepted(send(manual, "POST", f"{prefix}/mj/submit/imagine", IMAGINE))
    assert manual.fetch(body["result"])["properties"]["mode"] == prefix.removeprefix("/mj-").upper()


def test_swap_face_example_as_printed_is_a_clear_parameter_error(manual: Client) -> None:
    """The document's JPEGs are truncated (not decodable): a business error naming the field, no task."""
    body = accepted(send(manual, "POST", "/mj/insight-face/swap", SWAP_FACE), code=21)
    assert body["result"] is None
    assert "sourceBase64" in body["description"]
    assert manual.get("/mj/task/list").json() == []
