"""Midjourney's Discord button customIds (upstream §11), read independently of any implementation.

`parse(custom_id)` answers what the button is (`kind`), which panel (`index`) and which image it
belongs to (`hash`, None for buttons that carry none), or None when the id is not in the grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HASH = r"[0-9A-Za-z][0-9A-Za-z_-]{5,}"  # Midjourney uses UUIDs; accept any long id-like token
UPSCALERS = r"upsample_v[0-9]+(?:r[0-9]+)?_[0-9]+x(?:_[a-z]+)?"


@dataclass(frozen=True)
class Button:
    kind: str
    index: int | None
    hash: str | None
    detail: str = ""


# (kind, pattern with named groups index / hash / detail)
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("upsample", rf"MJ::JOB::upsample::(?P<index>[1-4])::(?P<hash>{HASH})(?:::SOLO)?"),
        ("variation", rf"MJ::JOB::variation::(?P<index>[1-4])::(?P<hash>{HASH})(?:::SOLO)?"),
        ("reroll", rf"MJ::JOB::reroll::(?P<index>0)::(?P<hash>{HASH})::SOLO"),
        ("upscale_more", rf"MJ::JOB::(?P<detail>{UPSCALERS})::(?P<index>1)::(?P<hash>{HASH})::SOLO"),
        ("vary", rf"MJ::JOB::(?P<detail>low_variation|high_variation)::(?P<index>1)::(?P<hash>{HASH})::SOLO"),
        ("pan", rf"MJ::JOB::pan_(?P<detail>left|right|up|down)::(?P<index>1)::(?P<hash>{HASH})::SOLO"),
        ("video_upscale", rf"MJ::JOB::video_virtual_upscale::(?P<index>[1-4])::(?P<hash>{HASH})"),
        ("animate", rf"MJ::JOB::(?P<detail>animate_(?:high|low)(?:_extend)?)::(?P<index>1)::(?P<hash>{HASH})"
                    r"(?:::SOLO)?"),
        ("inpaint", rf"MJ::Inpaint::(?P<index>1)::(?P<hash>{HASH})::SOLO"),
        ("outpaint", rf"MJ::Outpaint::(?P<detail>50|75)::(?P<index>1)::(?P<hash>{HASH})::SOLO"),
        ("custom_zoom", rf"MJ::CustomZoom::(?:(?P<index>1)::)?(?P<hash>{HASH})"),
        ("bookmark", rf"MJ::BOOKMARK::(?P<hash>{HASH})"),
        ("picreader", r"MJ::Job::PicReader::(?P<detail>[1-4]|all)"),
        ("picread_retry", r"MJ::Picread::Retry"),
        ("prompt_analyzer", rf"MJ::Job::PromptAnalyzer::(?:(?P<hash>{HASH})::)?(?P<detail>[0-9]+|[A-Za-z_]+)"),
    )
)

KINDS = tuple(kind for kind, _ in _RULES)


def parse(custom_id: str) -> Button | None:
    for kind, rule in _RULES:
        m = rule.fullmatch(custom_id)
        if m:
            groups = m.groupdict()
            index = groups.get("index")
            return Button(kind, int(index) if index is not None else None, groups.get("hash"),
                          groups.get("detail") or "")
    return None


# What task an accepted button must create (upstream §10.2; trueai and new-api readings merged).
ACTION_FOR_KIND: dict[str, frozenset[str]] = {
    "upsample": frozenset({"UPSCALE"}),
    "upscale_more": frozenset({"UPSCALE"}),
    "variation": frozenset({"VARIATION"}),
    "vary": frozenset({"VARIATION"}),
    "reroll": frozenset({"REROLL", "IMAGINE", "BLEND"}),  # upstream REROLL; trueai: the parent's action
    "pan": frozenset({"PAN"}),
    "outpaint": frozenset({"ZOOM"}),
    "custom_zoom": frozenset({"ZOOM"}),
    "inpaint": frozenset({"VARIATION", "INPAINT"}),
    "picreader": frozenset({"IMAGINE"}),
    "picread_retry": frozenset({"DESCRIBE"}),
    "prompt_analyzer": frozenset({"IMAGINE", "SHORTEN"}),  # a shortened prompt → imagine; Show Details → shorten
    "animate": frozenset({"VIDEO"}),  # Animate, and Extend on a video upscale (midjourney-2025 §2)
    "video_upscale": frozenset({"UPSCALE"}),
}

# Tasks whose result is a grid of four (edits and retexture too: trueai, midjourney-2025 §2).
GRID_ACTIONS = frozenset({"IMAGINE", "VARIATION", "REROLL", "BLEND", "EDIT", "RETEXTURE"})
