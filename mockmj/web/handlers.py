"""One short function per operationId. Each reads what it needs from the request context, calls the
engine, and returns a Reply; refusals raised by the core are rendered by the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import NotFound

from mockmj.engine.facade import Caller, Engine
from mockmj.engine.submissions import submit as submissions
from mockmj.engine.submissions import video as video_submissions
from mockmj.model.dialects import Dialect
from mockmj.model.errors import Refusal, TaskNotFound
from mockmj.web.render import Reply, accepted, envelope

if TYPE_CHECKING:
    from mockmj.web.finished import FinishedTasks


@dataclass
class Context:
    engine: Engine
    caller: Caller
    body: dict[str, Any]
    path_params: dict[str, str]
    spec_text: str
    docs_html: Callable[[], str]
    path: str
    finished: FinishedTasks  # the rendered JSON of finished tasks
    rule: dict[str, Any] | None = None  # a control rule that matched (set by the rules hook, for the journal)

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect


Handler = Callable[[Context], Reply]


def _submit(operation: Callable[[Engine, Caller, dict[str, Any]], Any]) -> Handler:
    def handle(ctx: Context) -> Reply:
        return accepted(ctx.dialect, operation(ctx.engine, ctx.caller, ctx.body))

    handle.__doc__ = operation.__doc__
    return handle


def fetch_task(ctx: Context) -> Reply:
    read_at = ctx.finished.generation  # before the read: a reset racing it must not leave its view behind
    view = ctx.engine.fetch(ctx.caller, ctx.path_params["id"])
    if view is not None:
        return Reply(200, view, rendered=ctx.finished.rendered(view, ctx.caller.origin, read_at))
    if ctx.dialect.unknown_fetch == "empty":
        return Reply(200, empty=True)  # Spring writes a null return value as an empty body
    raise TaskNotFound(ctx.path_params["id"])


def list_by_ids(ctx: Context) -> Reply:
    ids = ctx.body.get("ids")
    return Reply(200, ctx.engine.list_by_ids(ctx.caller, ids if isinstance(ids, list) else []))


def list_tasks(ctx: Context) -> Reply:
    return Reply(200, ctx.engine.list_all(ctx.caller))


def list_queue(ctx: Context) -> Reply:
    return Reply(200, ctx.engine.queue(ctx.caller))


def image_seed(ctx: Context) -> Reply:
    seed = ctx.engine.image_seed(ctx.caller, ctx.path_params["id"])
    return Reply(200, envelope(ctx.dialect.code("seed"), ctx.dialect.messages["seed"], seed))


def cancel_task(ctx: Context) -> Reply:
    return accepted(ctx.dialect, ctx.engine.cancel(ctx.caller, ctx.path_params["id"]))


def attachment(ctx: Context) -> Reply:
    found = ctx.engine.gallery.attachment(ctx.path)
    if found is None:
        if ctx.dialect.missing_attachment == "http":
            raise NotFound()  # a file the server does not have: Spring's plain 404, not a business answer
        raise Refusal("not_found", f"no image at {ctx.path}")
    data, mime = found
    return Reply(200, raw=data, mimetype=mime, headers={"Cache-Control": "public, max-age=31536000"})


def openapi_document(ctx: Context) -> Reply:
    return Reply(200, raw=ctx.spec_text.encode("utf-8"), mimetype="application/yaml")


def docs_page(ctx: Context) -> Reply:
    return Reply(200, raw=ctx.docs_html().encode("utf-8"), mimetype="text/html")


HANDLERS: dict[str, Handler] = {
    "submitImagine": _submit(submissions.imagine),
    "submitBlend": _submit(submissions.blend),
    "submitDescribe": _submit(submissions.describe),
    "submitShorten": _submit(submissions.shorten),
    "submitModal": _submit(submissions.modal),
    "submitAction": _submit(submissions.action),
    "submitChange": _submit(submissions.change),
    "submitSimpleChange": _submit(submissions.simple_change),
    "uploadDiscordImages": _submit(submissions.upload),
    "submitSwapFace": _submit(submissions.swap_face),
    "submitVideo": _submit(video_submissions.video),
    "submitEdits": _submit(video_submissions.edits),
    "submitEdit": _submit(video_submissions.edits),
    "submitRetexture": _submit(video_submissions.retexture),
    "listTasksByCondition": list_by_ids,
    "listTasksByIds": list_by_ids,
    "listTasks": list_tasks,
    "listTaskQueue": list_queue,
    "fetchTask": fetch_task,
    "getImageSeed": image_seed,
    "cancelTask": cancel_task,
    "getAttachment": attachment,
    "getOpenApiDocument": openapi_document,
    "getDocsPage": docs_page,
}
