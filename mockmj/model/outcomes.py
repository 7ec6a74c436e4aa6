"""The per-task outcome a test can ask for, and its small grammar.

    outcome := success | fail | fail:<reason> | banned | banned:<word> | stuck | stall | stall:<NN>
             | timeout | modal | queued | slow

It is given in the `X-MockMJ-Outcome` header or as a prompt directive `--mockmj <outcome>`. The
directive survives relays (they pass the prompt on untouched) and is stripped from promptEn and
finalPrompt, so it never shows up in what Midjourney would have echoed.
"""

from __future__ import annotations

import re

from mockmj.model.errors import param

# Outcome and its default reason live in the leaf module `values` (a task holds its outcome) and are
# re-exported here, where the rest of mockmj imports them from
from mockmj.model.values import DEFAULT_FAIL_REASON as DEFAULT_FAIL_REASON
from mockmj.model.values import PROGRESS_STEPS, Outcome

KINDS = ("success", "fail", "banned", "stuck", "stall", "timeout", "modal", "queued", "slow")

DIRECTIVE_FLAG = "--mockmj"
# The directive's value runs up to the next Midjourney parameter (whitespace then `--`) or the end.
_NEXT_PARAMETER = re.compile(r"\s--")


def parse_outcome(text: str | None) -> Outcome:
    if text is None or not text.strip():
        return Outcome()
    text = text.strip()
    kind, _, arg = text.partition(":")
    kind = kind.strip().lower()
    arg = arg.strip()
    if kind not in KINDS:
        raise param(
            "outcome",
            f"outcome '{text}' is not one of {', '.join(KINDS)} (fail and banned take ':<reason>', "
            "stall takes ':<percent>')",
        )
    if kind == "stall":
        wanted = int(arg.rstrip("%")) if arg.rstrip("%").isdigit() else 46
        nearest = min(PROGRESS_STEPS, key=lambda s: abs(int(s[:-1]) - wanted))
        return Outcome(kind, stall_at=nearest)
    return Outcome(kind, reason=arg or None)


def split_directive(prompt: str) -> tuple[str, str | None]:
    """(prompt without the directive, the directive's outcome text or None).

    A scan, not a backtracking regular expression: a prompt of a million spaces costs one pass.
    """
    start = 0
    while True:
        at = prompt.find(DIRECTIVE_FLAG, start)
        if at < 0:
            return prompt, None
        begin = at + len(DIRECTIVE_FLAG)
        value_at = begin
        while value_at < len(prompt) and prompt[value_at].isspace():
            value_at += 1
        if value_at == begin or value_at == len(prompt):
            start = begin  # `--mockmjx`, or a flag with no value at the end
            continue
        following = _NEXT_PARAMETER.search(prompt, value_at)
        end = following.start() if following else len(prompt)
        cleaned = (prompt[:at].rstrip() + prompt[end:]).strip()
        return cleaned, prompt[value_at:end].strip()
