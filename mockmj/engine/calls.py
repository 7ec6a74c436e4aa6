"""The values the engine's operations take and give: who calls, what a submission asks for, what it got."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from mockmj.engine.accounts import Account
from mockmj.media.video_gallery import is_video
from mockmj.model.ids import IdSource
from mockmj.model.outcomes import Outcome
from mockmj.model.tasks import Action, Task
from mockmj.model.versions import Defaults, version_of

ANONYMOUS = "anonymous"  # the tenant of requests without a key (no-auth mode)


class Listener(Protocol):
    """What the engine tells about its tasks (implemented by the callback scheduler)."""

    def task_scheduled(self, task: Task, first_index: int) -> None: ...
    def milestone_reached(self, task: Task, index: int) -> None: ...
    def clock_moved(self, now: int) -> None: ...
    def reset(self, gone: set[str] | None, key: str | None = None) -> None: ...


@dataclass
class Caller:
    """Who is asking and from where: the tenant key, the base URL for absolute links, the speed mode
    of a `/mj-fast`-style prefix, and an outcome asked for by header or by a control rule."""

    key: str
    origin: str
    mode: str | None = None
    outcome: str | None = None
    callback_fault: str | None = None  # drop | duplicate | delay | reorder, for receiver tests
    callback_delay_ms: int | None = None


@dataclass
class Accepted:
    kind: str  # ok | queued | modal
    result: Any
    properties: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewTask:
    """Everything that differs between kinds of submission; `Engine.launch` does the rest."""

    action: Action
    prompt: str | None
    prompt_en: str | None
    description: str
    button_set: str
    recipe: dict[str, Any] | None
    steps: bool = True
    bot_type: str = "MID_JOURNEY"
    final_prompt: str | None = None
    reveal_prompt: str | None = None  # prompt/promptEn that appear only at SUCCESS (describe)
    modal: bool = False
    parent: Task | None = None
    custom_id: str | None = None
    account: Account | None = None
    choices: list[str] = field(default_factory=list)
    source_prompt: str | None = None
    prompt_after_start: bool = False
    modal_kind: str | None = None

    def build(self, caller: Caller, body: dict[str, Any], account: Account, ids: IdSource, now: int,
              default_hook: str | None, outcome: Outcome, defaults: Defaults) -> Task:
        """The task this submission makes, its ids drawn from `ids` (the world's, in a transaction)."""
        task_id = ids.task_id(now)
        parent = self.parent
        task = Task(
            id=task_id, owner=caller.key, action=self.action, submit_time=now, prompt=self.prompt,
            prompt_en=self.prompt_en, description=self.description.replace("{id}", task_id),
            state=_text(body.get("state")), button_set=self.button_set, account_id=account.instance_id,
            parent_id=parent.id if parent else None, custom_id=self.custom_id,
            image_recipe=self.recipe, final_prompt=self.final_prompt, reveal_prompt=self.reveal_prompt,
            choices=self.choices, source_prompt=self.source_prompt, prompt_after_start=self.prompt_after_start,
            modal_kind=self.modal_kind,
        )
        hook = _text(body.get("notifyHook")) or default_hook or None
        task.properties = {"notifyHook": hook, "nonce": ids.snowflake(now), "discordInstanceId": account.instance_id,
                           "discordChannelId": account.channel_id, "botType": self.bot_type}
        if caller.mode:
            task.properties["mode"] = caller.mode
        if parent is not None:
            task.properties["referencedMessageId"] = parent.message_id
        task.message_hash = ids.image_hash() if self.button_set != "describe" else None
        task.message_id = ids.snowflake(now)
        task.progress_message_id = parent.message_id if parent is not None else ids.snowflake(now)
        # describe shows the image it was sent: Midjourney made no image, so there is no seed
        task.seed = ids.seed_value() if task.recipe_has_image() else None
        if task.recipe_has_image() and self.bot_type != "INSIGHT_FACE" and not is_video(self.recipe):
            task.version = version_of(self.final_prompt or self.prompt_en, defaults).name
        task.origin = caller.origin
        task.callback_fault, task.callback_delay_ms = caller.callback_fault, caller.callback_delay_ms
        task.outcome, task.steps = outcome, self.steps
        return task


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
