"""Buttons over HTTP: every button of a finished grid and of an upscaled image, pressed through
POST /mj/submit/action, checked by the child task it makes (action, description, status path, buttons)
and by the child's real image (size, aspect, and which part of the parent it was made from)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.helpers import (
    Client,
    Start,
    balance,
    button,
    finished,
    image_of,
    mean_diff,
    press,
    quarter,
    run,
    submit,
    task_count,
)

PER_POLL = {"seed": 7, "default_version": "7"}  # the `pc` fixture's mock (conftest.py): V7 buttons

NULL_HASH = "00000000-0000-0000-0000-000000000000"
HOOK = "http://127.0.0.1:9/hook"  # the discard port: callbacks fail fast and harmlessly
PAN_EMOJI = {"left": "⬅️", "right": "➡️", "up": "⬆️", "down": "⬇️"}


# ------------------------------------------------------------------------------------------- helpers
def child(c: Client, parent: dict[str, Any], custom_id: str, **extra: Any) -> tuple[list[str], dict[str, Any]]:
    r = press(c, parent, custom_id, **extra)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["code"] == 1, answer
    assert answer["result"] != parent["id"]
    return run(c, answer["result"])


def grid_child(c: Client, parent: dict[str, Any], custom_id: str, action: str,
               label: str) -> tuple[list[str], dict[str, Any], Image.Image]:
    """Press a button that makes a grid: the child went through IN_PROGRESS, does `action`, is described as
    "/up <parent> <label>" and offers a grid's buttons. Its statuses, the task and its image."""
    statuses, task = child(c, parent, custom_id)
    assert "IN_PROGRESS" in statuses
    assert task["action"] == action
    assert task["description"] == f"/up {parent['id']} {label}"
    assert shown(task) == grid_set(task["properties"]["messageHash"])
    return statuses, task, image_of(c, task, "image/png")


def thumb(image: Image.Image, size: int = 16) -> Image.Image:
    return image.convert("RGB").resize((size, size), Image.Resampling.BOX)


