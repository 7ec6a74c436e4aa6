"""Sizes by version (V8.x: 1K cells, 2K with --hd, 512² drafts; V7 and V6 unchanged) and draft mode
(V7: a grid with Enhance, which renders the prompt again without --draft; an account that drafts every
prompt, as trueai's IsDraft)."""

from __future__ import annotations

import pytest

from mockmj.model.errors import Refusal
from mockmj.model.settings import AccountConfig
from tests.engine.test_version_buttons import Session


@pytest.mark.parametrize(("prompt", "grid", "cell"), [
    ("a fox", (2048, 2048), (1024, 1024)),  # V8.1 standard: the 1K cells of V7
    ("a fox --hd", (4096, 4096), (2048, 2048)),  # V8.1 renders natively at 2K
    ("a fox --ar 2:3 --hd", (1792 * 2, 2688 * 2), (1792, 2688)),
    ("a fox --v 8 --hd", (4096, 4096), (2048, 2048)),
    ("a fox --v 7 --hd", (2048, 2048), (1024, 1024)),  # --hd means nothing to V7: sizes unchanged
    ("a fox --v 7 --ar 2:3", (1792, 2688), (896, 1344)),
    ("a fox --v 6 --ar 16:9", (2912, 1632), (1456, 816)),
    ("a fox --draft", (1024, 1024), (512, 512)),  # a V8.1 draft: 512² images
    ("a fox --v 7 --draft", (2048, 2048), (1024, 1024)),
])
def test_grid_and_u_sizes_by_version(prompt: str, grid: tuple[int, int], cell: tuple[int, int]) -> None:
    s = Session()
    g, up = s.upscaled(prompt)
    assert s.engine.gallery.size(g["id"]) == grid
    assert s.engine.gallery.size(up["id"]) == cell  # U returns the cell itself


def test_a_v7_draft_offers_enhance_which_renders_it_again_without_draft() -> None:
    s = Session()
    draft = s.imagine("a fox --v 7 --draft")
    labels = [b["label"] for b in draft["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4", "Enhance"]
    enhance = next(b["customId"] for b in draft["buttons"] if b["label"] == "Enhance")
    enhanced = s.press(draft, enhance)
    assert enhanced["action"] == "IMAGINE" and enhanced["description"] == f"/up {draft['id']} Enhance"
    assert enhanced["properties"]["finalPrompt"] == "a fox --v 7"
    assert [b["label"] for b in enhanced["buttons"]][-1] == "V4"  # a full grid: no Enhance again
    v8_draft = s.imagine("a fox --draft")
    with pytest.raises(Refusal, match="is not one of the buttons"):  # Enhance belongs to V7 drafts only
        s.press(v8_draft, f"MJ::JOB::enhance::0::{v8_draft['properties']['messageHash']}::SOLO")


def test_a_v8_draft_is_a_grid_of_512_cells_with_the_usual_buttons() -> None:
    task = Session().imagine("a fox --draft")
    assert [b["label"] for b in task["buttons"]] == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    assert task["version"] == "8.1"


def test_an_account_that_drafts_every_prompt() -> None:
    s = Session(accounts=[AccountConfig(draft=True)])
    task = s.imagine("a fox --v 7 --ar 3:2")
    assert task["prompt"] == "a fox --v 7 --ar 3:2"  # what the client sent
    assert task["promptEn"] == task["properties"]["finalPrompt"] == "a fox --ar 3:2 --draft"
    assert task["version"] == "8.1" and s.engine.gallery.size(task["id"]) == (1344, 896)  # 672×448 cells
    again = s.imagine("a fox --draft")
    assert again["promptEn"] == "a fox --draft"  # --draft once
