"""The ways a request can be refused, as the domain sees them.

The core never picks a code number or a message text: it raises `Refusal(kind, rule, detail)` and the
dialect (see dialects.py) turns that into the code, HTTP status and description its clients expect.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A request the mock answers without doing what it asked.

    kind: the business outcome (param, not_found, account_unavailable, account_disabled,
          queue_full, system, insufficient_balance, banned).
    rule: for `param`, which validation failed (prompt_blank, base64_format, …): the proxy dialect has
          an exact upstream message per rule.
    detail: an English sentence naming the field and what was wrong.
    """

    def __init__(
        self,
        kind: str,
        detail: str = "",
        *,
        rule: str | None = None,
        properties: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.rule = rule
        self.detail = detail
        self.properties = properties or {}
        self.params = params or {}


def param(rule: str, detail: str, **params: Any) -> Refusal:
    return Refusal("param", detail, rule=rule, params=params)
