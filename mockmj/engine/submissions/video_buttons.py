"""What the video buttons create: Animate on an upscaled image, U1..Un under a video batch, Extend
under an upscaled video. Registered in the button table of submissions.py."""

from __future__ import annotations

from typing import Any

from mockmj.engine.facade import NewTask
from mockmj.engine.submissions.clicks import Click
from mockmj.media.video import SD_LONG_SIDE
from mockmj.model.tasks import Action

MOTION_LABEL = {"high": "High motion", "low": "Low motion"}


def video_recipe(start: dict[str, Any], motion: str, batch: int = 4, end: dict[str, Any] | None = None,
                 loop: bool = False, long_side: int = SD_LONG_SIDE) -> dict[str, Any]:
    return {"kind": "video", "start": start, "end": end, "loop": loop, "motion": motion, "batch": batch,
            "long_side": long_side}


def _video_child(c: Click, label: str, recipe: dict[str, Any]) -> NewTask:
    base = c.parent.final_prompt or c.parent.prompt_en or ""
    return c.child(Action.VIDEO, label, f"video:{recipe['batch']}", recipe,
                   final_prompt=f"{base} --video 1 --motion {recipe['motion']}".strip())


def animate(c: Click) -> tuple[NewTask, None]:
    """Animate (High/Low motion) on an upscaled image: a batch of four videos starting from it."""
    motion = c.press.detail
    recipe = video_recipe({"task": c.pid}, motion)
    return _video_child(c, f"Animate ({MOTION_LABEL[motion]})", recipe), None


def animate_extend(c: Click) -> tuple[NewTask, None]:
    """Extend (High/Low motion) on an upscaled video: four videos continuing from its last frame."""
    motion = c.press.detail.removesuffix("_extend")
    recipe = video_recipe({"video": c.pid, "index": 0}, motion)
    return _video_child(c, f"Extend ({MOTION_LABEL[motion]})", recipe), None


def video_upscale(c: Click) -> tuple[NewTask, None]:
    """U<i> under a video batch: video i again at twice the size, an UPSCALE with contentType video/mp4."""
    recipe = {"kind": "video_upscale", "parent": c.pid, "index": c.press.index - 1}
    return c.child(Action.UPSCALE, f"U{c.press.index}", "video_upscaled", recipe), None


VIDEO_BUTTONS = {"animate": animate, "animate_extend": animate_extend, "video_upscale": video_upscale}
