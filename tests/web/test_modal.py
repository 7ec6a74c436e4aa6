"""The window flows over HTTP: Custom Zoom and Vary (Region) open a MODAL task that POST
/mj/submit/modal confirms (or /cancel abandons), and remix turns V, reroll, Vary and pan into windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from tests.helpers import (
    Client,
    balance,
    button,
    finished,
    image_of,
    mask_url,
    mean_diff,
    pressed,
    quarter,
    submit,
    task_count,
)
from tests.helpers import Mock as MockServer

PER_POLL = {"seed": 11, "default_version": "7"}  # the `pc` fixture's mock (conftest.py): Zoom, Pan are V7

HOOK = "http://127.0.0.1:9/hook"


# ------------------------------------------------------------------------------------------- helpers
def grid_and_upscale(c: Client, prompt: str = "a lighthouse on a cliff") -> tuple[dict[str, Any], dict[str, Any]]:
    grid = finished(c, submit(c, "/mj/submit/imagine", {"prompt": prompt}))
    return grid, finished(c, pressed(c, grid, button(grid, "U1")))


def opened(answer: dict[str, Any]) -> str:
    """Check a code-21 window answer and return the MODAL task's id."""
    assert answer["code"] == 21, answer
    assert answer["description"] == "Waiting for window confirm"
    assert isinstance(answer["result"], str) and answer["result"]
    assert answer["properties"]["remix"] is True
    assert isinstance(answer["properties"]["finalPrompt"], str)
    return answer["result"]


def account(c: Client) -> dict[str, Any]:
    accounts = c.control("GET", "/accounts")
    assert len(accounts) == 1, accounts
    return accounts[0]


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def upscaled(pc: Client) -> dict[str, Any]:
    return grid_and_upscale(pc)[1]


@pytest.fixture(scope="module")
def upscaled_image(pc: Client, upscaled: dict[str, Any]) -> Image.Image:
    return image_of(pc, upscaled)


@pytest.fixture
def remix_client(make_server: Callable[..., MockServer]) -> Client:
    return Client(make_server(timing="per-poll", seed=5, default_version="7"))


# ------------------------------------------------------------------------------------------- Custom Zoom
def test_custom_zoom_opens_a_window_that_holds_no_task_yet(pc: Client, upscaled: dict[str, Any]) -> None:
    before, money = task_count(pc), balance(pc)
    answer = pressed(pc, upscaled, button(upscaled, "Custom Zoom"))
    task_id = opened(answer)
    assert task_id != upscaled["id"]
    assert "--zoom 2" in answer["properties"]["finalPrompt"]
    assert answer["properties"]["finalPrompt"].startswith(upscaled["prompt"])
    task = pc.fetch(task_id)
    assert task["status"] == "MODAL"
    assert task["action"] == "ZOOM"
    assert not task["imageUrl"] and task["buttons"] == []
    assert pc.fetch(task_id)["status"] == "MODAL"  # polling does not move a window along
    assert task_count(pc) == before + 1
    assert balance(pc) <= money


def test_custom_zoom_confirmed_with_its_own_zoom_runs_to_success(
    pc: Client, upscaled: dict[str, Any], upscaled_image: Image.Image
) -> None:
    task_id = opened(pressed(pc, upscaled, button(upscaled, "Custom Zoom")))
    answer = submit(pc, "/mj/submit/modal", {"taskId": task_id, "prompt": "a lighthouse at dusk --zoom 1.5",
                                             "state": "zoom-1", "notifyHook": HOOK})
    assert answer["code"] == 1, answer
    assert answer["result"] == task_id
    task = pc.finish(task_id)
    assert task["status"] == "SUCCESS", task
    assert task["action"] == "ZOOM"
    assert task["prompt"] == "a lighthouse at dusk --zoom 1.5"
    assert "--zoom 1.5" in task["properties"]["finalPrompt"]
    assert task["state"] == "zoom-1"
    assert task["properties"]["notifyHook"] == HOOK
    assert [b["label"] for b in task["buttons"]] == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    image = image_of(pc, task)
    assert image.size == (upscaled_image.width * 2, upscaled_image.height * 2)
    panel = quarter(image, 1)
    inner = round(panel.width / 1.5)
    off = (panel.width - inner) // 2
    # The asked-for zoom, not the default 2: the parent fills the middle 1/1.5 of each panel.
    assert mean_diff(panel.crop((off, off, off + inner, off + inner)), upscaled_image) < 3


