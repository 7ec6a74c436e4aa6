"""Logs people can read: the start-up line, one access-log line per request, task state changes (debug).

`mockmj serve` configures the handlers (text or JSON lines on stderr); the hooks are installed in every
app but cost nothing unless their logger is enabled, so in-process servers in tests stay silent.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request

from .core.masking import masked

if TYPE_CHECKING:
    from .config import Settings
    from .core.tasks import Task
    from .web.app import Mock

access_log = logging.getLogger("mockmj.access")
task_log = logging.getLogger("mockmj.tasks")
startup_log = logging.getLogger("mockmj.startup")
SEEN_TASKS = 10_000  # how many tasks' last observed state the debug log remembers


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Handlers for `mockmj serve`: stderr, text or JSON lines, at the chosen level."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("mockmj").setLevel(getattr(logging, settings.log_level.upper()))
    startup_log.setLevel(logging.INFO)  # the start-up line is printed at every level
    if settings.quiet:
        access_log.setLevel(logging.WARNING)


def startup_line(settings: Settings, url: str) -> None:
    """The first line the server prints, stable for log-based readiness waits: it names the URL."""
    text = (f"mockmj {settings.dialect} dialect, {settings.timing} timing, on {url}  "
            f"(dashboard: {url}/_mockmj/ui, docs: {url}/docs)")
    if settings.log_format == "json":
        startup_log.info(text, extra={"fields": {"url": url, "event": "listening"}})
    else:
        print(text, file=sys.stderr, flush=True)


def notice(settings: Settings, text: str, level: int = logging.INFO) -> None:
    """A line of `serve` itself (stopping, a warning): plain on stderr, or a JSON line in JSON mode."""
    if settings.log_format == "json":
        startup_log.log(level, text)
    else:
        print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ access log
def _answer() -> tuple[int | None, str | None, dict[str, Any] | None]:
    """The envelope's code, the task the request was about, and the task JSON when it is one.

    Read from the Reply the API view left in `g`, never by parsing the bytes again; control and
    static routes leave none and log only their method, path and status.
    """
    task_id = (request.view_args or {}).get("id")
    reply = g.get("mockmj_reply")
    body = reply.payload if reply is not None else None
    if not isinstance(body, dict):
        return None, task_id, None
    code = body.get("code") if isinstance(body.get("code"), int) else None
    if task_id is None and isinstance(body.get("result"), str) and body["result"].isdigit():
        task_id = body["result"]  # a submission: the new task's id
    task = body if "status" in body and "id" in body and "action" in body else None
    return code, task_id or (task or {}).get("id"), task


class TaskStates:
    """Debug log of task state: each path planned, and each change a client observes."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    # the engine's listener protocol
    def task_scheduled(self, task: Task, first_index: int) -> None:
        if not task_log.isEnabledFor(logging.DEBUG):
            return
        start = task.milestones[0].at or task.submit_time
        path = " → ".join(f"{m.status.value}{' ' + m.progress if m.progress else ''}"
                          f"{f' (+{m.at - start} ms)' if m.at is not None else ''}"
                          for m in task.milestones[first_index:])
        task_log.debug("task %s %s planned: %s", task.id, task.action.value, path,
                       extra={"fields": {"taskId": task.id, "action": task.action.value}})

    def milestone_reached(self, task: Task, index: int) -> None:
        pass  # per-poll timing: the poll that moved the task shows the change in observe()

    def clock_moved(self, now: int) -> None:
        pass

    def reset(self, gone: set[str] | None, key: str | None = None) -> None:
        if gone is None:
            self._seen.clear()
        else:
            for task_id in gone:
                self._seen.pop(task_id, None)

    def observe(self, task: dict[str, Any]) -> None:
        state = (str(task.get("status")), task.get("progress"))
        before = self._seen.get(task["id"])
        if before == state:
            return
        self._seen[task["id"]] = state
        self._seen.move_to_end(task["id"])
        while len(self._seen) > SEEN_TASKS:
            self._seen.popitem(last=False)
        was = f"{before[0]} {before[1] or ''}".strip() if before else "(first read)"
        now = f"{state[0]} {state[1] or ''}".strip()
        task_log.debug("task %s: %s → %s", task["id"], was, now,
                       extra={"fields": {"taskId": task["id"], "status": state[0], "progress": state[1]}})


def install(app: Flask, mock: Mock) -> None:
    """The access log and the task-state log for one app."""
    from .web.app import api_key_of

    states = TaskStates()
    mock.engine.listeners.append(states)

    @app.before_request
    def _started() -> None:
        g.mockmj_started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        want_access = access_log.isEnabledFor(logging.INFO)
        want_states = task_log.isEnabledFor(logging.DEBUG)
        if not (want_access or want_states):
            return response
        ms = (time.perf_counter() - g.get("mockmj_started", time.perf_counter())) * 1000
        code, task_id, task = _answer()
        if want_states and task is not None:
            states.observe(task)
        if want_access:
            key = masked(g.get("mockmj_key") or api_key_of(request.headers))
            fields = {"method": request.method, "path": request.path, "status": response.status_code,
                      "code": code, "key": key, "ms": round(ms, 1), "taskId": task_id}
            text = f"{request.method} {request.path} {response.status_code}"
            text += f" code={code}" if code is not None else ""
            text += f" key={key}" if key else ""
            text += f" {ms:.1f}ms"
            text += f" task={task_id}" if task_id else ""
            access_log.info(text, extra={"fields": fields})
        return response
