"""The buttons of an upscaled image for every model version, against the reference table (trueai's
`CustomComponentModel`, 2026-05: V8 has no Upscale, Zoom or Pan; V7 and niji 7 share the v7 upscalers;
V6.1 `v6r1`; V6 and niji 6 `v6`; 5.x `v5_2x`/`v5_4x` and no Animate), the grid's buttons in every
version, how a task names its model, and the refusal of a button a V8 image does not offer."""

from __future__ import annotations

from typing import Any

import pytest

from mockmj.engine.facade import Caller, Engine
from mockmj.engine.submissions import submit as subs
from mockmj.model.dialects import PROXY
from mockmj.model.errors import Refusal
from mockmj.model.settings import Settings

ORIGIN = "http://mj.example"
VARY = [("low_variation", "Vary (Subtle)"), ("high_variation", "Vary (Strong)"), ("Inpaint", "Vary (Region)")]
ZOOM_PAN = [("Outpaint50", "Zoom Out 2x"), ("Outpaint75", "Zoom Out 1.5x"), ("CustomZoom", "Custom Zoom"),
            ("pan_left", ""), ("pan_right", ""), ("pan_up", ""), ("pan_down", "")]
BOOKMARK = [("BOOKMARK", "")]
ANIMATE = [("animate_high", "Animate (High motion)"), ("animate_low", "Animate (Low motion)")]


def upscalers(family: str) -> list[tuple[str, str]]:
    return [(f"upsample_{family}_2x_subtle", "Upscale (Subtle)"),
            (f"upsample_{family}_2x_creative", "Upscale (Creative)")]


V8_SET = VARY + BOOKMARK + ANIMATE
# prompt → (version in the 88api dialect, in the proxy dialect, the upscaled image's buttons)
TABLE: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "a fox": ("8.1", "v 8.1", V8_SET),
    "a fox --v 8.1": ("8.1", "v 8.1", V8_SET),
    "a fox --v 8": ("8", "v 8", V8_SET),
    "a fox --version 8.1 --hd": ("8.1", "v 8.1", V8_SET),
    "a fox --v 7": ("7", "v 7", upscalers("v7") + VARY + ZOOM_PAN + BOOKMARK + ANIMATE),
    "a fox --niji": ("niji 7", "niji 7", upscalers("v7") + VARY + ZOOM_PAN + BOOKMARK + ANIMATE),
    "a fox --niji 7": ("niji 7", "niji 7", upscalers("v7") + VARY + ZOOM_PAN + BOOKMARK + ANIMATE),
    "a fox --v 6.1": ("6.1", "v 6.1", upscalers("v6r1") + VARY + ZOOM_PAN + BOOKMARK + ANIMATE),
    "a fox --v 6": ("6", "v 6", upscalers("v6") + VARY + ZOOM_PAN + BOOKMARK + ANIMATE),
    "a fox --niji 6": ("niji 6", "niji 6", upscalers("v6") + VARY + ZOOM_PAN + BOOKMARK + ANIMATE),
    "a fox --v 5.2": ("5.2", "v 5.2", [("upsample_v5_2x", "Upscale (2x)"), ("upsample_v5_4x", "Upscale (4x)"),
                                       *VARY, *ZOOM_PAN, *BOOKMARK]),
}


def kind(custom_id: str) -> str:
    """The part of a customId that names the button: upsample_v7_2x_subtle, Inpaint, Outpaint50, BOOKMARK…"""
    parts = custom_id.split("::")
    if parts[1] == "JOB":
        return parts[2]
    return parts[1] + (parts[2] if parts[1] == "Outpaint" else "")


class Session:
    def __init__(self, dialect: str = "88api", **settings: Any) -> None:
        self.engine = Engine(Settings(dialect=dialect, timing="manual", seed=4, no_auth=True, **settings))
        self.caller = Caller(key="k", origin=ORIGIN)

    def done(self, task_id: str) -> dict[str, Any]:
        self.engine.advance(120_000)
        task = self.engine.fetch(self.caller, task_id)
        assert task is not None and task["status"] == "SUCCESS", task
        return task

    def imagine(self, prompt: str) -> dict[str, Any]:
        return self.done(subs.imagine(self.engine, self.caller, {"prompt": prompt}).result)

    def press(self, task: dict[str, Any], custom_id: str) -> dict[str, Any]:
        return self.done(subs.action(self.engine, self.caller, {"taskId": task["id"], "customId": custom_id}).result)

    def upscaled(self, prompt: str) -> tuple[dict[str, Any], dict[str, Any]]:
        grid = self.imagine(prompt)
        return grid, self.press(grid, grid["buttons"][0]["customId"])


@pytest.mark.parametrize("dialect", ["88api", "proxy"])
@pytest.mark.parametrize("prompt", list(TABLE))
def test_upscaled_buttons_and_model_follow_the_table(dialect: str, prompt: str) -> None:
    short, proxy_label, expected = TABLE[prompt]
    grid, up = Session(dialect).upscaled(prompt)
    assert [(kind(b["customId"]), b["label"]) for b in up["buttons"]] == expected
    assert [b["label"] for b in grid["buttons"]] == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    label = proxy_label if dialect == "proxy" else short
    assert grid["version"] == up["version"] == label


def test_a_pinned_default_and_niji_change_what_a_bare_prompt_gets() -> None:
    s = Session(default_version="7")
    assert s.imagine("a fox")["version"] == "7"
    assert s.imagine("a fox --niji")["version"] == "niji 6"  # beside V7 the mock's niji was niji 6
    s = Session(default_version="7", default_niji="7")
    assert s.imagine("a fox --niji")["version"] == "niji 7"
    s = Session(default_version="6.1")
    _, up = s.upscaled("a fox")
    assert up["version"] == "6.1" and kind(up["buttons"][0]["customId"]) == "upsample_v6r1_2x_subtle"
    assert s.imagine("a fox --v 8.1")["version"] == "8.1"  # a flag wins over the default


@pytest.mark.parametrize("dialect", ["88api", "proxy"])
@pytest.mark.parametrize("button", ["MJ::JOB::upsample_v7_2x_subtle::1::{h}::SOLO", "MJ::Outpaint::50::1::{h}::SOLO",
                                    "MJ::CustomZoom::{h}", "MJ::JOB::pan_left::1::{h}::SOLO"])
def test_a_button_v8_does_not_offer_is_refused_as_an_unknown_action(dialect: str, button: str) -> None:
    s = Session(dialect)
    _, up = s.upscaled("a fox")
    before = s.engine.task_count()
    with pytest.raises(Refusal) as refused:
        s.press(up, button.format(h=up["properties"]["messageHash"]))
    assert refused.value.rule == "custom_id_unknown" and "is not one of the buttons" in refused.value.detail
    assert s.engine.task_count() == before  # nothing made
    if dialect == "proxy":
        assert (PROXY.code(refused.value.kind), PROXY.describe(refused.value)) == (4, "未知的 Action 类型")


def test_v8_vary_and_animate_work() -> None:
    s = Session()
    _, up = s.upscaled("a fox")
    for b in up["buttons"]:
        if b["label"] in ("Vary (Subtle)", "Vary (Strong)", "Animate (Low motion)"):
            child = s.press(up, b["customId"])
            assert child["action"] in ("VARIATION", "VIDEO")
