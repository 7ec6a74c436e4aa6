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


# One class per refusal the engine raises, with its facts as constructor arguments (the moto way): the
# dialect table still picks the code and message by `kind`, so each class fixes its kind and fills the
# params its message templates name.
class TaskNotFound(Refusal):
    def __init__(self, task_id: Any) -> None:
        super().__init__("not_found", f"task {task_id} does not exist", params={"task_id": task_id})


class ParentMissing(Refusal):
    """The task an action or an extend continues does not exist (some dialects answer it apart)."""

    def __init__(self, task_id: Any) -> None:
        super().__init__("parent_missing", f"task {task_id} does not exist", params={"task_id": task_id})


class AccountUnavailable(Refusal):
    def __init__(self) -> None:
        super().__init__("account_unavailable", "no enabled account matches the account filter")


class AccountDisabled(Refusal):
    def __init__(self, instance_id: str | None, task_id: str) -> None:
        super().__init__("account_disabled", f"account {instance_id} of task {task_id} is disabled",
                         params={"instance_id": instance_id})


class QueueFull(Refusal):
    def __init__(self, instance_id: str, running: int, waiting: int) -> None:
        super().__init__("queue_full", "the queue is full", properties={"discordInstanceId": instance_id},
                         params={"running": running, "waiting": waiting})


class InsufficientBalance(Refusal):
    def __init__(self, price: int, balance: int, detail: str | None = None) -> None:
        super().__init__("insufficient_balance",
                         detail or f"this submission costs {price} and the balance of this key is {balance}",
                         params={"price": price, "balance": balance})


class BannedPrompt(Refusal):
    """Refused at submission (dialects that check prompts then; others fail the task instead)."""

    def __init__(self, word: str, prompt_en: str) -> None:
        super().__init__("banned", f"the prompt contains the banned word '{word}'",
                         properties={"promptEn": prompt_en, "bannedWord": word})
