"""Midjourney model versions as one table: which prompt selects which, how a task names it, what its upscaled
image offers and how large it renders.

V8.1 has been Midjourney's default model since June 2026 and trueai's proxy followed (a prompt without `--v`
is a v8.1 job, `--niji` alone is niji 7); the default is a setting (`default_version`, `default_niji`) for
teams whose relay pins an older model. Each version has its own upscaler buttons (Midjourney's ids:
`upsample_v7_2x_subtle`, `upsample_v6r1_2x_*`, `upsample_v6_2x_*`, `upsample_v5_2x`/`_4x`); niji 7 shares
V7's, niji 6 V6's; V8 has none, and no Zoom or Pan either (trueai's button table: "v8 removed" them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Upscaler:
    """One "Upscale (…)" button of an upscaled image: its customId segment, label, emoji and factor."""

    job: str  # the segment after MJ::JOB::, e.g. upsample_v7_2x_subtle
    label: str
    emoji: str
    factor: float


# The button groups of an upscaled image, in the order Midjourney shows them (model/buttons.py builds each).
UPSCALE, VARY, REGION, ZOOM, PAN, BOOKMARK, ANIMATE = "upscale", "vary", "region", "zoom", "pan", "bookmark", "animate"
SINCE_V6 = (UPSCALE, VARY, REGION, ZOOM, PAN, BOOKMARK, ANIMATE)  # Animate since June 2025, from V6 on
V5_SET = (UPSCALE, VARY, REGION, ZOOM, PAN, BOOKMARK)
V8_SET = (VARY, REGION, BOOKMARK, ANIMATE)  # no Upscale (native 2K instead), no Zoom, no Pan


@dataclass(frozen=True)
class Version:
    name: str  # the mock's short name: "8.1", "7", "6.1", "niji 7" …
    family: str  # the upscaler family in button ids: v7, v6r1, v6, v5 ("" for V8: it has none)
    upscalers: tuple[Upscaler, ...]
    upscaled: tuple[str, ...]  # the button groups of an upscaled image (the table above)
    bot_type: str = "MID_JOURNEY"
    hd_factor: int = 1  # how much larger a `--hd` render is on each side (V8.x renders natively at 2K)
    draft_scale: float = 1  # a `--draft` image's side against the 1K cell (V8.1: 512²)
    draft_enhance: bool = False  # a `--draft` grid offers Enhance (V7's draft mode)

    @property
    def animate(self) -> bool:
        return ANIMATE in self.upscaled


def _subtle_creative(family: str) -> tuple[Upscaler, ...]:
    return (
        Upscaler(f"upsample_{family}_2x_subtle", "Upscale (Subtle)", "upscale_1", 2.0),
        Upscaler(f"upsample_{family}_2x_creative", "Upscale (Creative)", "upscale_1", 2.0),
    )


V8_1 = Version("8.1", "", (), V8_SET, hd_factor=2, draft_scale=0.5)
V7 = Version("7", "v7", _subtle_creative("v7"), SINCE_V6, draft_enhance=True)
VERSIONS: dict[str, Version] = {
    "8.1": V8_1,
    "8": Version("8", "", (), V8_SET, hd_factor=2, draft_scale=0.5),
    "7": V7,
    "6.1": Version("6.1", "v6r1", _subtle_creative("v6r1"), SINCE_V6),
    "6": Version("6", "v6", _subtle_creative("v6"), SINCE_V6),
    "5.2": Version("5.2", "v5", (
        Upscaler("upsample_v5_2x", "Upscale (2x)", "", 2.0),
        Upscaler("upsample_v5_4x", "Upscale (4x)", "", 4.0),
    ), V5_SET),
    "niji 7": Version("niji 7", "v7", _subtle_creative("v7"), SINCE_V6, bot_type="NIJI_JOURNEY"),
    "niji 6": Version("niji 6", "v6", _subtle_creative("v6"), SINCE_V6, bot_type="NIJI_JOURNEY"),
}
MODEL_VERSIONS = tuple(name for name in VERSIONS if not name.startswith("niji"))  # default_version's choices
NIJI_VERSIONS = tuple(name.removeprefix("niji ") for name in VERSIONS if name.startswith("niji"))
DEFAULT_VERSION, DEFAULT_NIJI = "8.1", "7"  # Midjourney's and trueai's defaults since June/July 2026


def niji_default_for(default_version: str) -> str:
    """The niji a bare `--niji` selects when `default_niji` is not set: niji 7 beside V8.x (trueai since
    2026-07), niji 6 beside an older pinned default (what the mock answered while V7 was its default)."""
    return DEFAULT_NIJI if default_version.startswith("8") else "6"


@dataclass(frozen=True)
class Defaults:
    """The versions a prompt gets when it names none: `default_version` and `default_niji` of the settings."""

    version: str = DEFAULT_VERSION
    niji: str | None = None  # None: niji_default_for(version)

    @property
    def niji_name(self) -> str:
        return f"niji {self.niji or niji_default_for(self.version)}"


_VERSION_FLAG = re.compile(r"--(?:v|version)\s+([0-9][0-9.]{0,5})")
_NIJI_FLAG = re.compile(r"--niji(?:\s+([0-9][0-9.]{0,5}))?(?![\w-])")

# A number the table does not list falls on the nearest family it names: 8.2 → 8.1; 5, 5.0, 5.1 → 5.2;
# 6.0 → 6; anything older (1–4) on the default.
_FALLBACK = (("8", "8.1"), ("7", "7"), ("6.1", "6.1"), ("6", "6"), ("5", "5.2"))


def version_of(prompt: str | None, defaults: Defaults | None = None) -> Version:
    """The version a prompt selects: the last `--v`/`--version`, or `--niji [N]`; the default if none."""
    defaults = defaults or Defaults()
    text = prompt or ""
    niji = _NIJI_FLAG.findall(text)
    if niji:
        number = niji[-1]
        if not number:
            return VERSIONS[defaults.niji_name]
        return VERSIONS.get(f"niji {number}", VERSIONS["niji 6"])  # an older niji: the oldest the table has
    found = _VERSION_FLAG.findall(text)
    default = VERSIONS[defaults.version]
    if not found:
        return default
    number = found[-1]
    if number in VERSIONS:
        return VERSIONS[number]
    for prefix, name in _FALLBACK:
        if number.startswith(prefix):
            return VERSIONS[name]
    return default


def upscaler(job: str) -> Upscaler | None:
    """The upscaler behind a customId segment such as `upsample_v6r1_2x_creative`."""
    for version in VERSIONS.values():
        for up in version.upscalers:
            if up.job == job:
                return up
    return None


def wants_hd(prompt: str | None) -> bool:
    """`--hd` in the prompt (V8.x renders natively at 2K; older versions ignore it)."""
    return bool(re.search(r"(?<![\w-])--hd(?![\w-])", prompt or ""))


_DRAFT = re.compile(r"(?<![\w-])--draft(?![\w-])")
_VERSION_PARAMS = re.compile(r"--(?:v|version)\s+[0-9][0-9.]{0,5}|--niji(?:\s+[0-9][0-9.]{0,5})?(?![\w-])")


def is_draft(prompt: str | None) -> bool:
    """`--draft` in the prompt: a draft job (V7: four images at half cost; V8.1: a batch of 512² images)."""
    return bool(_DRAFT.search(prompt or ""))


def without_draft(prompt: str) -> str:
    """The prompt with its `--draft` removed (what Enhance renders at full quality)."""
    return " ".join(_DRAFT.sub("", prompt).split())


def as_draft(prompt: str) -> str:
    """What an account that drafts every prompt sends (trueai's IsDraft): ` --draft` appended once, and
    the version flags removed (so the draft runs on the default model)."""
    prompt = " ".join(_VERSION_PARAMS.sub("", prompt).split())
    return prompt if is_draft(prompt) else f"{prompt} --draft"


UPSCALER_JOBS = tuple(dict.fromkeys(up.job for v in VERSIONS.values() for up in v.upscalers))
