"""Custom timing profiles: a TOML file (`--timing file:PROFILE.toml`) on top of a built-in profile.

    base = "fast"            # the built-in profile the file starts from (default fast)
    start_ms = 120           # any stage of TimingProfile, in milliseconds
    steps = ["25%", "50%"]   # the IN_PROGRESS percentages after "0%"
    [actions.UPSCALE]        # one action's own stages (and steps), on top of the file's top level
    quick_ms = 400

`mockmj calibrate DIR` writes such a file from a recording.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from mockmj.model.tasks import Action
from mockmj.model.timing import PROFILES, TimingProfile

FILE_PREFIX = "file:"
STAGES = ("dispatch_ms", "start_ms", "step_ms", "finish_ms", "quick_ms", "timeout_ms")
_PERCENT = re.compile(r"^(\d{1,2})%$")  # steps lie strictly between "0%" and "100%"


def resolve_profile(name: str) -> TimingProfile:
    """A built-in profile by name, or `file:PATH` read from its TOML file."""
    if name.startswith(FILE_PREFIX):
        return load_profile(name[len(FILE_PREFIX):], name)
    if name not in PROFILES:
        raise ValueError(f"unknown timing {name!r}; choose one of {', '.join(PROFILES)} or file:PROFILE.toml")
    return PROFILES[name]


def load_profile(path: str | Path, name: str | None = None) -> TimingProfile:
    """Read a profile file; every mistake is a ValueError that names the file and the key."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"timing profile {path}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"timing profile {path}: not valid TOML ({exc})") from None
    where = f"timing profile {path}"
    base_name = raw.pop("base", "fast")
    if base_name not in PROFILES:
        raise ValueError(f"{where}: base {base_name!r} is not one of {', '.join(PROFILES)}")
    actions = raw.pop("actions", {})
    raw.pop("name", None)  # informative only: the profile is named after its file
    top = PROFILES[base_name].with_values(name=name or f"{FILE_PREFIX}{path}", **_values(raw, where))
    if not isinstance(actions, dict):
        raise ValueError(f"{where}: [actions] must be a table of action names")
    overrides = []
    for action, table in actions.items():
        if action not in Action.__members__:
            raise ValueError(f"{where}: [actions.{action}] is not an action ({', '.join(Action.__members__)})")
        if not isinstance(table, dict):
            raise ValueError(f"{where}: [actions.{action}] must be a table")
        overrides.append((action, top.with_values(**_values(dict(table), f"{where} [actions.{action}]"))))
    return top.with_values(actions=tuple(overrides))


def _values(raw: dict[str, Any], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in STAGES:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{where}: {key} must be a whole number of milliseconds ≥ 0, not {value!r}")
            values[key] = value
        elif key == "jitter":
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
                raise ValueError(f"{where}: jitter must be a fraction between 0 and 1, not {value!r}")
            values[key] = float(value)
        elif key == "steps":
            values[key] = _steps(value, where)
        else:
            raise ValueError(f"{where}: unknown key {key!r} (known: base, {', '.join(STAGES)}, jitter, steps, "
                             "[actions.NAME])")
    return values


def _steps(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and _PERCENT.match(v) for v in value):
        raise ValueError(f"{where}: steps must be a list of percentages such as [\"25%\", \"50%\"] (1% to 99%)")
    numbers = [int(v[:-1]) for v in value]
    if numbers != sorted(set(numbers)) or (numbers and numbers[0] == 0):
        raise ValueError(f"{where}: steps must rise strictly and come after 0%, got {value}")
    return tuple(value)
