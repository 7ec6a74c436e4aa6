"""WSGI middlewares that break one promise of the API each, to prove the contract suite notices.

Each corruption wraps a WSGI app (the forwarding proxy of proxy.py in front of a real `mockmj serve`, or the
in-process mock's app through `start_mock(app_wrapper=...)`), rewrites requests or responses, and names the
clause that must fail because of it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Wsgi = Callable[..., Iterable[bytes]]
Rewrite = Callable[[dict[str, Any], "Reply"], None]


@dataclass
class Reply:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    request_body: bytes = b""

    @property
    def code(self) -> int:
        return int(self.status.split()[0])

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def set_json(self, data: Any, compact: bool = True) -> None:
        if compact:
            self.body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        else:
            self.body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
        self.set_header("Content-Type", "application/json")

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()] + [(name, value)]


def rewriting(rewrite: Rewrite, before: Callable[[dict[str, Any]], None] | None = None) -> Callable[[Wsgi], Wsgi]:
    """A middleware factory: buffer the app's answer, let `rewrite` change it, fix Content-Length."""

    def wrap(app: Wsgi) -> Wsgi:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
            if before is not None:
                before(environ)
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
                captured["status"], captured["headers"] = status, list(headers)
                return lambda data: None

            chunks = app(environ, capture)
            try:
                body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()
            reply = Reply(captured["status"], captured["headers"], body, raw)
            rewrite(environ, reply)
            reply.set_header("Content-Length", str(len(reply.body)))
            start_response(reply.status, reply.headers)
            return [reply.body]

        return middleware

    return wrap


def _path(environ: dict[str, Any]) -> str:
    return str(environ.get("PATH_INFO", ""))


def _is_task_read(environ: dict[str, Any]) -> bool:
    p = _path(environ)
    return p.endswith("/fetch") or p.endswith("/list-by-condition") or p.endswith("/list-by-ids")