def test_custom_zoom_blank_prompt_falls_back_to_the_prefilled_one(pc: Client, upscaled: dict[str, Any]) -> None:
    answer = pressed(pc, upscaled, button(upscaled, "Custom Zoom"))
    task_id = opened(answer)
    confirmed = submit(pc, "/mj/submit/modal", {"taskId": task_id, "prompt": "  "})
    assert confirmed["code"] == 1, confirmed
    task = pc.finish(task_id)
    assert task["status"] == "SUCCESS"
    assert task["properties"]["finalPrompt"] == answer["properties"]["finalPrompt"]
    assert task["prompt"] == answer["properties"]["finalPrompt"]


@pytest.mark.parametrize("prompt", ["x --zoom 3", "x --zoom 0.5", "x"])
def test_custom_zoom_needs_a_zoom_between_1_and_2(pc: Client, upscaled: dict[str, Any], prompt: str) -> None:
    task_id = opened(pressed(pc, upscaled, button(upscaled, "Custom Zoom")))
    before, money = task_count(pc), balance(pc)
    answer = submit(pc, "/mj/submit/modal", {"taskId": task_id, "prompt": prompt})
    assert answer["code"] == 21, answer
    assert "--zoom" in answer["description"]
    assert answer["result"] is None
    assert pc.fetch(task_id)["status"] == "MODAL"  # the window stays open for another try
    assert (task_count(pc), balance(pc)) == (before, money)


