"""A button pressed on a finished task: what every builder of a button's task reads (the button table of
submissions.py and the video buttons of video_buttons.py both build from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockmj.engine.accounts import Account
from mockmj.engine.facade import Engine, NewTask
from mockmj.media import images
from mockmj.model.buttons import Press
from mockmj.model.tasks import Action, Task


@dataclass
class Click:
    """A button pressed on a finished task: everything the per-kind builders below need."""

    engine: Engine
    body: dict[str, Any]
    parent: Task
    press: Press
    custom_id: str
    account: Account
    legacy_action: Action | None

    @property
    def pid(self) -> str:
        return self.parent.id

    def child(self, action: Action, description: str, button_set: str, recipe: dict[str, Any] | None,
              **changes: Any) -> NewTask:
        """A task that carries on the parent's prompt, bot and account."""
        fields: dict[str, Any] = {
            "prompt": self.parent.prompt, "prompt_en": self.parent.prompt_en,
            "final_prompt": self.parent.final_prompt or self.parent.prompt_en or "",
            "bot_type": self.parent.properties.get("botType", "MID_JOURNEY"), "parent": self.parent,
            "custom_id": self.custom_id, "account": self.account, **changes,
        }
        return NewTask(action, description=f"/up {self.pid} {description}", button_set=button_set, recipe=recipe,
                       **fields)

    def imagine(self, text: str) -> NewTask:
        """A new imagine with a prompt picked from a describe or shorten result (it opens a window)."""
        return NewTask(Action.IMAGINE, prompt=text, prompt_en=text, description=f"/imagine {text}",
                       button_set="grid", recipe={"kind": "grid", "aspect": list(images.parse_aspect(text))},
                       final_prompt=text, custom_id=self.custom_id, account=self.account)