def _tasks_of(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and "status" in data:
        return [data]
    if isinstance(data, list):
        return [t for t in data if isinstance(t, dict)]
    return []


def on_tasks(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    """Apply `change` to every task object in fetch / list-by-condition answers."""

    def rewrite(environ: dict[str, Any], reply: Reply) -> None:
        if not _is_task_read(environ):
            return
        data = reply.json()
        tasks = _tasks_of(data)
        if tasks:
            for t in tasks:
                change(t)
            reply.set_json(data)

    return rewrite


# -- the corruptions ---------------------------------------------------------------------------------
def drop_prompt_en(task: dict[str, Any]) -> None:
    task.pop("promptEn", None)


def rename_in_progress(task: dict[str, Any]) -> None:
    if task.get("status") == "IN_PROGRESS":
        task["status"] = "RUNNING"


def progress_backwards(task: dict[str, Any]) -> None:
    m = re.fullmatch(r"(\d+)%", str(task.get("progress")))
    if task.get("status") == "IN_PROGRESS" and m and int(m.group(1)) > 0:
        task["progress"] = f"{100 - int(m.group(1))}%"


def finish_before_start(task: dict[str, Any]) -> None:
    if task.get("status") == "SUCCESS" and isinstance(task.get("submitTime"), int):
        task["finishTime"] = task["submitTime"] - 1000


def buttons_without_hash(task: dict[str, Any]) -> None:
    for b in task.get("buttons") or []:
        if isinstance(b, dict) and b.get("label"):
            b["customId"] = f"button-{b['label']}"


def code_one_for_bad_body(environ: dict[str, Any], reply: Reply) -> None:
    if environ.get("REQUEST_METHOD") != "POST" or not _path(environ).endswith("/mj/submit/imagine"):
        return
    try:
        sent = json.loads(reply.request_body or b"null")
    except ValueError:
        sent = None
    if not isinstance(sent, dict) or not isinstance(sent.get("prompt"), str):
        reply.status = "200 OK"
        reply.set_json({"code": 1, "description": "Submitted successfully", "result": "1795400000000001",
                        "properties": {}})


def numeric_result(environ: dict[str, Any], reply: Reply) -> None:
    if "/mj/submit/" not in _path(environ):
        return
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("result"), str) and data["result"].isdigit():
        data["result"] = int(data["result"])
        reply.set_json(data)


def broken_image(environ: dict[str, Any], reply: Reply) -> None:
    if _path(environ).startswith("/attachments/") and reply.code == 200:
        reply.body = b"\x89PNG\r\n\x1a\nthis is not really a png"


def spaced_json(environ: dict[str, Any], reply: Reply) -> None:
    data = reply.json()
    if data is not None and reply.body.strip():
        reply.set_json(data, compact=False)


@dataclass
class TerminalRegress:
    """The second time a finished task is fetched, it claims to be running again."""

    seen: set[str] = field(default_factory=set)

    def __call__(self, environ: dict[str, Any], reply: Reply) -> None:
        if not _path(environ).endswith("/fetch"):
            return
        data = reply.json()
        if isinstance(data, dict) and data.get("status") == "SUCCESS":
            if data.get("id") in self.seen:
                data["status"], data["progress"] = "IN_PROGRESS", "93%"
                reply.set_json(data)
            self.seen.add(str(data.get("id")))


def list_returns_nothing(environ: dict[str, Any], reply: Reply) -> None:
    if _path(environ).endswith("/list-by-condition") and reply.code == 200:
        reply.set_json([])


def server_error_on_unknown_task_action(environ: dict[str, Any], reply: Reply) -> None:
    if _path(environ).endswith("/mj/submit/action") and reply.code == 404:
        reply.status = "500 Internal Server Error"
        reply.set_json({"code": 23, "description": "boom", "result": None, "properties": {}})


def error_without_result(environ: dict[str, Any], reply: Reply) -> None:
    data = reply.json()
    if reply.code >= 400 and isinstance(data, dict) and "result" in data:
        del data["result"]
        reply.set_json(data)


def accept_missing_key(environ: dict[str, Any]) -> None:
    if not environ.get("HTTP_AUTHORIZATION") and not environ.get("HTTP_MJ_API_SECRET"):
        environ["HTTP_AUTHORIZATION"] = "Bearer sneaked-in"


def one_shared_tenant(environ: dict[str, Any]) -> None:
    """Every key is mapped to the same tenant: one key reads another's tasks."""
    if environ.get("HTTP_AUTHORIZATION") or environ.get("HTTP_MJ_API_SECRET"):
        environ.pop("HTTP_MJ_API_SECRET", None)
        environ["HTTP_AUTHORIZATION"] = "Bearer the-one-tenant"


def _noop(environ: dict[str, Any], reply: Reply) -> None:
    return


# -- corruptions of the clauses added for the documented sentences (contracts/test_documented.py) ----------
def style_as_text(task: dict[str, Any]) -> None:
    for b in task.get("buttons") or []:
        if isinstance(b, dict):
            b["style"] = "primary"


def prompt_rewritten(task: dict[str, Any]) -> None:
    if task.get("action") == "IMAGINE" and isinstance(task.get("prompt"), str):
        task["prompt"] = task["prompt"].upper()


def description_lost(task: dict[str, Any]) -> None:
    if task.get("action") == "DESCRIBE" and task.get("status") == "SUCCESS":
        task["prompt"] = task["promptEn"] = ""


def _rewrite_body(environ: dict[str, Any], change: Callable[[dict[str, Any]], None], suffix: str) -> None:
    if not _path(environ).endswith(suffix):
        return
    raw = environ["wsgi.input"].read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        change(body)
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))


def dimensions_ignored(environ: dict[str, Any]) -> None:
    """The blend's `dimensions` never reaches the mock: every blend comes out square."""
    def change(body: dict[str, Any]) -> None:
        if "dimensions" in body:
            body["dimensions"] = "SQUARE"
    _rewrite_body(environ, change, "/mj/submit/blend")


def upload_result_as_string(environ: dict[str, Any], reply: Reply) -> None:
    data = reply.json()
    if _path(environ).endswith("/upload-discord-images") and isinstance(data, dict) and isinstance(
            data.get("result"), list) and data["result"]:
        data["result"] = data["result"][0]
        reply.set_json(data)


