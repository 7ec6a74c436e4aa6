"""Midjourney model versions as one table: which prompt selects which, and what its upscaled image offers.

V7 has been Midjourney's default since mid-2025, so a prompt without `--v` is a V7 job. Each version
has its own upscaler buttons (the ids are Midjourney's: `upsample_v7_2x_subtle`, `upsample_v6r1_2x_*`,
`upsample_v6_2x_*`, `upsample_v5_2x`/`_4x`); niji 6 is built on V6 and shows the V6 upscalers.
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


@dataclass(frozen=True)
class Version:
    name: str  # what tasks report in `version`: "7", "6.1", "6", "5.2", "niji 6"
    family: str  # the upscaler family in button ids: v7, v6r1, v6, v5
    upscalers: tuple[Upscaler, ...]
    bot_type: str = "MID_JOURNEY"
    animate: bool = True  # Animate (video) is offered from V6 on, as on the service since June 2025


def _subtle_creative(family: str) -> tuple[Upscaler, ...]:
    return (
        Upscaler(f"upsample_{family}_2x_subtle", "Upscale (Subtle)", "upscale_1", 2.0),
        Upscaler(f"upsample_{family}_2x_creative", "Upscale (Creative)", "upscale_1", 2.0),
    )


V7 = Version("7", "v7", _subtle_creative("v7"))
VERSIONS: dict[str, Version] = {
    "7": V7,
    "6.1": Version("6.1", "v6r1", _subtle_creative("v6r1")),
    "6": Version("6", "v6", _subtle_creative("v6")),
    "5.2": Version("5.2", "v5", (
        Upscaler("upsample_v5_2x", "Upscale (2x)", "", 2.0),
        Upscaler("upsample_v5_4x", "Upscale (4x)", "", 4.0),
    ), animate=False),
    "niji 6": Version("niji 6", "v6", _subtle_creative("v6"), bot_type="NIJI_JOURNEY"),
}
DEFAULT = V7

_VERSION_FLAG = re.compile(r"--(?:v|version)\s+([0-9][0-9.]{0,5})")
_NIJI_FLAG = re.compile(r"--niji(?:\s+([0-9][0-9.]{0,5}))?(?![\w-])")

# A number the table does not list falls on the nearest family it names: 5, 5.0, 5.1 → 5.2; 6.0 → 6.
_FALLBACK = (("7", "7"), ("6.1", "6.1"), ("6", "6"), ("5", "5.2"))


def version_of(prompt: str | None) -> Version:
    """The version a prompt selects: the last `--v`/`--version`, or `--niji` (any number: niji 6); V7 if none."""
    text = prompt or ""
    if _NIJI_FLAG.search(text):
        return VERSIONS["niji 6"]
    found = _VERSION_FLAG.findall(text)
    if not found:
        return DEFAULT
    number = found[-1]
    if number in VERSIONS:
        return VERSIONS[number]
    for prefix, name in _FALLBACK:
        if number.startswith(prefix):
            return VERSIONS[name]
    return DEFAULT


def upscaler(job: str) -> Upscaler | None:
    """The upscaler behind a customId segment such as `upsample_v6r1_2x_creative`."""
    for version in VERSIONS.values():
        for up in version.upscalers:
            if up.job == job:
                return up
    return None


UPSCALER_JOBS = tuple(dict.fromkeys(up.job for v in VERSIONS.values() for up in v.upscalers))
