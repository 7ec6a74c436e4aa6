"""Speed modes as a relay bills them: which mode a submission runs in, and what it costs in that mode.

A relay prices a job by its mode as well as its action (a reseller's table: fast 1, relax 1, turbo 2,
draft 0.5 times the action's price); the mock does the same when the settings give `mode_prices`, and a
key configured with `modes` may use only those. Without `mode_prices` every mode costs the action's price.
"""

from __future__ import annotations

import math
import re

from mockmj.model.versions import is_draft

MODES = ("fast", "relax", "turbo", "draft")
_FLAG = re.compile(r"(?<![\w-])--(fast|relax|turbo)(?![\w-])", re.IGNORECASE)


def mode_of(path_mode: str | None, prompt: str | None) -> str:
    """The mode a submission runs in: draft for a `--draft` prompt; else the `/mj-fast`-style prefix (trueai
    puts it first), else the last `--fast`/`--relax`/`--turbo` flag; fast when nothing says."""
    if is_draft(prompt):
        return "draft"
    if path_mode:
        return path_mode.lower()
    flags = _FLAG.findall(prompt or "")
    return flags[-1].lower() if flags else "fast"


def price_in_mode(price: int, mode: str, mode_prices: dict[str, float] | None) -> int:
    """The action's price times the mode's factor, rounded up (a paid job never costs 0 by rounding)."""
    if not mode_prices:
        return price
    return math.ceil(price * mode_prices.get(mode, 1))


def check_mode_prices(mode_prices: dict[str, float] | None) -> None:
    for mode, factor in (mode_prices or {}).items():
        if mode not in MODES:
            raise ValueError(f"mode_prices: unknown mode {mode!r}; choose among {', '.join(MODES)}")
        if not factor >= 0:
            raise ValueError(f"mode_prices: the factor of {mode} must be 0 or more, not {factor}")


def check_key_modes(key: str, modes: list[str] | None) -> None:
    for mode in modes or []:
        if mode not in MODES:
            raise ValueError(f"key {key}: unknown mode {mode!r} in modes; choose among {', '.join(MODES)}")