def _accepts_when(reply: Reply, bad: bool) -> None:
    """Answer a refused submission as if it had been accepted."""
    if bad and reply.json() is not None and (reply.code >= 400 or (reply.json() or {}).get("code") != 1):
        reply.status = "200 OK"
        reply.set_json({"code": 1, "description": "Submitted successfully", "result": "1795400000000002",
                        "properties": {}})


def _sent(reply: Reply) -> Any:
    try:
        return json.loads(reply.request_body or b"null")
    except ValueError:
        return None


def swap_with_one_image(environ: dict[str, Any], reply: Reply) -> None:
    sent = _sent(reply)
    if _path(environ).endswith("/insight-face/swap") and isinstance(sent, dict):
        _accepts_when(reply, not (sent.get("sourceBase64") and sent.get("targetBase64")))


def bare_base64_accepted(environ: dict[str, Any], reply: Reply) -> None:
    sent = _sent(reply)
    if _path(environ).endswith("/mj/submit/imagine") and isinstance(sent, dict):
        images = sent.get("base64Array") or []
        _accepts_when(reply, any(isinstance(i, str) and not i.startswith("data:") for i in images))


def reference_urls_dropped(task: dict[str, Any]) -> None:
    text = task.get("promptEn")
    if isinstance(text, str) and text.startswith("http"):
        task["promptEn"] = " ".join(w for w in text.split(" ") if not w.startswith("http"))


def cancel_lost(environ: dict[str, Any]) -> None:
    """The cancel never reaches the task (it goes to an id nobody has), and the rewrite below says it did."""
    if _path(environ).endswith("/cancel"):
        environ["PATH_INFO"] = "/mj/task/9999999999999999/cancel"


def cancel_claimed(environ: dict[str, Any], reply: Reply) -> None:
    if _path(environ).endswith("/cancel"):
        reply.status = "200 OK"
        reply.set_json({"code": 1, "description": "Submitted successfully", "result": None, "properties": {}})


def webp_refused(environ: dict[str, Any], reply: Reply) -> None:
    if _path(environ).endswith("/mj/submit/describe") and b"data:image/webp" in reply.request_body:
        reply.status = "200 OK"
        reply.set_json({"code": 21, "description": "Parameter error: unsupported image format", "result": None,
                        "properties": {}})


# -- corruptions of what the API promises today (contracts/test_today.py and the checks on every answer) ------
def v6_ids_on_v7(task: dict[str, Any]) -> None:
    """A relay that serves V7 upscalers with V6 ids."""
    for b in task.get("buttons") or []:
        if isinstance(b, dict) and isinstance(b.get("customId"), str):
            b["customId"] = b["customId"].replace("upsample_v7_", "upsample_v6_")


def animate_on_v5(task: dict[str, Any]) -> None:
    """Animate offered on a V5 upscale, which has none."""
    buttons = task.get("buttons")
    version = str(task.get("version") or "").removeprefix("v").strip()  # "5.2", or trueai's "v 5.2"
    if version == "5.2" and isinstance(buttons, list) and buttons:
        h = (task.get("properties") or {}).get("messageHash") or "0" * 8
        buttons.append({"customId": f"MJ::JOB::animate_low::1::{h}::SOLO", "emoji": "🎞️",
                        "label": "Animate (Low motion)", "type": 2, "style": 2})


def pan_refused(environ: dict[str, Any], reply: Reply) -> None:
    """An offered pan button is refused when pressed."""
    sent = _sent(reply)
    if _path(environ).endswith("/mj/submit/action") and isinstance(sent, dict) and "::pan_" in str(
            sent.get("customId")):
        reply.status = "200 OK"
        reply.set_json({"code": 21, "description": "Parameter error: unknown customId", "result": None,
                        "properties": {}})


def ar_ignored(environ: dict[str, Any]) -> None:
    """`--ar` never reaches Midjourney: every grid is square."""
    def change(body: dict[str, Any]) -> None:
        if isinstance(body.get("prompt"), str):
            body["prompt"] = re.sub(r"--ar\s+\S+", "", body["prompt"])
    _rewrite_body(environ, change, "/mj/submit/imagine")


