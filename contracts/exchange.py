"""One request and its answer, as the suite keeps them for evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Exchange:
    """One request and its answer, kept for evidence."""

    method: str
    path: str
    status: int
    body: bytes
    headers: dict[str, str]
    request_body: Any = None
    elapsed: float = 0.0
    _json: Any = field(default=None, repr=False)
    _parsed: bool = False

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        if not self._parsed:
            self._json = json.loads(self.body.decode("utf-8"))
            self._parsed = True
        return self._json

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    def is_json(self) -> bool:
        try:
            self.json()
            return True
        except ValueError:
            return False

    def brief(self, limit: int = 300) -> str:
        body = self.text if self.body else "(empty body)"
        if len(body) > limit:
            body = body[:limit] + "…"
        sent = ""
        if self.request_body is not None:
            shown = json.dumps(self.request_body, ensure_ascii=False) if not isinstance(
                self.request_body, (str, bytes)) else str(self.request_body)
            sent = " " + (shown if len(shown) <= 160 else shown[:160] + "…")
        return f"{self.method} {self.path}{sent} → HTTP {self.status} {body}"
