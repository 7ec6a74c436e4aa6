"""Compact JSON, as the real proxy (Jackson) writes it.

Compact separators are not cosmetic: relays rewrite `"code":21` and `"code":22` in the body as plain
text, which only works if there is no space after the colon.
"""

from __future__ import annotations

import json
from typing import Any


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
