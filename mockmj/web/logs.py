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

from mockmj.model.masking import masked, masked_path
from mockmj.web.exchange import api_key_of

if TYPE_CHECKING:
    from mockmj.config import Settings
    from mockmj.model.tasks import Task
    from mockmj.web.mock import Mock
    from mockmj.web.render import Reply

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
    skip_unused_record_fields()
    logging.getLogger("mockmj").setLevel(getattr(logging, settings.log_level.upper()))
    startup_log.setLevel(logging.INFO)  # the start-up line is printed at every level
    if settings.quiet:
        access_log.setLevel(logging.WARNING)


def skip_unused_record_fields() -> None:
    """Neither format prints where a line was logged from, nor its thread or process: the logging
    module's own optimisation switches (Logging HOWTO, "Optimization") spare every record the stack walk
    and lookups, a third of the cost of an access-log line. Only `mockmj serve`, which owns its process
    and its handlers, turns them off."""
    logging._srcfile = None  # type: ignore[attr-defined]  # no findCaller(): funcName/lineno unused
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


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
def _answer(reply: Reply | None, task_id: str | None) -> tuple[int | None, str | None, dict[str, Any] | None]:
    """The envelope's code, the task the request was about, and the task JSON when it is one.

    Read from the Reply the API left, never by parsing the bytes again; control and static routes
    leave none and log only their method, path and status.
    """
    body = reply.payload if reply is not None else None
    if not isinstance(body, dict):
        return None, task_id, None
    code = body.get("code") if isinstance(body.get("code"), int) else None
    if task_id is None and isinstance(body.get("result"), str) and body["result"].isdigit():
        task_id = body["result"]  # a submission: the new task's id
    task = body if "status" in body and "id" in body and "action" in body else None
    return code, task_id or (task or {}).get("id"), task


USER_AGENT_CHARS = 200  # a user agent is kept to this many characters in a log line
CONTROL_PREFIX = "/_mockmj"  # the control plane and the dashboard (its page, files and polling)


def client_fields(environ: dict[str, Any] | None) -> dict[str, Any]:
    """Who made a request, for the JSON access log: the client's address and its user agent (bounded)."""
    if environ is None:
        return {}
    agent = environ.get("HTTP_USER_AGENT")
    return {"client": environ.get("REMOTE_ADDR"), "userAgent": agent[:USER_AGENT_CHARS] if agent else None}


def logged_path(path: str, log_control: bool) -> bool:
    """Does this request get an access-log line? Control-plane and dashboard calls only with --log-control:
    the dashboard polls every second, and its lines would bury the API's."""
    return log_control or not (path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"))


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


class RequestLog:
    """One line per request on the access log, and the task states observed (debug log)."""

    def __init__(self) -> None:
        self.states = TaskStates()

    @staticmethod
    def wanted() -> bool:
        """Is either log on? Checked first, so that a quiet server does no work for them."""
        return access_log.isEnabledFor(logging.INFO) or task_log.isEnabledFor(logging.DEBUG)

    def record(self, method: str, path: str, status: int, reply: Reply | None, key: str | None,
               started: float | None, task_id: str | None, environ: dict[str, Any] | None = None) -> None:
        """`key`: the caller's (unmasked); `task_id`: the path's {id}, if any; `started`: perf_counter;
        `environ`: the WSGI environ, for the client's address and user agent."""
        ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        code, task_id, task = _answer(reply, task_id)
        if task is not None and task_log.isEnabledFor(logging.DEBUG):
            self.states.observe(task)
        if not access_log.isEnabledFor(logging.INFO):
            return
        key, path = masked(key), masked_path(path)
        fields = {"method": method, "path": path, "status": status, "code": code, "key": key, "ms": round(ms, 1),
                  "taskId": task_id, **client_fields(environ)}
        text = f"{method} {path} {status}"
        text += f" code={code}" if code is not None else ""
        text += f" key={key}" if key else ""
        text += f" {ms:.1f}ms"
        text += f" task={task_id}" if task_id else ""
        access_log.info(text, extra={"fields": fields})


def install(app: Flask, mock: Mock) -> RequestLog:
    """The access log and the task-state log for one app; the hot path (web/hot.py) writes to the same."""
    request_log = RequestLog()
    mock.engine.listeners.append(request_log.states)

    @app.before_request
    def _started() -> None:
        g.mockmj_started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        if request_log.wanted() and logged_path(request.path, mock.settings.log_control):
            key = g.get("mockmj_key") or api_key_of(request.headers)
            request_log.record(request.method, request.path, response.status_code, g.get("mockmj_reply"), key,
                               g.get("mockmj_started"), (request.view_args or {}).get("id"), request.environ)
        return response

    return request_log