# ------------------------------------------------------------------------------------------- Vary (Region)
def test_vary_region_redraws_only_the_masked_area(
    pc: Client, upscaled: dict[str, Any], upscaled_image: Image.Image
) -> None:
    answer = pressed(pc, upscaled, button(upscaled, "Vary (Region)"))
    task_id = opened(answer)
    assert answer["properties"]["finalPrompt"] == upscaled["properties"]["finalPrompt"]
    assert pc.fetch(task_id)["status"] == "MODAL"

    confirmed = submit(pc, "/mj/submit/modal", {"taskId": task_id, "prompt": "a lighthouse with a red roof",
                                                "maskBase64": mask_url()})  # left half white
    assert confirmed["code"] == 1, confirmed
    assert confirmed["result"] == task_id
    task = pc.finish(task_id)
    assert task["status"] == "SUCCESS", task
    assert task["action"] == "VARIATION"
    assert task["description"] == f"/up {upscaled['id']} Vary (Region)"
    assert task["prompt"] == "a lighthouse with a red roof"
    assert len(task["buttons"]) == 9
    image = image_of(pc, task)
    assert image.size == (upscaled_image.width * 2, upscaled_image.height * 2)  # four edits of the U image
    w, h = upscaled_image.size
    parent_left, parent_right = upscaled_image.crop((0, 0, w // 2, h)), upscaled_image.crop((w // 2, 0, w, h))
    for k in range(1, 5):
        panel = quarter(image, k)
        assert panel.size == (w, h)  # at the U image's own size
        changed = mean_diff(panel.crop((0, 0, w // 2, h)), parent_left, (8, 16))
        assert changed > 10, (k, changed)
        # every unmasked pixel is the U image's own
        assert panel.crop((w // 2, 0, w, h)).tobytes() == parent_right.tobytes(), k


def test_vary_region_takes_a_mask_without_the_data_prefix(pc: Client, upscaled: dict[str, Any]) -> None:
    task_id = opened(pressed(pc, upscaled, button(upscaled, "Vary (Region)")))
    bare = mask_url().split(",", 1)[1]  # trueai accepts maskBase64 with or without "data:image/png;base64,"
    confirmed = submit(pc, "/mj/submit/modal", {"taskId": task_id, "prompt": "a red roof", "maskBase64": bare})
    assert confirmed["code"] == 1, confirmed
    assert pc.finish(task_id)["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("mask", "words"),
    [(None, "maskBase64"), ("", "maskBase64"), ("black", "no white")],
)
def test_vary_region_needs_a_mask_with_a_white_region(
    pc: Client, upscaled: dict[str, Any], mask: str | None, words: str
) -> None:
    task_id = opened(pressed(pc, upscaled, button(upscaled, "Vary (Region)")))
    before, money = task_count(pc), balance(pc)
    body: dict[str, Any] = {"taskId": task_id, "prompt": "a lighthouse"}
    if mask == "black":
        body["maskBase64"] = mask_url(white=None)
    elif mask is not None:
        body["maskBase64"] = mask
    answer = submit(pc, "/mj/submit/modal", body)
    assert answer["code"] == 21, answer
    assert words in answer["description"], answer
    assert pc.fetch(task_id)["status"] == "MODAL"
    assert (task_count(pc), balance(pc)) == (before, money)


# ------------------------------------------------------------------------------------------- modal refusals
def test_modal_on_a_task_that_is_not_waiting_is_refused(pc: Client, upscaled: dict[str, Any]) -> None:
    answer = submit(pc, "/mj/submit/modal", {"taskId": upscaled["id"], "prompt": "x --zoom 1.5"})
    assert answer["code"] == 21, answer
    assert "MODAL" in answer["description"]
    assert answer["result"] is None

    r = pc.post("/mj/submit/modal", {"taskId": "1234567890123456", "prompt": "x"})
    assert r.status_code == 404
    assert r.json()["code"] == 21


def test_a_confirmed_window_cannot_be_confirmed_twice(pc: Client, upscaled: dict[str, Any]) -> None:
    task_id = opened(pressed(pc, upscaled, button(upscaled, "Custom Zoom")))
    assert submit(pc, "/mj/submit/modal", {"taskId": task_id})["code"] == 1
    again = submit(pc, "/mj/submit/modal", {"taskId": task_id})
    assert again["code"] == 21, again
    assert pc.finish(task_id)["status"] == "SUCCESS"


# ------------------------------------------------------------------------------------------- cancel
def test_cancel_closes_a_window(pc: Client, upscaled: dict[str, Any]) -> None:
    money = balance(pc)
    task_id = opened(pressed(pc, upscaled, button(upscaled, "Custom Zoom")))
    answer = submit(pc, f"/mj/task/{task_id}/cancel", {})
    assert answer["code"] == 1, answer
    task = pc.fetch(task_id)
    assert task["status"] == "CANCEL"
    assert isinstance(task["failReason"], str) and task["failReason"].strip()
    assert balance(pc) == money  # nothing was drawn, nothing is owed
    refused = submit(pc, "/mj/submit/modal", {"taskId": task_id, "prompt": "x --zoom 1.5"})
    assert refused["code"] == 21


def test_cancel_of_a_finished_task_is_refused(pc: Client, upscaled: dict[str, Any]) -> None:
    answer = submit(pc, f"/mj/task/{upscaled['id']}/cancel", {})
    assert answer["code"] == 21, answer
    assert "SUCCESS" in answer["description"]
    assert pc.fetch(upscaled["id"])["status"] == "SUCCESS"


# ------------------------------------------------------------------------------------------- no slot
def test_a_window_takes_no_slot_until_it_is_confirmed(manual: Client) -> None:
    c = manual
    _, up = grid_and_upscale(c, "a lighthouse on a cliff --v 7")  # Custom Zoom is a V7 button
    for i in range(3):  # fill the account's three slots
        assert submit(c, "/mj/submit/imagine", {"prompt": f"busy {i}"})["code"] == 1
    assert (account(c)["running"], account(c)["waiting"]) == (3, 0)

    task_id = opened(pressed(c, up, button(up, "Custom Zoom")))
    assert (account(c)["running"], account(c)["waiting"]) == (3, 0)
    assert task_id not in [t["id"] for t in c.get("/mj/task/queue").json()]

    answer = submit(c, "/mj/submit/modal", {"taskId": task_id})
    assert answer["code"] == 22, answer  # now it needs a slot, and all three are busy
    assert answer["result"] == task_id
    assert account(c)["waiting"] == 1
    assert c.finish(task_id)["status"] == "SUCCESS"


# ------------------------------------------------------------------------------------------- remix
def remix_presses(c: Client, grid: dict[str, Any], up: dict[str, Any], **extra: Any) -> dict[str, dict[str, Any]]:
    return {
        "V1": pressed(c, grid, button(grid, "V1"), **extra),
        "reroll": pressed(c, grid, button(grid, emoji="🔄"), **extra),
        "Vary (Subtle)": pressed(c, up, button(up, "Vary (Subtle)"), **extra),
        "Vary (Strong)": pressed(c, up, button(up, "Vary (Strong)"), **extra),
        "pan left": pressed(c, up, button(up, emoji="⬅️"), **extra),
    }


def test_remix_account_turns_variation_reroll_vary_and_pan_into_windows(remix_client: Client) -> None:
    c = remix_client
    grid, up = grid_and_upscale(c)
    instance = account(c)["instanceId"]
    assert c.control("PATCH", f"/accounts/{instance}", {"remix": True})["remix"] is True
    for name, answer in remix_presses(c, grid, up).items():
        task_id = opened(answer)
        assert answer["properties"]["finalPrompt"] == grid["properties"]["finalPrompt"], name
        assert c.fetch(task_id)["status"] == "MODAL", name
    # Upscaling never asks for a prompt, remix or not.
    assert pressed(c, grid, button(grid, "U2"))["code"] == 1
    assert pressed(c, up, button(up, "Upscale (Subtle)"))["code"] == 1


def test_remix_auto_submit_runs_them_directly(remix_client: Client) -> None:
    c = remix_client
    grid, up = grid_and_upscale(c)
    instance = account(c)["instanceId"]
    c.control("PATCH", f"/accounts/{instance}", {"remix": True, "remixAutoSubmit": True})
    for name, answer in remix_presses(c, grid, up).items():
        assert answer["code"] == 1, (name, answer)
        assert c.fetch(answer["result"])["status"] not in ("MODAL", "FAILURE"), name
    # Custom Zoom and Vary (Region) always need their window.
    opened(pressed(c, up, button(up, "Custom Zoom")))
    opened(pressed(c, up, button(up, "Vary (Region)")))


def test_account_filter_asks_for_remix_per_request(remix_client: Client) -> None:
    c = remix_client
    grid, up = grid_and_upscale(c)
    assert account(c)["remix"] is False
    for answer in remix_presses(c, grid, up, accountFilter={"remix": True}).values():
        opened(answer)
    for name, answer in remix_presses(c, grid, up, accountFilter={"remix": True, "remixAutoConsidered": True}).items():
        assert answer["code"] == 1, (name, answer)
    for name, answer in remix_presses(c, grid, up).items():
        assert answer["code"] == 1, (name, answer)


def test_remix_window_confirmed_with_a_new_prompt(remix_client: Client) -> None:
    c = remix_client
    grid, _ = grid_and_upscale(c)
    c.control("PATCH", f"/accounts/{account(c)['instanceId']}", {"remix": True})
    task_id = opened(pressed(c, grid, button(grid, "V3")))
    modal_view = c.fetch(task_id)
    assert (modal_view["status"], modal_view["action"]) == ("MODAL", "VARIATION")

    answer = submit(c, "/mj/submit/modal", {"taskId": task_id, "prompt": "a lighthouse in a snowstorm"})
    assert answer["code"] == 1, answer
    assert answer["result"] == task_id
    seen: list[str] = []
    while not seen or seen[-1] not in ("SUCCESS", "FAILURE", "CANCEL"):
        seen.append(c.fetch(task_id)["status"])
        assert len(seen) < 40, seen
    assert seen[-1] == "SUCCESS" and "IN_PROGRESS" in seen, seen
    task = c.fetch(task_id)
    assert task["action"] == "VARIATION"
    assert task["description"] == f"/up {grid['id']} V3"
    assert task["prompt"] == task["promptEn"] == "a lighthouse in a snowstorm"
    assert task["properties"]["finalPrompt"] == "a lighthouse in a snowstorm"


def test_remix_window_for_pan_confirms_to_a_pan(remix_client: Client) -> None:
    c = remix_client
    _, up = grid_and_upscale(c)
    c.control("PATCH", f"/accounts/{account(c)['instanceId']}", {"remix": True})
    task_id = opened(pressed(c, up, button(up, emoji="➡️")))
    assert submit(c, "/mj/submit/modal", {"taskId": task_id, "prompt": "wider sea"})["code"] == 1
    task = c.finish(task_id)
    assert (task["status"], task["action"]) == ("SUCCESS", "PAN")
    assert task["description"] == f"/up {up['id']} Pan Right"

