"""What each submit operation means: its checks, in the proxy's order, and the task it creates.

Each function validates the body semantically (the schema has already been applied by the web layer
in the 88API dialect; in the proxy dialect only enums and JSON syntax are), raises `Refusal` with a
rule the dialect can name exactly, and hands a `NewTask` to the engine.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockmj.engine.accounts import Account
from mockmj.engine.facade import Accepted, Caller, Engine, NewTask
from mockmj.engine.submissions.clicks import Click
from mockmj.engine.submissions.image_source import fetch_link, is_link, with_data_prefix
from mockmj.engine.submissions.video_buttons import VIDEO_BUTTONS
from mockmj.media import images
from mockmj.media.gallery import SourceGone
from mockmj.media.image_input import DecodedImage, ImageInputError, decode_data_url, decode_mask, decoded
from mockmj.model.buttons import Press, buttons_for, parse_custom_id
from mockmj.model.errors import AccountDisabled, BannedPrompt, param
from mockmj.model.outcomes import Outcome, parse_outcome, split_directive
from mockmj.model.prompts import find_banned, parse_zoom, translate
from mockmj.model.tasks import Action, Status, Task
from mockmj.model.versions import Defaults, as_draft, is_draft, upscaler, version_of, wants_hd, without_draft

if TYPE_CHECKING:
    from PIL import Image  # imported with the first image (mockmj/media/pillow.py), not with the engine

GRID_ACTIONS = (Action.IMAGINE, Action.VARIATION, Action.REROLL, Action.BLEND, Action.ZOOM, Action.PAN,
                Action.EDIT, Action.RETEXTURE, Action.VIDEO)  # what 🔄 can make again
DIMENSIONS = {"PORTRAIT": (2, 3), "SQUARE": (1, 1), "LANDSCAPE": (3, 2)}
BOT_TYPES = ("MID_JOURNEY", "NIJI_JOURNEY")
_ZOOM_PARAMETER = re.compile(r"--zoom\s+\S+")
PAN_LABEL = {"left": "Pan Left", "right": "Pan Right", "up": "Pan Up", "down": "Pan Down"}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _image(value: Any, field: str, rule: str = "base64_format") -> DecodedImage:
    try:
        return decode_data_url(value, field)
    except ImageInputError as exc:
        raise param(rule, str(exc)) from None


def _bot_type(body: dict[str, Any]) -> str:
    value = body.get("botType") or "MID_JOURNEY"
    return value if value in BOT_TYPES else "MID_JOURNEY"


def _new_task(body: dict[str, Any], action: Action, description: str, button_set: str, recipe: dict[str, Any] | None,
              *, prompt: str | None = None, prompt_en: str | None = None, **changes: Any) -> NewTask:
    """A submission's task (no parent): what its kind sets, and the bot its body names unless the kind sets one."""
    changes.setdefault("bot_type", _bot_type(body))
    return NewTask(action, prompt, prompt_en, description, button_set, recipe, **changes)


class Uploads:
    """Images that will be served back once the submission is accepted (and only then)."""

    def __init__(self, engine: Engine, caller: Caller) -> None:
        self.engine, self.caller = engine, caller
        self.pending: list[tuple[str, bytes, str]] = []

    def add(self, image: DecodedImage, name: str) -> str:
        channel = self.engine.dispatch.first_channel()
        path = self.engine.attachments.new_path(channel, name, image.ext, {p for p, _, _ in self.pending})
        self.pending.append((path, image.data, image.mime))
        return path

    def url(self, path: str) -> str:
        return self.engine.attachments.base(self.caller.origin) + path

    def commit(self, task: Task | None = None) -> None:
        self.engine.attachments.keep(task, self.pending, owner=self.caller.key)


def _launch(engine: Engine, caller: Caller, spec: NewTask, body: dict[str, Any], outcome: Outcome,
            uploads: Uploads | None = None) -> Accepted:
    with engine.transaction():
        accepted = engine.launch(caller, spec, body, outcome)
        if uploads is not None:
            uploads.commit(engine.task(accepted.result))
        return accepted


