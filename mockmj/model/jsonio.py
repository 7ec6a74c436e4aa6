"""Compact JSON, as the real proxy (Jackson) writes it.

Compact separators are not cosmetic: relays rewrite `"code":21` and `"code":22` in the body as plain
text, which only works if there is no space after the colon.
"""

from __future__ import annotations

import json
from typing import Any


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def first_whitespace(text: str) -> int | None:
    """Offset of the first whitespace between JSON tokens (trailing whitespace allowed), else None: how
    a compact body is told from a pretty one, for the recorder's rules and the contract suite alike."""
    in_string = escaped = False
    end = len(text.rstrip())
    for i, ch in enumerate(text[:end]):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in " \t\r\n":
            return i
    return None
