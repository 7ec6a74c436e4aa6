"""Discord button customIds: the sets a finished task shows, and the grammar to read one back.

The formats are Midjourney's own (relays split them on `::`), so a client that works against the
real service parses ours the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mockmj.model.versions import (
    ANIMATE,
    BOOKMARK,
    PAN,
    REGION,
    UPSCALE,
    UPSCALER_JOBS,
    VARY,
    ZOOM,
    Defaults,
    Version,
    version_of,
)

BUTTON_TYPE = 2  # Discord component type: button
SECONDARY = 2  # Discord's grey button, what Midjourney uses for U/V and the rest

_HASH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UPSCALERS = "|".join(re.escape(job.removeprefix("upsample_")) for job in UPSCALER_JOBS)


def button(custom_id: str, label: str = "", emoji: str = "", style: int = SECONDARY) -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": BUTTON_TYPE, "style": style}


def grid_buttons(h: str) -> list[dict[str, Any]]:
    """Under a 2×2 grid (imagine, variation, reroll, blend, zoom, pan): U1–U4, 🔄, V1–V4."""
    upscales = [button(f"MJ::JOB::upsample::{i}::{h}", f"U{i}") for i in range(1, 5)]
    reroll = button(f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄")
    variations = [button(f"MJ::JOB::variation::{i}::{h}", f"V{i}") for i in range(1, 5)]
    return [*upscales, reroll, *variations]


def _upscaled_group(group: str, h: str, version: Version) -> list[dict[str, Any]]:
    """One group of the upscaled image's buttons (see the groups of model/versions.py)."""
    if group == UPSCALE:
        return [button(f"MJ::JOB::{up.job}::1::{h}::SOLO", up.label, up.emoji) for up in version.upscalers]
    if group == VARY:
        return [button(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
                button(f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄")]
    if group == REGION:
        return [button(f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️")]
    if group == ZOOM:
        return [button(f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
                button(f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
                button(f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍")]
    if group == PAN:
        return [button(f"MJ::JOB::pan_{d}::1::{h}::SOLO", "", e) for d, e in PAN_EMOJI.items()]
    if group == BOOKMARK:
        return [button(f"MJ::BOOKMARK::{h}", "", "❤️")]
    if group == ANIMATE:
        return [button(f"MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)", "🎞️"),
                button(f"MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)", "🎞️")]
    raise ValueError(f"unknown button group {group!r}")


PAN_EMOJI = {"left": "⬅️", "right": "➡️", "up": "⬆️", "down": "⬇️"}


def upscaled_buttons(h: str, prompt: str | None, defaults: Defaults | None = None) -> list[dict[str, Any]]:
    """Under a single upscaled image, as Midjourney shows them for the prompt's model version."""
    version = version_of(prompt, defaults)
    return [b for group in version.upscaled for b in _upscaled_group(group, h, version)]


def video_buttons(h: str, videos: int) -> list[dict[str, Any]]:
    """Under a finished video batch: U1..Un upscale video n, and 🔄 makes the batch again."""
    upscales = [button(f"MJ::JOB::video_virtual_upscale::{i}::{h}", f"U{i}") for i in range(1, videos + 1)]
    return [*upscales, button(f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄")]


def video_upscaled_buttons(h: str) -> list[dict[str, Any]]:
    """Under an upscaled video: extend it with high or low motion."""
    return [
        button(f"MJ::JOB::animate_high_extend::1::{h}", "Extend (High motion)", "🎞️"),
        button(f"MJ::JOB::animate_low_extend::1::{h}", "Extend (Low motion)", "🎞️"),
    ]


NUMBER_EMOJI = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")


def describe_buttons() -> list[dict[str, Any]]:
    """Under a describe result: imagine prompt n (opens a window), retry."""
    picks = [button(f"MJ::Job::PicReader::{i}", "", NUMBER_EMOJI[i - 1]) for i in range(1, 5)]
    return [*picks, button("MJ::Picread::Retry", "", "🔄")]


def shorten_buttons(h: str) -> list[dict[str, Any]]:
    """Under a shorten result: imagine shortened prompt n (opens a window), show details."""
    picks = [button(f"MJ::Job::PromptAnalyzer::{h}::{i}", "", NUMBER_EMOJI[i - 1]) for i in range(1, 6)]
    return [*picks, button(f"MJ::Job::PromptAnalyzer::{h}::SHOW_DETAILS", "Show Details")]


def buttons_for(button_set: str, h: str | None, prompt: str | None,
                defaults: Defaults | None = None) -> list[dict[str, Any]]:
    if button_set == "grid" and h:
        return grid_buttons(h)
    if button_set == "draft_grid" and h:  # a V7 draft: Enhance re-renders it at full quality
        return [*grid_buttons(h), button(f"MJ::JOB::enhance::0::{h}::SOLO", "Enhance", "✨")]
    if button_set == "upscaled" and h:
        return upscaled_buttons(h, prompt, defaults)
    if button_set == "describe":
        return describe_buttons()
    if button_set == "shorten" and h:
        return shorten_buttons(h)
    if button_set.startswith("video:") and h:  # "video:<batch size>"
        return video_buttons(h, int(button_set.removeprefix("video:")))
    if button_set == "video_upscaled" and h:
        return video_upscaled_buttons(h)
    return []


@dataclass(frozen=True)
class Press:
    """A parsed customId: what kind of button, which panel or amount, and the image hash."""

    kind: str
    index: int = 0
    hash: str | None = None
    detail: str = ""


_GRAMMAR: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^MJ::JOB::upsample::([1-4])::({_HASH})$"), "upscale"),
    (re.compile(rf"^MJ::JOB::variation::([1-4])::({_HASH})$"), "variation"),
    (re.compile(rf"^MJ::JOB::reroll::(0)::({_HASH})::SOLO$"), "reroll"),
    (re.compile(rf"^MJ::JOB::enhance::(0)::({_HASH})::SOLO$"), "enhance"),
    (re.compile(rf"^MJ::JOB::upsample_({_UPSCALERS})::(1)::({_HASH})::SOLO$"), "upscale_hd"),
    (re.compile(rf"^MJ::JOB::(low_variation|high_variation)::(1)::({_HASH})::SOLO$"), "vary"),
    (re.compile(rf"^MJ::Inpaint::(1)::({_HASH})::SOLO$"), "inpaint"),
    (re.compile(rf"^MJ::Outpaint::(50|75)::(1)::({_HASH})::SOLO$"), "zoom"),
    (re.compile(rf"^MJ::CustomZoom::({_HASH})$"), "custom_zoom"),
    (re.compile(rf"^MJ::JOB::pan_(left|right|up|down)::(1)::({_HASH})::SOLO$"), "pan"),
    (re.compile(rf"^MJ::BOOKMARK::({_HASH})$"), "bookmark"),
    (re.compile(rf"^MJ::JOB::animate_(high|low)::(1)::({_HASH})::SOLO$"), "animate"),
    (re.compile(rf"^MJ::JOB::animate_(high|low)_extend::(1)::({_HASH})$"), "animate_extend"),
    (re.compile(rf"^MJ::JOB::video_virtual_upscale::([1-4])::({_HASH})$"), "video_upscale"),
    (re.compile(r"^MJ::Job::PicReader::([1-4])$"), "picreader"),
    (re.compile(r"^MJ::Picread::Retry$"), "picread_retry"),
    (re.compile(rf"^MJ::Job::PromptAnalyzer::({_HASH})::([1-5])$"), "prompt_analyzer"),
    (re.compile(rf"^MJ::Job::PromptAnalyzer::({_HASH})::SHOW_DETAILS$"), "show_details"),
]

BUTTON_KINDS = frozenset(kind for _, kind in _GRAMMAR)  # what a rule's `action` may name beside the operations


def parse_custom_id(custom_id: str) -> Press | None:
    """Read a customId in Midjourney's grammar; None when it is not one."""
    for pattern, kind in _GRAMMAR:
        m = pattern.match(custom_id)
        if not m:
            continue
        g = m.groups()
        if kind in ("upscale", "variation", "reroll", "video_upscale", "enhance"):
            return Press(kind, int(g[0]), g[1])
        if kind in ("upscale_hd", "vary", "pan", "animate", "animate_extend"):
            return Press(kind, 1, g[2], detail=g[0])
        if kind == "zoom":
            return Press(kind, 1, g[2], detail=g[0])
        if kind == "inpaint":
            return Press(kind, 1, g[1])
        if kind in ("custom_zoom", "bookmark", "show_details"):
            return Press(kind, 0, g[0])
        if kind == "picreader":
            return Press(kind, int(g[0]))
        if kind == "prompt_analyzer":
            return Press(kind, int(g[1]), g[0])
        return Press(kind)
    return None
