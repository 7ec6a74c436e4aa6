"""Past `max_tasks` the oldest finished tasks are forgotten, a task before the tasks made from it: a kept child
whose picture is drawn from a forgotten parent has no file any more. Its file answers 404 like any unknown file
(whether or not it was downloaded before), and what needs that picture is refused with a reason, never a 500."""

from __future__ import annotations

from typing import Any

from mockmj.config import load_settings
from mockmj.web.app import create_app
from tests.helpers import mask_url

KEY = {"Authorization": "Bearer tenant-a"}


def test_a_child_of_a_forgotten_parent_has_no_file_and_cannot_be_drawn_on() -> None:
    app = create_app(load_settings(timing="manual", seed=9, max_tasks=3))
    app.extensions["mockmj"].callbacks.stop()
    c = app.test_client()

    def finished(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = c.post(path, json=body, headers=KEY).get_json()
        c.post("/_mockmj/clock/advance", json={"seconds": 600})
        return c.get(f"/mj/task/{answer['result']}/fetch", headers=KEY).get_json()

    def file_of(task: dict[str, Any]) -> str:
        return "/" + task["imageUrl"].split("//", 1)[1].split("/", 1)[1]

    def press(task: dict[str, Any], label: str) -> dict[str, Any]:
        custom_id = next(b["customId"] for b in task["buttons"] if b["label"] == label)
        return c.post("/mj/submit/action", json={"taskId": task["id"], "customId": custom_id}, headers=KEY).get_json()

    grid = finished("/mj/submit/imagine", {"prompt": "a lighthouse"})
    first = finished("/mj/submit/action", {"taskId": grid["id"], "customId": next(
        b["customId"] for b in grid["buttons"] if b["label"] == "U1")})
    second = finished("/mj/submit/action", {"taskId": grid["id"], "customId": next(
        b["customId"] for b in grid["buttons"] if b["label"] == "U2")})
    assert c.get(file_of(first)).status_code == 200  # drawn, and kept in the gallery's cache

    window = press(first, "Vary (Region)")  # a fourth task: the oldest finished one, the grid, is forgotten
    assert window["code"] == 21, window
    money = c.get("/_mockmj/keys/tenant-a").get_json()["balance"]
    gone = c.get(f"/mj/task/{grid['id']}/fetch", headers=KEY)
    assert gone.status_code == 404 or gone.get_json().get("id") is None, gone.get_json()
    assert c.get(file_of(grid)).status_code == 404
    for child in (first, second):
        assert c.get(f"/mj/task/{child['id']}/fetch", headers=KEY).get_json() == child  # the task is kept
        assert c.get(file_of(child)).status_code == 404, child["id"]  # its picture came from the grid

    confirmed = c.post("/mj/submit/modal", json={"taskId": window["result"], "prompt": "a red roof",
                                                 "maskBase64": mask_url()}, headers=KEY)
    assert confirmed.status_code < 500 and confirmed.get_json()["code"] != 1, confirmed.get_json()
    assert "no longer be drawn" in confirmed.get_json()["description"]
    assert c.get(f"/mj/task/{window['result']}/fetch", headers=KEY).get_json()["status"] == "MODAL"
    assert c.get("/_mockmj/keys/tenant-a").get_json()["balance"] == money  # nothing charged by the refusal