def grid_set(h: str) -> list[tuple[str, str, str]]:
    ups = [(f"MJ::JOB::upsample::{i}::{h}", f"U{i}", "") for i in range(1, 5)]
    reroll = [(f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄")]
    variations = [(f"MJ::JOB::variation::{i}::{h}", f"V{i}", "") for i in range(1, 5)]
    return [*ups, *reroll, *variations]


def upscaled_set(h: str, family: str = "v7") -> list[tuple[str, str, str]]:
    if family == "v5":
        upscalers = [(f"MJ::JOB::upsample_v5_2x::1::{h}::SOLO", "Upscale (2x)", ""),
                     (f"MJ::JOB::upsample_v5_4x::1::{h}::SOLO", "Upscale (4x)", "")]
    else:
        upscalers = [(f"MJ::JOB::upsample_{family}_2x_subtle::1::{h}::SOLO", "Upscale (Subtle)", "upscale_1"),
                     (f"MJ::JOB::upsample_{family}_2x_creative::1::{h}::SOLO", "Upscale (Creative)", "upscale_1")]
    return [
        *upscalers,
        (f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
        (f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
        (f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
        (f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
        (f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
        (f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍"),
        (f"MJ::JOB::pan_left::1::{h}::SOLO", "", "⬅️"),
        (f"MJ::JOB::pan_right::1::{h}::SOLO", "", "➡️"),
        (f"MJ::JOB::pan_up::1::{h}::SOLO", "", "⬆️"),
        (f"MJ::JOB::pan_down::1::{h}::SOLO", "", "⬇️"),
        (f"MJ::BOOKMARK::{h}", "", "❤️"),
        *([] if family == "v5" else [(f"MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)", "🎞️"),
                                     (f"MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)", "🎞️")]),
    ]


def shown(task: dict[str, Any]) -> list[tuple[str, str, str]]:
    for b in task["buttons"]:
        assert b["type"] == 2 and isinstance(b["style"], int), b
    return [(b["customId"], b["label"], b["emoji"]) for b in task["buttons"]]


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def grid(pc: Client) -> dict[str, Any]:
    return finished(pc, submit(pc, "/mj/submit/imagine", {"prompt": "a lighthouse on a cliff"}))


@pytest.fixture(scope="module")
def quiet(starter: Start) -> Iterator[tuple[Client, dict[str, Any], dict[str, Any]]]:
    """A second mock holding only a grid and its U1, for tests that count tasks (listing stays short)."""
    server = starter(timing="per-poll", seed=8, strict=True, default_version="7")
    c = Client(server)
    grid = finished(c, submit(c, "/mj/submit/imagine", {"prompt": "a quiet pond"}))
    _, up = child(c, grid, button(grid, "U1"))
    yield c, grid, up
    c.http.close()
    server.stop()


@pytest.fixture(scope="module")
def grid_image(pc: Client, grid: dict[str, Any]) -> Image.Image:
    return image_of(pc, grid, "image/png")


@pytest.fixture(scope="module")
def upscaled(pc: Client, grid: dict[str, Any]) -> dict[str, Any]:
    statuses, task = child(pc, grid, button(grid, "U2"))
    assert task["status"] == "SUCCESS", statuses
    return task


@pytest.fixture(scope="module")
def upscaled_image(pc: Client, upscaled: dict[str, Any]) -> Image.Image:
    return image_of(pc, upscaled, "image/png")


# ------------------------------------------------------------------------------------------- the grid
def test_a_finished_grid_shows_u_reroll_v_buttons(grid: dict[str, Any], grid_image: Image.Image) -> None:
    h = grid["properties"]["messageHash"]
    assert shown(grid) == grid_set(h)
    assert grid_image.size == (2048, 2048)  # four 1024² cells, as a V7 grid


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_u_button_upscales_that_panel(pc: Client, grid: dict[str, Any], grid_image: Image.Image, index: int) -> None:
    statuses, task = child(pc, grid, button(grid, f"U{index}"))
    assert statuses == ["SUBMITTED", "SUCCESS"]  # an upscale reports no progress steps
    assert task["action"] == "UPSCALE"
    assert task["description"] == f"/up {grid['id']} U{index}"
    assert task["properties"]["referencedMessageId"] == grid["properties"]["messageId"]
    h = task["properties"]["messageHash"]
    assert h != grid["properties"]["messageHash"]
    assert shown(task) == upscaled_set(h)

    image = image_of(pc, task, "image/png")
    panel = quarter(grid_image, index)
    assert image.size == panel.size == (1024, 1024)  # the cell at its own size, as Midjourney's U gives it
    assert image.tobytes() == panel.tobytes()  # pixel for pixel
    distances = [mean_diff(image, quarter(grid_image, j)) for j in range(1, 5)]
    assert min(d for j, d in enumerate(distances) if j != index - 1) > 10, distances


def test_u_button_of_a_wide_grid_keeps_the_aspect(pc: Client) -> None:
    wide = finished(pc, submit(pc, "/mj/submit/imagine", {"prompt": "a harbour at night --ar 3:2"}))
    wide_image = image_of(pc, wide, "image/png")
    assert wide_image.size == (2688, 1792)  # four 1344×896 cells
    _, task = child(pc, wide, button(wide, "U4"))
    image = image_of(pc, task, "image/png")
    assert image.size == (1344, 896)
    assert image.tobytes() == quarter(wide_image, 4).tobytes()


@pytest.mark.parametrize(
    ("suffix", "family", "version"),
    [("", "v7", "7"), (" --v 6", "v6", "6"), (" --v 6.1", "v6r1", "6.1"), (" --v 7", "v7", "7"),
     (" --v 5.2", "v5", "5.2"), (" --niji 6", "v6", "niji 6")],
)
def test_upscaled_buttons_follow_the_model_version(pc: Client, suffix: str, family: str, version: str) -> None:
    parent = finished(pc, submit(pc, "/mj/submit/imagine", {"prompt": f"a red fox{suffix}"}))
    assert parent["version"] == version
    _, task = child(pc, parent, button(parent, "U1"))
    assert task["status"] == "SUCCESS" and task["version"] == version
    assert shown(task) == upscaled_set(task["properties"]["messageHash"], family)


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_v_button_makes_a_grid_of_variations_of_that_panel(
    pc: Client, grid: dict[str, Any], grid_image: Image.Image, index: int
) -> None:
    statuses, _, image = grid_child(pc, grid, button(grid, f"V{index}"), "VARIATION", f"V{index}")
    assert statuses[0] == "SUBMITTED" and statuses[-1] == "SUCCESS"
    assert statuses.count("IN_PROGRESS") >= 2, statuses  # a variation reports progress steps
    assert image.size == grid_image.size
    # Each of the four variations looks more like panel `index` of the parent than like the others.
    distances = [sum(mean_diff(quarter(image, k), quarter(grid_image, j), (8, 8)) for k in range(1, 5)) / 4
                 for j in range(1, 5)]
    assert min(range(4), key=lambda j: distances[j]) == index - 1, distances


def test_reroll_makes_a_new_grid_of_the_same_kind(pc: Client, grid: dict[str, Any], grid_image: Image.Image) -> None:
    _, task, image = grid_child(pc, grid, button(grid, emoji="🔄"), "IMAGINE", "R")
    assert task["prompt"] == grid["prompt"]
    assert image.size == grid_image.size
    assert mean_diff(image, grid_image) > 10  # a new picture, not the old one again


def test_reroll_repeats_the_parents_action(pc: Client, upscaled: dict[str, Any]) -> None:
    _, zoom = child(pc, upscaled, button(upscaled, "Zoom Out 2x"))
    _, again = child(pc, zoom, button(zoom, emoji="🔄"))
    assert again["action"] == "ZOOM"
    assert again["description"] == f"/up {zoom['id']} R"
    assert shown(again) == grid_set(again["properties"]["messageHash"])


# ------------------------------------------------------------------------------------------- upscaled image
def test_upscale_subtle_and_creative_double_the_image(
    pc: Client, upscaled: dict[str, Any], upscaled_image: Image.Image
) -> None:
    statuses, subtle = child(pc, upscaled, button(upscaled, "Upscale (Subtle)"))
    assert statuses[0] == "SUBMITTED" and statuses[-1] == "SUCCESS"
    assert subtle["action"] == "UPSCALE"
    assert subtle["description"] == f"/up {upscaled['id']} Upscale (Subtle)"
    assert shown(subtle) == upscaled_set(subtle["properties"]["messageHash"])
    big = image_of(pc, subtle, "image/png")
    assert big.size == (upscaled_image.width * 2, upscaled_image.height * 2) == (2048, 2048)
    assert mean_diff(big, upscaled_image) < 3

    _, creative = child(pc, subtle, button(subtle, "Upscale (Creative)"))
    assert creative["action"] == "UPSCALE"
    assert creative["description"] == f"/up {subtle['id']} Upscale (Creative)"
    assert image_of(pc, creative, "image/png").size == (4096, 4096)  # 2× of the 2048² subtle upscale


def test_vary_subtle_and_strong_make_variation_grids_strong_changing_more(
    pc: Client, upscaled: dict[str, Any], upscaled_image: Image.Image
) -> None:
    change: dict[str, float] = {}
    for label in ("Vary (Subtle)", "Vary (Strong)"):
        _, _, image = grid_child(pc, upscaled, button(upscaled, label), "VARIATION", label)
        assert image.size == (upscaled_image.width * 2, upscaled_image.height * 2)  # four cell-sized variations
        distances = [mean_diff(quarter(image, k), upscaled_image) for k in range(1, 5)]
        assert all(d < 40 for d in distances), (label, distances)  # variations of it, not new pictures
        change[label] = sum(distances) / 4
    assert change["Vary (Subtle)"] < change["Vary (Strong)"], change


@pytest.mark.parametrize(("label", "factor"), [("Zoom Out 2x", 2.0), ("Zoom Out 1.5x", 1.5)])
def test_zoom_out_shrinks_the_subject_in_an_extended_frame(
    pc: Client, upscaled: dict[str, Any], upscaled_image: Image.Image, label: str, factor: float
) -> None:
    _, _, image = grid_child(pc, upscaled, button(upscaled, label), "ZOOM", label)
    assert image.size == (upscaled_image.width * 2, upscaled_image.height * 2)  # four parent-sized results
    for k in range(1, 5):
        panel = quarter(image, k)
        inner = round(panel.width / factor)
        off = (panel.width - inner) // 2
        centre = panel.crop((off, off, off + inner, off + inner))
        # The whole parent is in the centre, 1/factor of the frame; the border is new.
        assert mean_diff(centre, upscaled_image) < 3
        assert mean_diff(panel, upscaled_image) > 8


@pytest.mark.parametrize("direction", ["left", "right", "up", "down"])
def test_pan_extends_the_frame_in_its_direction(
    pc: Client, upscaled: dict[str, Any], upscaled_image: Image.Image, direction: str
) -> None:
    _, _, image = grid_child(pc, upscaled, button(upscaled, emoji=PAN_EMOJI[direction]), "PAN",
                             f"Pan {direction.capitalize()}")
    parent_aspect = upscaled_image.width / upscaled_image.height
    for k in range(1, 5):
        panel = quarter(image, k)
        aspect = panel.width / panel.height
        if direction in ("left", "right"):
            assert aspect == pytest.approx(parent_aspect * 1.5, rel=0.02)
            side = panel.height * upscaled_image.width // upscaled_image.height
            left = panel.width - side if direction == "left" else 0
            kept = panel.crop((left, 0, left + side, panel.height))
        else:
            assert aspect == pytest.approx(parent_aspect / 1.5, rel=0.02)
            side = panel.width * upscaled_image.height // upscaled_image.width
            top = panel.height - side if direction == "up" else 0
            kept = panel.crop((0, top, panel.width, top + side))
        # The original sits on the far side; the new strip is on the side panned to.
        assert mean_diff(kept, upscaled_image) < 3
        assert mean_diff(panel, upscaled_image) > 8


def test_bookmark_answers_with_the_parent_and_makes_no_task(
    quiet: tuple[Client, dict[str, Any], dict[str, Any]]
) -> None:
    pc, _, upscaled = quiet
    before, money = task_count(pc), balance(pc)
    r = press(pc, upscaled, button(upscaled, emoji="❤️"))
    assert r.status_code == 200
    assert r.json()["code"] == 1
    assert r.json()["result"] == upscaled["id"]
    assert task_count(pc) == before
    assert balance(pc) == money


# ------------------------------------------------------------------------------------------- refusals
def _not_finished(pc: Client) -> dict[str, Any]:
    task_id = submit(pc, "/mj/submit/imagine", {"prompt": "still drawing"})["result"]
    pc.fetch(task_id)  # per-poll: one fetch, one step (SUBMITTED)
    return {"id": task_id}


@pytest.mark.parametrize(
    ("case", "http", "words"),
    [
        ("unknown task", 404, "does not exist"),
        ("task not finished", 200, "SUCCESS"),
        ("button of another task", 200, "not one of the buttons"),
        ("malformed customId", 200, "not a Midjourney button id"),
        ("blank customId", 200, "customId"),
    ],
)
def test_action_refusals_are_code_21_and_create_nothing(
    quiet: tuple[Client, dict[str, Any], dict[str, Any]], case: str, http: int, words: str
) -> None:
    pc, grid, upscaled = quiet
    if case == "task not finished":
        target, custom_id = _not_finished(pc), f"MJ::JOB::upsample::1::{NULL_HASH}"
    else:
        target = {
            "unknown task": {"id": "1234567890123456"},
            "button of another task": upscaled,
            "malformed customId": grid,
            "blank customId": grid,
        }[case]
        custom_id = {
            "unknown task": button(grid, "U1"),
            "button of another task": button(grid, "U1"),
            "malformed customId": "MJ::JOB::upsample::9::zzz",
            "blank customId": "",
        }[case]
    before, money = task_count(pc), balance(pc)
    r = press(pc, target, custom_id)
    if case == "blank customId":
        assert r.status_code in (200, 400), r.text
    else:
        assert r.status_code == http, r.text
    answer = r.json()
    assert answer["code"] == 21, answer
    assert answer["result"] is None
    assert words in answer["description"], answer
    assert task_count(pc) == before
    assert balance(pc) == money


def test_another_tenants_task_is_not_found(quiet: tuple[Client, dict[str, Any], dict[str, Any]]) -> None:
    pc, grid, _ = quiet
    other = Client(pc.server, key="another-key")
    try:
        before, money = task_count(pc), balance(pc)
        r = press(other, grid, button(grid, "U1"))
        assert r.status_code == 404, r.text
        assert r.json()["code"] == 21
        assert task_count(other) == 0
        assert (task_count(pc), balance(pc)) == (before, money)
    finally:
        other.http.close()


def test_task_id_may_be_sent_as_a_number(pc: Client, grid: dict[str, Any]) -> None:
    r = pc.post("/mj/submit/action", {"taskId": int(grid["id"]), "customId": button(grid, "U1")})
    assert r.status_code == 200, r.text
    assert r.json()["code"] == 1, r.json()
    assert pc.fetch(r.json()["result"])["description"] == f"/up {grid['id']} U1"


def test_action_honours_notify_hook_and_state(pc: Client, grid: dict[str, Any]) -> None:
    _, task = child(pc, grid, button(grid, "U3"), notifyHook=HOOK, state="order-42")
    assert task["state"] == "order-42"
    assert task["properties"]["notifyHook"] == HOOK


def test_each_accepted_action_is_paid_for(quiet: tuple[Client, dict[str, Any], dict[str, Any]]) -> None:
    pc, grid, _ = quiet
    before, money = task_count(pc), balance(pc)
    r = press(pc, grid, button(grid, "U4"))
    assert r.json()["code"] == 1
    assert task_count(pc) == before + 1
    assert balance(pc) < money


# ------------------------------------------------------------------------------------------- legacy change
def test_legacy_change_and_simple_change_press_the_same_buttons(pc: Client, grid: dict[str, Any]) -> None:
    answer = submit(pc, "/mj/submit/change", {"taskId": grid["id"], "action": "UPSCALE", "index": 2})
    _, up = run(pc, answer["result"])
    assert (up["action"], up["description"], up["status"]) == ("UPSCALE", f"/up {grid['id']} U2", "SUCCESS")
    assert shown(up) == upscaled_set(up["properties"]["messageHash"])

    answer = submit(pc, "/mj/submit/simple-change", {"content": f"{grid['id']} V3"})
    _, var = run(pc, answer["result"])
    assert (var["action"], var["description"], var["status"]) == ("VARIATION", f"/up {grid['id']} V3", "SUCCESS")

    answer = submit(pc, "/mj/submit/change", {"taskId": grid["id"], "action": "REROLL"})
    _, again = run(pc, answer["result"])
    assert (again["action"], again["description"]) == ("REROLL", f"/up {grid['id']} R")

    refused = submit(pc, "/mj/submit/change", {"taskId": up["id"], "action": "VARIATION", "index": 1})
    assert refused["code"] == 21, refused
