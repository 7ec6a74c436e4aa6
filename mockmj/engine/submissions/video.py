"""`POST /mj/submit/video`, `/mj/submit/edits` and `/mj/submit/retexture`: the 2025 submissions.

The checks and their order follow trueai's midjourney-proxy 11.x, the newest proxy that carries them
(and the one whose messages the proxy dialect speaks). `/submit/video` also extends a video
(`action: "extend"`, `taskId`, `index`): through a new-api relay that is the only way to extend,
since the relay cannot pass video buttons to `/submit/action`.
"""

from __future__ import annotations

from typing import Any

from mockmj.engine.facade import Accepted, Caller, Engine, NewTask
from mockmj.engine.submissions.image_source import decode_image_value
from mockmj.engine.submissions.submit import Uploads, _blank, _launch, _prompt_outcome
from mockmj.engine.submissions.video_buttons import video_recipe
from mockmj.media.image_input import DecodedImage, ImageInputError
from mockmj.media.video import BATCH_SIZES, MOTIONS, VIDEO_TYPES
from mockmj.media.video_gallery import is_video, video_count
from mockmj.model.errors import ParentMissing, TaskNotFound, param
from mockmj.model.tasks import Action, Status, Task

DEFAULT_VIDEO_TYPE = "vid_1.1_i2v_480"


def _image(engine: Engine, caller: Caller, value: Any, field: str) -> DecodedImage:
    try:
        return decode_image_value(engine, caller, value, field)
    except ImageInputError as exc:
        raise param("base64_format", str(exc)) from None


def _choice(body: dict[str, Any], field: str, allowed: tuple[Any, ...], default: Any) -> Any:
    value = body.get(field)
    if value is None:
        return default
    if value not in allowed or isinstance(value, bool):
        raise param(field, f"{field} must be one of {', '.join(map(str, allowed))}, not {value!r}")
    return value


def _motion(body: dict[str, Any]) -> tuple[str, str]:
    """(motion in lowercase, motion as the client wrote it): "Low", "HIGH" are accepted as low and high,
    as trueai's proxy passes the text through (a ComfyUI node sends "Low"); anything else is refused."""
    value = body.get("motion")
    if value is None:
        return "low", "low"
    if not isinstance(value, str) or value.lower() not in MOTIONS:
        raise param("motion", f"motion must be low or high (in any letter case), not {value!r}")
    return value.lower(), value


def _extend_parent(engine: Engine, caller: Caller, body: dict[str, Any]) -> tuple[Task, int]:
    """The video an extend continues, and which video of its batch; checked in the engine's transaction."""
    task_id = body.get("taskId")
    if _blank(task_id):
        raise param("task_id_blank", "taskId must not be empty: action \"extend\" continues an existing video")
    try:
        parent = engine.views.task_for(caller, task_id)
    except TaskNotFound:
        raise ParentMissing(task_id) from None
    status = engine.views.status_of(parent)
    if status is not Status.SUCCESS:
        raise param("task_status", f"task {parent.id} is {status.value}: only a finished video can be extended")
    if not is_video(parent.image_recipe):
        raise param("task_status", f"task {parent.id} ({parent.action.value}) made no video to extend")
    index = body.get("index", 0)
    count = video_count(parent.image_recipe)
    if index is None:
        index = 0
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise param("index", f"index must be an integer from 0 to {count - 1} (the video of task {parent.id})")
    return parent, index


def video(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    prompt = body.get("prompt")
    if _blank(prompt) or not isinstance(prompt, str):
        raise param("video_prompt_blank", "prompt must not be empty (an extend needs one too)")
    extend = body.get("action") == "extend"
    if not extend and not _blank(body.get("taskId")):
        raise param("video_task_type", "taskId is only read with action \"extend\"")
    if body.get("action") not in (None, "", "extend"):
        raise param("video_task_type", f"action must be \"extend\" or absent, not {body.get('action')!r}")
    motion, motion_given = _motion(body)
    video_type = _choice(body, "videoType", tuple(VIDEO_TYPES), DEFAULT_VIDEO_TYPE)
    batch = _choice(body, "batchSize", BATCH_SIZES, 4)
    loop = body.get("loop") is True
    _, prompt_en, outcome = _prompt_outcome(engine, caller, prompt.strip())
    uploads = Uploads(engine, caller)
    parent: Task | None = None
    if extend:
        with engine.transaction():
            parent, index = _extend_parent(engine, caller, body)
            start: dict[str, Any] = {"video": parent.id, "index": index}
            start_url = engine.attachments.media_url(caller.origin, parent, f"video:{index}")
    else:
        if _blank(body.get("image")):
            raise param("video_image_blank", "image (the first frame) must not be empty: a video animates an image")
        path = uploads.add(_image(engine, caller, body["image"], "image"), "video_start")
        start, start_url = {"upload": path}, uploads.url(path)
    end: dict[str, Any] | None = None
    tail = " --video 1"
    if loop:
        tail += " --end loop"
    elif not _blank(body.get("endImage")):
        end_path = uploads.add(_image(engine, caller, body["endImage"], "endImage"), "video_end")
        end = {"upload": end_path}
        tail += f" --end {uploads.url(end_path)}"
    # trueai writes the value as the client spelled it into a new video's prompt, and lowercases it only
    # for an extend's button; the mock renders (and extends) with the lowercase motion either way
    tail += f" --motion {motion if extend else motion_given}" + (f" --bs {batch}" if batch in (1, 2) else "")
    final = f"{start_url} {prompt_en}{tail}"
    spec = NewTask(
        action=Action.VIDEO,
        prompt=prompt.strip(),
        prompt_en=final,
        description=f"/video {prompt.strip()}",
        button_set=f"video:{batch}",
        recipe=video_recipe(start, motion, batch, end, loop, VIDEO_TYPES[video_type]),
        final_prompt=final,
        parent=parent,
    )
    body = {k: v for k, v in body.items() if k != "accountFilter"}  # trueai's video request has no filter
    return _launch(engine, caller, spec, body, outcome, uploads)


# --------------------------------------------------------------------------------------- edits, retexture
def _edit(engine: Engine, caller: Caller, body: dict[str, Any], action: Action, command: str) -> Accepted:
    prompt, value = body.get("prompt"), body.get("image")
    if _blank(prompt) or not isinstance(prompt, str) or _blank(value):
        raise param("edit_blank", "image and prompt must not be empty")
    uploads = Uploads(engine, caller)
    picture = _image(engine, caller, value, "image")
    path = uploads.add(picture, f"{command}_source")
    _, prompt_en, outcome = _prompt_outcome(engine, caller, prompt.strip())
    final = f"{uploads.url(path)} {prompt_en}"
    spec = NewTask(
        action=action,
        prompt=prompt.strip(),
        prompt_en=final,
        description=f"/{command} {prompt.strip()}",
        button_set="grid",
        recipe={"kind": command, "source": path},  # the grid takes the cells of the image's own aspect
        final_prompt=final,
    )
    return _launch(engine, caller, spec, body, outcome, uploads)


def edits(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    """Edit an image from a prompt: a grid of four edits of it (trueai's EDIT)."""
    return _edit(engine, caller, body, Action.EDIT, "edit")


def retexture(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    """Keep an image's shapes, change its surfaces: a grid of four retextures (trueai's RETEXTURE)."""
    return _edit(engine, caller, body, Action.RETEXTURE, "retexture")