def _prompt_outcome(engine: Engine, caller: Caller, prompt: str) -> tuple[str, str, Outcome]:
    """(cleaned prompt, English prompt, outcome), with the banned-word rule of the dialect applied."""
    cleaned, directive = split_directive(prompt)
    outcome = parse_outcome(caller.outcome or directive)
    prompt_en = translate(cleaned or "", engine.settings.glossary)
    word = find_banned(prompt_en, engine.banned)
    if word and outcome.kind == "success":
        if engine.dialect.banned == "reject":
            raise BannedPrompt(word, prompt_en)
        outcome = Outcome("banned", reason=word)
    return cleaned or "", prompt_en, outcome


# --------------------------------------------------------------------------------------- imagine
def imagine(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    prompt = body.get("prompt")
    if _blank(prompt) or not isinstance(prompt, str):
        raise param("prompt_blank", "prompt must not be empty")
    prompt = prompt.strip()
    _, prompt_en, outcome = _prompt_outcome(engine, caller, prompt)
    references = list(body.get("base64Array") or [])
    if not _blank(body.get("base64")):
        references.append(body["base64"])  # the deprecated single-image field, as upstream appends it
    uploads = Uploads(engine, caller)
    for i, value in enumerate(references):
        uploads.add(_image(value, f"base64Array[{i}]"), f"reference_{i}")
    if uploads.pending:
        urls = " ".join(uploads.url(p) for p, _, _ in uploads.pending)
        prompt, prompt_en = f"{urls} {prompt}", f"{urls} {prompt_en}"
    account = None
    if any(a.draft for a in engine.settings.accounts):
        # trueai's account option IsDraft: the prompt Midjourney gets is a draft, without version flags
        account = engine.dispatch.choose(body.get("accountFilter"), caller.mode)
        if account.draft:
            prompt_en = as_draft(prompt_en)
    recipe, button_set = grid_recipe(prompt_en, engine.views.defaults())
    spec = _new_task(body, Action.IMAGINE, f"/imagine {prompt}", button_set, recipe, prompt=prompt, prompt_en=prompt_en,
                     final_prompt=prompt_en, account=account)
    return _launch(engine, caller, spec, body, outcome, uploads)


def grid_recipe(prompt_en: str, defaults: Defaults) -> tuple[dict[str, Any], str]:
    """The grid an imagine renders, and its buttons: V8.x renders 2K cells with --hd, a V8.1 draft the
    512² images of its batch (the first four: see docs/versions.md); a V7 draft offers Enhance."""
    recipe: dict[str, Any] = {"kind": "grid", "aspect": list(images.parse_aspect(prompt_en))}
    version = version_of(prompt_en, defaults)
    draft = is_draft(prompt_en)
    if draft and version.draft_scale != 1:
        recipe["scale"] = version.draft_scale
    elif wants_hd(prompt_en) and version.hd_factor != 1:
        recipe["scale"] = version.hd_factor
    return recipe, "draft_grid" if draft and version.draft_enhance else "grid"


def _enhance(c: Click) -> tuple[NewTask, Window]:
    """Enhance under a V7 draft grid: the same prompt again at full quality, a grid of its own."""
    base = c.parent.final_prompt or c.parent.prompt_en or ""
    final = without_draft(base)
    recipe = {"kind": "grid", "aspect": list(images.parse_aspect(final))}
    return c.child(c.parent.action, "Enhance", "grid", recipe, final_prompt=final), None  # a grid, as the draft was


# --------------------------------------------------------------------------------------- blend
def blend(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    items = body.get("base64Array")
    if not isinstance(items, list) or not 2 <= len(items) <= 5:
        count = len(items) if isinstance(items, list) else 0
        raise param("base64_list", f"base64Array must hold 2 to 5 images, got {count}")
    if "dimensions" in body and body["dimensions"] is None:
        raise param("dimensions", "dimensions must be PORTRAIT, SQUARE or LANDSCAPE, not null")
    dimensions = body.get("dimensions", "SQUARE")
    if dimensions not in DIMENSIONS:
        raise param("dimensions", f"dimensions must be PORTRAIT, SQUARE or LANDSCAPE, not {dimensions!r}")
    uploads = Uploads(engine, caller)
    paths = [uploads.add(_image(v, f"base64Array[{i}]"), f"blend_{i}") for i, v in enumerate(items)]
    w, h = DIMENSIONS[dimensions]
    prompt = " ".join(f"<{uploads.url(p)}>" for p in paths) + f" --ar {w}:{h}"
    outcome = parse_outcome(caller.outcome)
    spec = _new_task(body, Action.BLEND, f"/blend {{id}} {len(paths)}", "grid",
                     {"kind": "blend", "inputs": paths, "aspect": [w, h]}, prompt=prompt, prompt_en=prompt,
                     final_prompt=prompt, prompt_after_start=True)
    return _launch(engine, caller, spec, body, outcome, uploads)


# --------------------------------------------------------------------------------------- describe
def _describe_spec(source_path: str, picture: Image.Image, ext: str, seed: str, body: dict[str, Any]) -> NewTask:
    text = "\n\n".join(f"{n} {p}" for n, p in zip(("1️⃣", "2️⃣", "3️⃣", "4️⃣"), images.describe(picture, seed),
                                                     strict=True))
    return _new_task(body, Action.DESCRIBE, f"/describe {{id}}.{ext}", "describe",
                     {"kind": "source", "path": source_path}, steps=False, final_prompt=text, reveal_prompt=text,
                     choices=text.split("\n\n"))


def describe(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    if _blank(body.get("base64")) and _blank(body.get("link")):
        raise param("describe_blank", "base64 or link must not be empty")
    if _blank(body.get("base64")):
        try:
            picture = fetch_link(engine, caller, _link(body["link"]), "link")
        except ImageInputError as exc:
            raise param("link_format", str(exc)) from None
    else:
        picture = _image(body.get("base64"), "base64")
    uploads = Uploads(engine, caller)
    path = uploads.add(picture, "describe")
    seed = str(engine.draw())
    with decoded(picture.data) as pixels:  # the whole image, in a decode budget slot
        spec = _describe_spec(path, pixels, picture.ext, seed, body)
    outcome = parse_outcome(caller.outcome)
    return _launch(engine, caller, spec, body, outcome, uploads)


def _link(value: Any) -> str:
    if not is_link(value):
        raise param("link_format", f"link must be an http(s):// URL of an image, not {str(value)[:80]!r}")
    return str(value).strip()


# --------------------------------------------------------------------------------------- shorten
def _shorten_text(prompt: str, seed: str, details: bool) -> tuple[str, list[str]]:
    tokens, shortened = images.shorten(prompt, seed)
    if details:
        weights = [max(0.1, 1.0 - i * 0.13) for i in range(len(tokens))]
        head = "## Important tokens\n" + "\n".join(
            f"{'█' * round(w * 10)} {t} ({w:.2f})" for t, w in zip(tokens, weights, strict=True))
    else:
        head = "## Important tokens\n" + " ".join(f"**{t}**" for t in tokens)
    numbered = [f"{n} {p}" for n, p in zip(("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"), shortened, strict=False)]
    return head + "\n## Shortened prompts\n" + "\n\n".join(numbered), shortened


def shorten(engine: Engine, caller: Caller, body: dict[str, Any], details: bool = False) -> Accepted:
    prompt = body.get("prompt")
    if _blank(prompt) or not isinstance(prompt, str):
        raise param("prompt_blank", "prompt must not be empty")
    prompt = prompt.strip()
    _, prompt_en, outcome = _prompt_outcome(engine, caller, prompt)
    text, shortened = _shorten_text(prompt_en, prompt_en, details)
    spec = _new_task(body, Action.SHORTEN, f"/shorten {prompt}", "shorten", None, prompt=prompt, prompt_en=prompt_en,
                     steps=False, final_prompt=text, choices=shortened, source_prompt=prompt_en)
    return _launch(engine, caller, spec, body, outcome)


# --------------------------------------------------------------------------------------- face swap
def swap_face(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    source, target = body.get("sourceBase64"), body.get("targetBase64")
    if _blank(source):
        raise param("face_blank", "sourceBase64 (the face image) must not be empty")
    if _blank(target):
        raise param("target_blank", "targetBase64 (the target image) must not be empty")
    if source == target:
        raise param("face_same", "sourceBase64 and targetBase64 must be different images")
    uploads = Uploads(engine, caller)
    source_path = uploads.add(_image(source, "sourceBase64"), "face_source")
    target_path = uploads.add(_image(target, "targetBase64"), "face_target")
    outcome = parse_outcome(caller.outcome)
    spec = _new_task(body, Action.SWAP_FACE, "/swap_face {id}", "none",
                     {"kind": "swap", "source": source_path, "target": target_path}, steps=False,
                     bot_type="INSIGHT_FACE")
    return _launch(engine, caller, spec, body, outcome, uploads)


# --------------------------------------------------------------------------------------- upload
def upload(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    items = body.get("base64Array")
    if not isinstance(items, list):
        raise param("base64_list", "base64Array must be a list of data-URL images")
    uploads = Uploads(engine, caller)
    paths = [uploads.add(_image(v, f"base64Array[{i}]"), f"upload_{i}") for i, v in enumerate(items)]
    with engine.transaction():
        engine.dispatch.choose(body.get("filter"), caller.mode)
        uploads.commit()
    return Accepted("ok", [uploads.url(p) for p in paths])


# --------------------------------------------------------------------------------------- action
def _remix(body: dict[str, Any], account_remix: bool, account_auto: bool) -> bool:
    """Does this action open the remix window? (remix on, and not auto-submitted)"""
    flt = body.get("accountFilter") or {}
    on = account_remix or flt.get("remix") is True or body.get("enableRemix") is True
    auto = account_auto or flt.get("remixAutoConsidered") is True
    return on and not auto


def action(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    task_id, custom_id = body.get("taskId"), body.get("customId")
    if _blank(task_id):
        raise param("task_id_blank", "taskId must not be empty")
    if _blank(custom_id) or not isinstance(custom_id, str):
        raise param("custom_id_blank", "customId must not be empty")
    press = parse_custom_id(custom_id)
    with engine.transaction():
        parent = engine.views.task_for(caller, task_id)
        if press is None:
            raise param("custom_id_unknown", f"customId '{custom_id}' is not a Midjourney button id")
        status = engine.views.status_of(parent)
        if status is not Status.SUCCESS:
            raise param("task_status", f"task {parent.id} is {status.value}: buttons can be used only at SUCCESS")
        own = {b["customId"] for b in buttons_for(parent.button_set, parent.message_hash, parent.final_prompt,
                                                  engine.views.defaults())}
        if custom_id not in own:
            raise param("custom_id_unknown", f"customId '{custom_id}' is not one of the buttons of task {parent.id}")
        return press_button(engine, caller, body, parent, press, custom_id)


def _parent_account(engine: Engine, parent: Task, body: dict[str, Any], caller: Caller) -> Account:
    flt = body.get("accountFilter") or {}
    wants_other = not body.get("chooseSameChannel") and any(
        flt.get(k) for k in ("instanceId", "channelId", "remark", "modes"))
    if wants_other:
        return engine.dispatch.choose(flt, caller.mode)
    account = engine.dispatch.account(parent.account_id)
    if account is None or not account.enabled:
        raise AccountDisabled(parent.account_id, parent.id)
    return account


# What a button opens: None (runs at once), "remix" (a window only when remix is on and not auto-submitted),
# or a window it always opens ("custom_zoom", "inpaint", "imagine"), named so /submit/modal knows what to check.
Window = str | None


def _upscale(c: Click) -> tuple[NewTask, Window]:
    recipe = {"kind": "upscale", "parent": c.pid, "index": c.press.index}
    return c.child(Action.UPSCALE, f"U{c.press.index}", "upscaled", recipe, steps=False), None


def _variation(c: Click) -> tuple[NewTask, Window]:
    recipe = {"kind": "variation", "parent": c.pid, "index": c.press.index, "strength": 0.45}
    return c.child(c.legacy_action or Action.VARIATION, f"V{c.press.index}", "grid", recipe), "remix"


def _reroll(c: Click) -> tuple[NewTask, Window]:
    parent = c.parent
    if parent.action not in GRID_ACTIONS or parent.image_recipe is None:
        raise param("reroll_unsupported", f"task {c.pid} ({parent.action.value}) cannot be rerolled")
    action = c.legacy_action or parent.action  # a new grid of the same kind (a blend rerolls as a blend)
    return c.child(action, "R", parent.button_set, dict(parent.image_recipe)), "remix"


def _upscale_hd(c: Click) -> tuple[NewTask, Window]:
    up = upscaler(f"upsample_{c.press.detail}")
    assert up is not None  # the grammar only matches upscalers of the version table
    recipe = {"kind": "upscale_hd", "parent": c.pid, "factor": up.factor}
    return c.child(Action.UPSCALE, up.label, "upscaled", recipe), None


def _vary(c: Click) -> tuple[NewTask, Window]:
    strong = c.press.detail == "high_variation"
    recipe = {"kind": "variation", "parent": c.pid, "index": 0, "strength": 0.6 if strong else 0.25}
    return c.child(Action.VARIATION, f"Vary ({'Strong' if strong else 'Subtle'})", "grid", recipe), "remix"


def _inpaint(c: Click) -> tuple[NewTask, Window]:
    return c.child(Action.VARIATION, "Vary (Region)", "grid", {"kind": "inpaint", "parent": c.pid}), "inpaint"


def _zoom(c: Click) -> tuple[NewTask, Window]:
    factor = 2.0 if c.press.detail == "50" else 1.5
    recipe = {"kind": "zoom", "parent": c.pid, "factor": factor}
    return c.child(Action.ZOOM, f"Zoom Out {'2x' if factor == 2.0 else '1.5x'}", "grid", recipe), None


def _custom_zoom(c: Click) -> tuple[NewTask, Window]:
    base = c.parent.final_prompt or c.parent.prompt_en or ""
    spec = c.child(Action.ZOOM, "Custom Zoom", "grid", {"kind": "zoom", "parent": c.pid, "factor": 2.0},
                   final_prompt=f"{_without_zoom(base)} --zoom 2")  # the window comes prefilled with --zoom 2
    return spec, "custom_zoom"


def _pan(c: Click) -> tuple[NewTask, Window]:
    recipe = {"kind": "pan", "parent": c.pid, "direction": c.press.detail}
    return c.child(Action.PAN, PAN_LABEL[c.press.detail], "grid", recipe), "remix"


def _picreader(c: Click) -> tuple[NewTask, Window]:
    choice = c.parent.choices[c.press.index - 1]
    return c.imagine(re.sub(r"^\S+\s", "", choice, count=1)), "imagine"  # without the number emoji


def _picread_retry(c: Click) -> tuple[NewTask, Window]:
    source = c.parent.image_recipe["path"] if c.parent.image_recipe else ""
    with decoded((c.engine.attachments.upload(source) or (b"", ""))[0]) as picture:
        spec = _describe_spec(source, picture, source.rsplit(".", 1)[-1], str(c.engine.draw()), c.body)
    spec.parent, spec.custom_id, spec.account = c.parent, c.custom_id, c.account
    return spec, None


def _prompt_analyzer(c: Click) -> tuple[NewTask, Window]:
    choices = c.parent.choices
    text = choices[c.press.index - 1] if c.press.index <= len(choices) else c.parent.prompt_en or ""
    return c.imagine(text), "imagine"


def _show_details(c: Click) -> tuple[NewTask, Window]:
    source = c.parent.source_prompt or c.parent.prompt_en or ""
    text, shortened = _shorten_text(source, source, details=True)
    spec = c.child(Action.SHORTEN, "Show Details", "shorten", None, steps=False, final_prompt=text,
                   choices=shortened, source_prompt=source)
    return spec, None


BUTTONS: dict[str, Callable[[Click], tuple[NewTask, Window]]] = {
    "upscale": _upscale, "variation": _variation, "reroll": _reroll, "upscale_hd": _upscale_hd, "vary": _vary,
    "inpaint": _inpaint, "zoom": _zoom, "custom_zoom": _custom_zoom, "pan": _pan, "picreader": _picreader,
    "picread_retry": _picread_retry, "prompt_analyzer": _prompt_analyzer, "show_details": _show_details,
    "enhance": _enhance,
    **VIDEO_BUTTONS,
}


def press_button(engine: Engine, caller: Caller, body: dict[str, Any], parent: Task, press: Press,
                 custom_id: str, legacy_action: Action | None = None) -> Accepted:
    if press.kind == "bookmark":
        return Accepted("ok", parent.id)  # Midjourney just hearts the image: no new task
    account = _parent_account(engine, parent, body, caller)
    click = Click(engine, body, parent, press, custom_id, account, legacy_action)
    spec, window = BUTTONS[press.kind](click)
    remix = _remix(body, account.remix, account.remix_auto_submit)
    spec.modal = window is not None and (window != "remix" or remix)
    spec.modal_kind = window or "remix"
    outcome = parse_outcome(caller.outcome)
    return _launch(engine, caller, spec, body, outcome)


def _without_zoom(prompt: str) -> str:
    # the whitespace before each `--zoom` goes with it; stripped by hand, since a leading `\s*` in the
    # pattern would rescan every run of spaces from each of its characters (quadratic)
    kept, last = [], 0
    for m in _ZOOM_PARAMETER.finditer(prompt):
        kept.append(prompt[last:m.start()].rstrip())
        last = m.end()
    kept.append(prompt[last:])
    return "".join(kept).strip()


# --------------------------------------------------------------------------------------- modal
def modal(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    task_id = body.get("taskId")
    if _blank(task_id):
        raise param("task_id_blank", "taskId must not be empty")
    with engine.transaction():
        task = _modal_task(engine, caller, task_id)
        prompt = body.get("prompt")
        prompt = prompt.strip() if isinstance(prompt, str) and prompt.strip() else (task.final_prompt or "")
        kind = task.modal_kind
        parent_id = (task.image_recipe or {}).get("parent")
    if not prompt:
        raise param("prompt_blank", "prompt must not be empty (and the task has no prompt to fall back to)")
    recipe: dict[str, Any] = {}
    uploads: list[tuple[str, bytes, str]] = []
    if kind == "custom_zoom":
        zoom = parse_zoom(prompt)
        if zoom is None or not 1.0 <= zoom <= 2.0:
            raise param("zoom", "Custom Zoom needs --zoom with a value between 1 and 2 in the prompt")
        recipe["factor"] = zoom
    if kind == "inpaint":
        mask_value = body.get("maskBase64")
        if _blank(mask_value):
            raise param("mask_blank", "maskBase64 must not be empty: Vary (Region) needs a mask")
        # the parent's size may need its image rendered: done outside the lock, it is deterministic
        try:
            parent_size = engine.gallery.size(parent_id) if parent_id else (512, 512)
        except SourceGone:
            raise param("parent_gone", f"the image of task {parent_id} can no longer be drawn: a task it was "
                        "made from was forgotten (max_tasks)") from None
        try:
            mask = decode_mask(with_data_prefix(mask_value), "maskBase64", parent_size)  # prefix optional
        except ImageInputError as exc:
            raise param("mask_format", str(exc)) from None
        buffer = io.BytesIO()
        mask.save(buffer, format="PNG")
        path = f"/attachments/{task.account_id}/{task.message_id}/mask_{task.message_hash}.png"
        uploads.append((path, buffer.getvalue(), "image/png"))
        recipe["mask"] = path
    updates: dict[str, Any] = {}
    if not _blank(body.get("notifyHook")):
        updates["notifyHook"] = body["notifyHook"]
    if body.get("state") is not None:
        updates["state"] = str(body["state"])
    with engine.transaction():
        _modal_task(engine, caller, task_id)  # still waiting? (it may have been cancelled meanwhile)
        return engine.confirm_modal(caller, task.id, prompt, recipe, updates, uploads)


def _modal_task(engine: Engine, caller: Caller, task_id: Any) -> Task:
    task = engine.views.task_for(caller, task_id)
    status = engine.views.status_of(task)
    if status is not Status.MODAL:
        raise param("task_status", f"task {task.id} is {status.value}, not MODAL: there is no window to confirm")
    return task


# --------------------------------------------------------------------------------------- legacy change
def change(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    task_id, wanted = body.get("taskId"), body.get("action")
    if _blank(task_id):
        raise param("task_id_blank", "taskId must not be empty")
    if wanted not in ("UPSCALE", "VARIATION", "REROLL"):
        raise param("action_invalid", "action must be UPSCALE, VARIATION or REROLL")
    index = body.get("index")
    with engine.transaction():
        parent = engine.views.task_for(caller, task_id)
        status = engine.views.status_of(parent)
        if status is not Status.SUCCESS:
            raise param("task_status", f"task {parent.id} is {status.value}, not SUCCESS")
        if parent.action not in (Action.IMAGINE, Action.VARIATION, Action.REROLL, Action.BLEND):
            raise param("task_not_changeable", f"task {parent.id} ({parent.action.value}) cannot be changed")
        h = parent.message_hash
        if wanted == "REROLL":
            press, custom_id = Press("reroll", 0, h), f"MJ::JOB::reroll::0::{h}::SOLO"
        else:
            if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= 4:
                raise param("index", "index must be an integer from 1 to 4 for UPSCALE and VARIATION")
            kind = "upscale" if wanted == "UPSCALE" else "variation"
            press = Press(kind, index, h)
            custom_id = f"MJ::JOB::{'upsample' if kind == 'upscale' else 'variation'}::{index}::{h}"
        legacy = Action.REROLL if wanted == "REROLL" else None
        return press_button(engine, caller, body, parent, press, custom_id, legacy_action=legacy)


def parse_simple_change(content: Any) -> tuple[str, str, int | None]:
    """"<taskId> U2" → (taskId, action, index), by upstream's rules (only the 2nd character counts)."""
    if not isinstance(content, str):
        raise param("content_invalid", "content must look like '<taskId> U1' (U1-U4, V1-V4 or R)")
    parts = content.split(" ")
    if len(parts) != 2 or not parts[0]:
        raise param("content_invalid", "content must be '<taskId> <U1-U4|V1-V4|R>' separated by one space")
    task_id, op = parts[0], parts[1].lower()
    if op == "r":
        return task_id, "REROLL", None
    if len(op) >= 2 and op[0] in "uv" and op[1] in "1234":
        return task_id, "UPSCALE" if op[0] == "u" else "VARIATION", int(op[1])
    raise param("content_invalid", f"'{parts[1]}' is not U1-U4, V1-V4 or R")


def simple_change(engine: Engine, caller: Caller, body: dict[str, Any]) -> Accepted:
    task_id, wanted, index = parse_simple_change(body.get("content"))
    return change(engine, caller, {**body, "taskId": task_id, "action": wanted, "index": index})
