"""Bounds on what one request body may ask of the mock, checked once and in linear time.

A mock shared by a team (or fuzzed by a contract suite) must answer every request quickly and keep
only what it can afford: bodies that are too large, nested too deeply, or carrying text that is not
valid Unicode are refused before any handler runs, so nothing is stored and nothing is charged.

Lone UTF-16 surrogates (`"\\ud800"`, what JavaScript produces when a string is cut inside an emoji)
are valid JSON escapes but not text: stored, they would make every later rendering of the task fail
to encode. They are refused here, naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mockmj.config import Settings


class BodyProblem(Exception):
    """A body refused before it reaches a handler. `field`/`limit` name what was exceeded, if anything."""

    def __init__(self, message: str, field: str | None = None, limit: int | None = None,
                 rule: str = "too_long") -> None:
        super().__init__(message)
        self.message, self.field, self.limit, self.rule = message, field, limit, rule


@dataclass(frozen=True)
class BodyLimits:
    max_depth: int
    max_prompt: int
    max_state: int
    max_hook: int
    max_images: int

    @classmethod
    def of(cls, settings: Settings) -> BodyLimits:
        return cls(settings.max_json_depth, settings.max_prompt_chars, settings.max_state_chars,
                   settings.max_notify_hook_chars, settings.max_images)

    def text_limits(self) -> dict[str, int]:
        """Top-level text fields with a documented maximum length, in characters."""
        return {"prompt": self.max_prompt, "state": self.max_state, "notifyHook": self.max_hook}


def parse_json(raw: bytes, max_depth: int) -> Any:
    """The decoded JSON, or BodyProblem when it is not JSON or nests deeper than `max_depth`."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise BodyProblem(f"the request body nests deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyProblem(f"the request body is not valid JSON ({exc})", rule="not_json") from None


def check_body(body: Any, limits: BodyLimits) -> None:
    """Depth and Unicode of every value, then the length limits of the known fields (one pass)."""
    _walk(body, limits.max_depth)
    if not isinstance(body, dict):
        return
    for name, limit in limits.text_limits().items():
        value = body.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise BodyProblem(f"{name} is {len(value)} characters long; the limit is {limit}", name, limit)
    images = body.get("base64Array")
    if isinstance(images, list) and len(images) > limits.max_images:
        raise BodyProblem(f"base64Array holds {len(images)} images; the limit is {limits.max_images}",
                          "base64Array", limits.max_images, rule="base64_list")
    hook = body.get("notifyHook")
    if isinstance(hook, str) and hook and not _is_hook_url(hook):
        raise BodyProblem("notifyHook must be an http:// or https:// URL with no whitespace (a trailing newline "
                          "included)", "notifyHook", rule="bad_url")


def _is_hook_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) > 8 and not any(
        ch.isspace() or ord(ch) < 32 for ch in value)


def _walk(body: Any, max_depth: int) -> None:
    # An explicit stack: no recursion, so no depth of input can exhaust the interpreter's stack.
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, where or "body")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise BodyProblem(f"the request body nests deeper than {max_depth} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, f"{where + '.' if where else ''}{key!r} (a key)")
                stack.append((item, f"{where}.{key}" if where else key, depth + 1))
        else:
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))


def _check_text(text: str, field: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise BodyProblem(
            f"{field} is not valid Unicode: a lone surrogate U+{ord(bad):04X} at character {exc.start} "
            "(a string cut inside an emoji?)",
            field.split("[")[0].split(".")[0],
            rule="not_unicode",
        ) from None
