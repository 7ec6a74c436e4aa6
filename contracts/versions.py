"""Which buttons a finished task offers, by model version and task kind (BTN-1): one table, keyed by version.

A version is read from the task's own `version` field when it has one ("7", "v 7", "niji 6", "8.1" and
"v 8.1" all read), else from the `--v` / `--niji` flag of its prompt. A version the table does not know,
or a task that names none and whose prompt names none (the deployment's default decides, and defaults
differ: V7 on older proxies, V8.1 on trueai since 2026-07), leaves the clause *not verified* for that
task rather than failed. Adding a version is adding a row.

Sources: midjourney-proxy-upstream §11 (the Discord button ids), midjourney-2025 §1 (V7 upscalers,
Animate), midjourney-2026 §2 (trueai's CustomComponentModel: V8/V8.1 have no Upscale, Zoom or Pan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .grammar import parse


@dataclass(frozen=True)
class VersionButtons:
    upscalers: frozenset[str]  # the customId segments of "Upscale (…)" on an upscaled image
    zoom: bool = True  # Zoom Out 2x / 1.5x and Custom Zoom
    pan: bool = True  # the four pan arrows
    animate: bool = True  # Animate (High/Low motion), from V6 on


def _subtle_creative(family: str) -> frozenset[str]:
    return frozenset({f"upsample_{family}_2x_subtle", f"upsample_{family}_2x_creative"})


V5 = VersionButtons(frozenset({"upsample_v5_2x", "upsample_v5_4x"}), animate=False)
V8 = VersionButtons(frozenset(), zoom=False, pan=False)  # "v8 removed the Upscale HD function", "Zoom/Pan"
BUTTONS_BY_VERSION: dict[str, VersionButtons] = {
    "8.1": V8,
    "8": V8,
    "7": VersionButtons(_subtle_creative("v7")),
    "niji 7": VersionButtons(_subtle_creative("v7")),  # V7 and niji 7 share the upscalers
    "6.1": VersionButtons(_subtle_creative("v6r1")),
    "6": VersionButtons(_subtle_creative("v6")),
    "niji 6": VersionButtons(_subtle_creative("v6")),  # niji 6 is built on V6
    "5.2": V5,
    "5.1": V5,
    "5": V5,
}

_REPORTED = re.compile(r"^\s*(?:(niji)\s*|v(?:ersion)?\s*)?([0-9]+(?:\.[0-9]+)?)\s*$", re.IGNORECASE)
_V_FLAG = re.compile(r"--(?:v|version)\s+([0-9]+(?:\.[0-9]+)?)")
_NIJI_FLAG = re.compile(r"--niji(?:\s+([0-9]+(?:\.[0-9]+)?))?(?![\w-])")


def normalise(reported: str) -> str | None:
    """"v 8.1" → "8.1", "niji 6" → "niji 6", "7.0" → "7"; None when it does not read as a version."""
    m = _REPORTED.match(reported)
    if not m:
        return None
    number = m.group(2)
    if number.endswith(".0"):
        number = number[:-2]
    return f"niji {number}" if m.group(1) else number


def version_of(task: dict[str, Any]) -> tuple[str | None, str]:
    """(the task's version, how it was read), or (None, why not)."""
    reported = task.get("version")
    if isinstance(reported, str) and reported.strip():
        name = normalise(reported)
        return (name, f"version {reported!r} reported by the task") if name else (
            None, f"the task reports version {reported!r}, which does not read as a model version")
    for field in ("promptEn", "prompt"):
        text = task.get(field)
        if not isinstance(text, str):
            continue
        niji = list(_NIJI_FLAG.finditer(text))
        if niji:
            number = niji[-1].group(1)
            return (f"niji {number}" if number else None,
                    f"--niji {number} in the prompt" if number else "--niji without a number: the deployment's "
                    "default niji version decides")
        flags = _V_FLAG.findall(text)
        if flags:
            return normalise(flags[-1]), f"--v {flags[-1]} in the prompt"
    return None, "the task reports no version and its prompt names none (the deployment's default decides)"


def label(version: str) -> str:
    """"V7", "V8.1", "niji 6": how the documentation names a version."""
    return version if version.startswith("niji") else f"V{version}"


def expected_upscaled(version: str) -> VersionButtons | None:
    return BUTTONS_BY_VERSION.get(version)


def upscaled_problems(task: dict[str, Any], version: str, table: VersionButtons) -> list[str]:
    """What is wrong with the buttons of a finished upscaled image of `version`."""
    kinds: dict[str, list[str]] = {}
    for b in task.get("buttons") or []:
        parsed = parse(str(b.get("customId"))) if isinstance(b, dict) else None
        if parsed is not None:
            kinds.setdefault(parsed.kind, []).append(parsed.detail)
    problems = []
    upscalers = set(kinds.get("upscale_more", []))  # "upsample_v7_2x_subtle": the version is in the id
    if upscalers != table.upscalers:
        problems.append(f"{label(version)} upscalers should be {sorted(table.upscalers) or 'none'}, are "
                        f"{sorted(upscalers) or 'none'}")
    vary = set(kinds.get("vary", []))
    if vary != {"low_variation", "high_variation"} or "inpaint" not in kinds:
        problems.append(f"Vary (Subtle), Vary (Strong) and Vary (Region) exist for every version; got vary "
                        f"{sorted(vary)}, inpaint {'yes' if 'inpaint' in kinds else 'no'}")
    zoom = set(kinds.get("outpaint", [])) == {"50", "75"} and "custom_zoom" in kinds
    some_zoom = bool(kinds.get("outpaint")) or "custom_zoom" in kinds
    if table.zoom and not zoom:
        problems.append(f"{label(version)} should offer Zoom Out 2x, 1.5x and Custom Zoom")
    if not table.zoom and some_zoom:
        problems.append(f"{label(version)} has no Zoom buttons, yet the task offers some")
    pans = set(kinds.get("pan", []))
    if table.pan and pans != {"left", "right", "up", "down"}:
        problems.append(f"{label(version)} should offer the four pan arrows, offers {sorted(pans)}")
    if not table.pan and pans:
        problems.append(f"{label(version)} has no Pan buttons, yet the task offers {sorted(pans)}")
    animate = {d for d in kinds.get("animate", []) if not d.endswith("_extend")}
    if table.animate and animate != {"animate_high", "animate_low"}:
        problems.append(f"{label(version)} should offer Animate (High motion) and (Low motion), offers "
                        f"{sorted(animate)}")
    if not table.animate and animate:
        problems.append(f"{label(version)} has no Animate, yet the task offers {sorted(animate)}")
    return problems


def _kinds(task: dict[str, Any]) -> list[Any]:
    return [p for b in task.get("buttons") or [] if isinstance(b, dict) and (p := parse(str(b.get("customId"))))]


def kind_problems(task: dict[str, Any]) -> list[str] | None:
    """The buttons of a finished video (one U per video of the batch, and 🔄) and of a video upscale (Extend,
    High and Low motion), midjourney-2025 §2; None for a task of another kind."""
    kinds = _kinds(task)
    if task.get("action") == "VIDEO":
        videos = task.get("videoUrls")
        n = len(videos) if isinstance(videos, list) else 0
        ups = sorted(p.index for p in kinds if p.kind == "video_upscale")
        problems = []
        if ups != list(range(1, n + 1)):
            problems.append(f"a batch of {n} video(s) should offer video_virtual_upscale U1..U{n}, offers {ups}")
        if not any(p.kind == "reroll" for p in kinds):
            problems.append("no 🔄 reroll")
        return problems
    if task.get("action") == "UPSCALE" and task.get("contentType") == "video/mp4":
        extend = {p.detail for p in kinds if p.kind == "animate"}
        wanted = {"animate_high_extend", "animate_low_extend"}
        return [] if extend == wanted else [f"a video upscale should offer Extend (High/Low motion), offers "
                                            f"{sorted(extend)}"]
    return None