def prompt_truncated(environ: dict[str, Any]) -> None:
    """A relay that cuts long prompts instead of refusing them."""
    def change(body: dict[str, Any]) -> None:
        if isinstance(body.get("prompt"), str):
            body["prompt"] = body["prompt"][:6000]
    _rewrite_body(environ, change, "/mj/submit/imagine")


def one_video_only(task: dict[str, Any]) -> None:
    """Three of four videos dropped."""
    for key in ("videoUrls", "imageUrls"):
        if isinstance(task.get(key), list) and len(task[key]) > 1:
            task[key] = task[key][:1]


def edit_as_imagine(task: dict[str, Any]) -> None:
    if task.get("action") in ("EDIT", "RETEXTURE"):
        task["action"] = "IMAGINE"


def link_refused(environ: dict[str, Any], reply: Reply) -> None:
    sent = _sent(reply)
    if _path(environ).endswith("/mj/submit/describe") and isinstance(sent, dict) and sent.get("link"):
        reply.status = "200 OK"
        reply.set_json({"code": 21, "description": "Parameter error: base64 is required", "result": None,
                        "properties": {}})


def list_truncated(environ: dict[str, Any], reply: Reply) -> None:
    data = reply.json()
    if _path(environ).endswith("/mj/task/list") and isinstance(data, list) and len(data) > 50:
        reply.set_json(data[:50])


def too_large_as_400(environ: dict[str, Any], reply: Reply) -> None:
    if reply.code == 413:
        reply.status = "400 Bad Request"
        reply.set_json({"code": 21, "description": "Parameter error: bad body", "result": None, "properties": {}})


def errors_say_code_one(environ: dict[str, Any], reply: Reply) -> None:
    """Errors answered with `code: 1`, as a relay that copies the upstream's status but not its code."""
    data = reply.json()
    if reply.code >= 400 and isinstance(data, dict) and "code" in data:
        data["code"] = 1
        reply.set_json(data)


def hundred_percent_early(task: dict[str, Any]) -> None:
    if task.get("status") == "IN_PROGRESS":
        task["progress"] = "100%"


def relative_media(task: dict[str, Any]) -> None:
    url = task.get("imageUrl")
    if isinstance(url, str) and url.startswith("http"):
        task["imageUrl"] = "/" + url.split("/", 3)[3]


def fetch_differs_from_callback(task: dict[str, Any]) -> None:
    """Fetch shows a finished task other than its callback did (a relay that rewrites what it polls)."""
    if task.get("status") == "SUCCESS" and isinstance(task.get("description"), str):
        task["description"] += " (relayed)"


def thumbnails_broken(environ: dict[str, Any], reply: Reply) -> None:
    if _path(environ).endswith(".webp") and reply.code == 200:
        reply.body = b"RIFF\x00\x00\x00\x00WEBPnot really"


# -- corruptions of the first clauses that had none ---------------------------------------------------------
def on_submits(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    """Apply `change` to every envelope a submission answers."""

    def rewrite(environ: dict[str, Any], reply: Reply) -> None:
        data = reply.json()
        if "/mj/submit/" in _path(environ) and isinstance(data, dict) and "code" in data:
            change(data)
            reply.set_json(data)

    return rewrite


def code_as_text(data: dict[str, Any]) -> None:
    data["code"] = str(data["code"])


def accepted_says_ok(data: dict[str, Any]) -> None:
    if data.get("code") == 1:
        data["description"] = "OK"


def modal_says_ok(data: dict[str, Any]) -> None:
    if data.get("code") == 21 and data.get("result"):
        data["description"] = "OK"


def action_lowercase(task: dict[str, Any]) -> None:
    if isinstance(task.get("action"), str):
        task["action"] = task["action"].lower()


def state_lost(task: dict[str, Any]) -> None:
    task["state"] = None


def progress_without_percent(task: dict[str, Any]) -> None:
    if task.get("status") == "IN_PROGRESS" and isinstance(task.get("progress"), str):
        task["progress"] = task["progress"].rstrip("%")


def no_v4(task: dict[str, Any]) -> None:
    if isinstance(task.get("buttons"), list):
        task["buttons"] = [b for b in task["buttons"] if not (isinstance(b, dict) and b.get("label") == "V4")]


def failure_without_reason(task: dict[str, Any]) -> None:
    if task.get("status") == "FAILURE":
        task["failReason"] = None


def unknown_task_found(environ: dict[str, Any], reply: Reply) -> None:
    if _path(environ).endswith("/fetch") and reply.code == 404:
        reply.status = "200 OK"
        reply.set_json({})


def vague_messages(data: dict[str, Any]) -> None:
    if data.get("code") in (4, 21) and not data.get("result"):
        data["description"] = "Parameter error"


def bearer_ignored(environ: dict[str, Any]) -> None:
    """The documented header is not read (as a deployment that wants its own header)."""
    environ.pop("HTTP_AUTHORIZATION", None)


def hooks_lost(environ: dict[str, Any]) -> None:
    """notifyHook never reaches the proxy: no callback is ever sent."""
    def change(body: dict[str, Any]) -> None:
        body.pop("notifyHook", None)
    _rewrite_body(environ, change, "/mj/submit/imagine")


def video_without_content_type(task: dict[str, Any]) -> None:
    if task.get("action") == "VIDEO":
        task["contentType"] = None


def video_without_prompt_accepted(environ: dict[str, Any], reply: Reply) -> None:
    sent = _sent(reply)
    if _path(environ).endswith("/mj/submit/video") and isinstance(sent, dict):
        _accepts_when(reply, not str(sent.get("prompt") or "").strip())


def description_lost_on_submit(data: dict[str, Any]) -> None:
    data["description"] = None


def properties_null(data: dict[str, Any]) -> None:
    data["properties"] = None


def describe_of_text_accepted(environ: dict[str, Any], reply: Reply) -> None:
    sent = _sent(reply)
    if _path(environ).endswith("/mj/submit/describe") and isinstance(sent, dict):
        _accepts_when(reply, not str(sent.get("base64") or "").startswith("data:") and not sent.get("link"))


def foreign_custom_id_accepted(environ: dict[str, Any], reply: Reply) -> None:
    """A customId the task does not offer (or a task that does not exist) is answered as accepted."""
    if _path(environ).endswith("/mj/submit/action"):
        _accepts_when(reply, True)


def extend_refused(environ: dict[str, Any], reply: Reply) -> None:
    sent = _sent(reply)
    if _path(environ).endswith("/mj/submit/video") and isinstance(sent, dict) and sent.get("action") == "extend":
        reply.status = "200 OK"
        reply.set_json({"code": 21, "description": "Parameter error: extend is not supported", "result": None,
                        "properties": {}})


def upscale_reported_as_variation(task: dict[str, Any]) -> None:
    if task.get("action") == "UPSCALE":
        task["action"] = "VARIATION"


# The keys the self-test lists on its `mockmj serve` (tests/test_contract_mutations.py): KEY_PREFIX + a number.
KEY_PREFIX = "mutation-key-"


def every_key_let_in(environ: dict[str, Any]) -> None:
    """A key the deployment does not know is taken for one it does: a wrong key gets in."""
    for header, prefix in (("HTTP_AUTHORIZATION", "Bearer "), ("HTTP_MJ_API_SECRET", "")):
        value = environ.get(header)
        if value and not value.removeprefix(prefix).startswith(KEY_PREFIX):
            environ[header] = f"{prefix}{KEY_PREFIX}0"


@dataclass(frozen=True)
class Corruption:
    name: str
    make: Callable[[], Callable[[Wsgi], Wsgi]]
    clause: str  # the clause that must fail
    select: str  # what the run selects (--mj-clauses)
    dialect: str = "88api"
    mode: str = ""  # "keyed" or "any-key" (the target's auth); "" lets the self-test alternate


CORRUPTIONS: tuple[Corruption, ...] = (
    Corruption("drops a task field", lambda: rewriting(on_tasks(drop_prompt_en)), "TASK-1", "TASK-1"),
    Corruption("renames a status", lambda: rewriting(on_tasks(rename_in_progress)), "TASK-2", "TASK-2"),
    Corruption("progress goes backwards", lambda: rewriting(on_tasks(progress_backwards)), "LIFE-4", "LIFE-4"),
    Corruption("finishTime before submitTime", lambda: rewriting(on_tasks(finish_before_start)), "LIFE-5",
               "LIFE-5"),
    Corruption("leaves a terminal state", lambda: rewriting(TerminalRegress()), "LIFE-2", "LIFE-2"),
    Corruption("answers code 1 for a bad body", lambda: rewriting(code_one_for_bad_body), "BAD-2", "BAD-2"),
    Corruption("serves a broken image", lambda: rewriting(broken_image), "LIFE-6", "LIFE-6"),
    Corruption("returns result as a number", lambda: rewriting(numeric_result), "ENV-3", "ENV-3"),
    Corruption("pretty-prints JSON", lambda: rewriting(spaced_json), "ENV-5", "BAD-4"),
    Corruption("buttons outside the Discord grammar", lambda: rewriting(on_tasks(buttons_without_hash)), "LIFE-7",
               "LIFE-7"),
    Corruption("list-by-condition finds nothing", lambda: rewriting(list_returns_nothing), "LIFE-10", "LIFE-10"),
    Corruption("5xx for an action on an unknown task", lambda: rewriting(server_error_on_unknown_task_action),
               "BAD-1", "BAD-5"),
    Corruption("error body without result", lambda: rewriting(error_without_result), "ENV-6", "BAD-4"),
    # both make up a key, which only a target that takes any key lets in
    Corruption("no key is let in", lambda: rewriting(_noop, before=accept_missing_key), "AUTH-1", "AUTH-1",
               mode="any-key"),
    Corruption("all keys share one tenant", lambda: rewriting(_noop, before=one_shared_tenant), "AUTH-3",
               "AUTH-3", mode="any-key"),
    Corruption("button style as text", lambda: rewriting(on_tasks(style_as_text)), "TASK-5", "TASK-5"),
    Corruption("prompt rewritten", lambda: rewriting(on_tasks(prompt_rewritten)), "TASK-6", "TASK-6"),
    Corruption("blend dimensions ignored", lambda: rewriting(_noop, before=dimensions_ignored), "LIFE-13",
               "LIFE-13"),
    Corruption("describe without its text", lambda: rewriting(on_tasks(description_lost)), "LIFE-14", "LIFE-14"),
    Corruption("upload result as a string", lambda: rewriting(upload_result_as_string), "ENV-8", "ENV-8"),
    Corruption("WEBP refused", lambda: rewriting(webp_refused), "IMG-1", "IMG-1"),
    Corruption("face swap with one image accepted", lambda: rewriting(swap_with_one_image), "BAD-7", "BAD-7"),
    Corruption("Imagine image without MIME prefix accepted", lambda: rewriting(bare_base64_accepted), "BAD-8",
               "BAD-8"),
    Corruption("a cancel that changes nothing", lambda: rewriting(cancel_claimed, before=cancel_lost), "LIFE-16",
               "LIFE-16"),
    Corruption("reference image URL dropped from promptEn", lambda: rewriting(on_tasks(reference_urls_dropped)),
               "LIFE-15", "LIFE-15"),
    # the first clauses that had no corruption of their own
    Corruption("code as text", lambda: rewriting(on_submits(code_as_text)), "ENV-1", "ENV-1"),
    Corruption("code 1 described as OK", lambda: rewriting(on_submits(accepted_says_ok)), "ENV-7", "ENV-7"),
    Corruption("action in lower case", lambda: rewriting(on_tasks(action_lowercase)), "TASK-3", "TASK-3", "proxy"),
    Corruption("state not echoed", lambda: rewriting(on_tasks(state_lost)), "TASK-4", "TASK-4"),
    Corruption("progress without %", lambda: rewriting(on_tasks(progress_without_percent)), "LIFE-3", "LIFE-3"),
    Corruption("a grid without V4", lambda: rewriting(on_tasks(no_v4)), "LIFE-8", "LIFE-8", "proxy"),
    Corruption("FAILURE without failReason", lambda: rewriting(on_tasks(failure_without_reason)), "LIFE-11",
               "LIFE-11"),
    Corruption("a window described as OK", lambda: rewriting(on_submits(modal_says_ok)), "LIFE-12", "LIFE-12"),
    Corruption("an unknown task fetched as {}", lambda: rewriting(unknown_task_found), "BAD-4", "BAD-4"),
    Corruption("parameter errors that name nothing", lambda: rewriting(on_submits(vague_messages)), "BAD-6",
               "BAD-6", "proxy"),
    Corruption("the Bearer header ignored", lambda: rewriting(_noop, before=bearer_ignored), "AUTH-4", "AUTH-4",
               mode="keyed"),
    Corruption("notifyHook dropped", lambda: rewriting(_noop, before=hooks_lost), "CB-1", "CB-1"),
    Corruption("a video without contentType", lambda: rewriting(on_tasks(video_without_content_type)), "VID-1",
               "VID-1"),
    Corruption("a video without prompt accepted", lambda: rewriting(video_without_prompt_accepted), "VID-3", "VID-3",
               "proxy"),
    Corruption("description missing on a submission", lambda: rewriting(on_submits(description_lost_on_submit)),
               "ENV-2", "ENV-2"),
    Corruption("properties null on a submission", lambda: rewriting(on_submits(properties_null)), "ENV-4", "ENV-4",
               "proxy"),
    Corruption("a describe of text accepted", lambda: rewriting(describe_of_text_accepted), "BAD-3", "BAD-3"),
    Corruption("a customId the task does not offer accepted", lambda: rewriting(foreign_custom_id_accepted),
               "BAD-5", "BAD-5"),
    Corruption("extend through /mj/submit/video refused", lambda: rewriting(extend_refused), "VID-2", "VID-2"),
    Corruption("U1 makes a VARIATION", lambda: rewriting(on_tasks(upscale_reported_as_variation)), "LIFE-9",
               "LIFE-9", "proxy"),
    Corruption("a wrong key let in", lambda: rewriting(_noop, before=every_key_let_in), "AUTH-2", "AUTH-2",
               mode="keyed"),
    # what the API promises today
    Corruption("V7 upscalers with V6 ids", lambda: rewriting(on_tasks(v6_ids_on_v7)), "BTN-1", "BTN-1"),
    Corruption("Animate offered on V5", lambda: rewriting(on_tasks(animate_on_v5)), "BTN-1", "BTN-1", "proxy"),
    Corruption("an offered pan button refused", lambda: rewriting(pan_refused), "BTN-2", "BTN-2"),
    Corruption("--ar ignored", lambda: rewriting(_noop, before=ar_ignored), "SIZE-1", "SIZE-1", "proxy"),
    Corruption("three of four videos dropped", lambda: rewriting(on_tasks(one_video_only)), "VID-4", "VID-4"),
    Corruption("video thumbnails that do not decode", lambda: rewriting(thumbnails_broken), "VID-4", "VID-4",
               "proxy"),
    Corruption("edit and retexture reported as IMAGINE", lambda: rewriting(on_tasks(edit_as_imagine)), "EDIT-1",
               "EDIT-1"),
    Corruption("describe by link refused", lambda: rewriting(link_refused), "DESC-2", "DESC-2", "proxy"),
    Corruption("long prompts cut instead of refused", lambda: rewriting(_noop, before=prompt_truncated), "LIM-1",
               "LIM-1"),
    Corruption("an oversized body answered 400", lambda: rewriting(too_large_as_400), "LIM-2", "LIM-2"),
    Corruption("the task list cut to 50", lambda: rewriting(list_truncated), "LIM-3", "LIM-3", "proxy"),
    Corruption("errors answered with code 1", lambda: rewriting(errors_say_code_one), "ERR-1", "ERR-1"),
    Corruption("errors answered with code 1 (proxy)", lambda: rewriting(errors_say_code_one), "ERR-1", "ERR-1",
               "proxy"),
    Corruption("IN_PROGRESS says 100%", lambda: rewriting(on_tasks(hundred_percent_early)), "LIFE-17", "LIFE-17"),
    Corruption("relative imageUrl", lambda: rewriting(on_tasks(relative_media)), "URL-1", "URL-1", "proxy"),
    Corruption("fetch differs from the callback", lambda: rewriting(on_tasks(fetch_differs_from_callback)), "CB-4",
               "CB-4"),
)
