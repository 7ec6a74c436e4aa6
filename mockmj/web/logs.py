"""Logs people can read: the start-up line, one access-log line per request, task state changes (debug).

`mockmj serve` configures the handlers (text or JSON lines on stderr); the hooks are installed in every
app but cost nothing unless their logger is enabled, so in-process servers in tests stay silent.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from queue import Empty, SimpleQueue
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


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_TEXT = f" INFO {access_log.name}: "  # what TEXT_FORMAT writes between an access line's time and its text


class ServeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """`mockmj serve`'s handler: stderr, text or JSON lines. It knows its own format, so that the access-log
    thread can write a batch of lines as these formatters would, with no LogRecord per line."""

    def __init__(self, log_format: str) -> None:
        super().__init__(sys.stderr)
        self.log_format = log_format
        self.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
        self._second: tuple[int, str] = (-1, "")

    def access_line(self, created: float, text: str, fields: dict[str, Any]) -> str:
        """What `format` gives for an INFO record of mockmj.access with this text, fields and time."""
        if self.log_format == "json":
            stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
            line = {"time": stamp, "level": "info", "logger": access_log.name, "message": text, **fields}
            return json.dumps(line, ensure_ascii=False) + "\n"
        return f"{self.text_time(created)}{ACCESS_TEXT}{text}\n"

    def text_time(self, created: float) -> str:
        """A text line's time, as logging.Formatter.formatTime's default writes it ("2026-12-08 01:02:03,456"); the
        seconds are worked out once a second."""
        second = int(created)
        if self._second[0] != second:
            self._second = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
        return f"{self._second[1]},{int((created - second) * 1000):03d}"

    def write_lines(self, lines: list[str]) -> None:
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write("".join(lines))
                self.flush()
            except (OSError, ValueError):  # a closed or broken stderr: nothing can be written, the thread goes on
                pass


def configure_logging(settings: Settings) -> None:
    """Handlers for `mockmj serve`: stderr, text or JSON lines, at the chosen level."""
    handler = ServeHandler(settings.log_format)
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


class DeferredLines:
    """Access-log lines built and written by one thread, off the request path.

    A request only puts its raw fields on a queue (a few hundred nanoseconds); the thread turns them into
    the log record, formats and writes it. `mockmj serve` turns this on in each worker (`start`) and drains
    it when the worker stops (`stop`, from the worker's shutdown and at exit): every line a request put
    is written before the process ends. Elsewhere (tests, in-process servers) lines are written at once.
    """

    def __init__(self) -> None:
        self._queue: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.running = False  # read without a lock per request: a put that races stop() is drained by stop()

    def start(self) -> None:
        if self.running and self._pid == os.getpid():
            return
        # A forked worker inherits the flag but not the thread (nor, safely, the queue's lock): start afresh.
        self._queue = SimpleQueue()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._drain, name="mockmj-access-log", daemon=True)
        self._thread.start()
        self.running = True

    def put(self, item: tuple[Any, ...]) -> None:
        self._queue.put(item)

    def _drain(self) -> None:
        """Lines come in batches: once a line is there, the thread lets more pile up for LINGER_S, then writes
        them all at once. Waking for every line would cost each request a hand-over of the GIL between its
        thread and this one, which under load costs more than formatting the line."""
        full = False
        while (item := self._queue.get()) is not None:
            if not full:  # else more are waiting already
                time.sleep(LINGER_S)
            batch = [item]
            stop = False
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            _write_lines(batch)
            if stop:
                return
            full = len(batch) >= BATCH

    def stop(self, timeout: float = 10.0) -> None:
        """Write every line queued so far, then stop the thread; later lines are written at once. Bounded:
        a thread stuck on a blocked stderr cannot hold the stop for ever."""
        thread = self._thread
        if not self.running or thread is None or self._pid != os.getpid():
            self.running = False
            return
        self.running = False
        self._queue.put(None)
        thread.join(timeout)
        self._thread = None
        if thread.is_alive():
            return
        late = []
        while not self._queue.empty():  # put by requests that read `running` just before it changed
            item = self._queue.get_nowait()
            if item is not None:
                late.append(item)
        _write_lines(late)


DEFERRED = DeferredLines()
atexit.register(DEFERRED.stop)


def defer_access_log() -> None:
    """Write access-log lines from a thread of their own (each `mockmj serve` worker)."""
    DEFERRED.start()


def stop_access_log() -> None:
    """Write what is queued and stop the thread (a worker stopping)."""
    DEFERRED.stop()


BATCH = 512  # access lines written at once, at most
LINGER_S = 0.02  # how long a line may wait for others to be written with it


def _direct_handler() -> ServeHandler | None:
    """`mockmj serve`'s own handler, when it alone would write an access line (no other handler, filter or
    level in the way): then lines are formatted by it in batches, else each goes through `logging`."""
    root = logging.getLogger()
    if access_log.handlers or access_log.filters or not access_log.propagate or len(root.handlers) != 1:
        return None
    parent = logging.getLogger("mockmj")
    handler = root.handlers[0]
    if parent.handlers or parent.filters or not parent.propagate or root.filters:
        return None
    if not isinstance(handler, ServeHandler) or handler.filters or handler.level > logging.INFO:
        return None
    return handler


def _write_lines(batch: list[tuple[Any, ...]]) -> None:
    handler = _direct_handler()
    if handler is None:
        for item in batch:
            _write_line(*item)
        return
    if handler.log_format == "json":
        lines = [handler.access_line(item[0], *_line_of(*item[1:8], _who(item[8]))) for item in batch]
    else:  # the text format shows no fields: none are made. One loop makes every line (`access_line`'s, with
        # `_line_of`'s text): under load the thread formats hundreds at each wake-up, and calls per line add up
        lines = []
        text_time = handler.text_time
        for created, method, path, status, reply, key, ms, task_id, _client in batch:
            made = _made(method, path, status, reply, key, task_id)  # its text's two halves first
            lines.append(f"{text_time(created)}{ACCESS_TEXT}{made[0]}{ms:.1f}ms{made[1]}\n")
    handler.write_lines(lines)


NO_FIELDS: dict[str, Any] = {}
# What a line is made of but its duration (its text's two halves, and the fields' answer code, task id, masked key
# and masked path), by the request's parts: a client polling its task sends the same request again and again, and
# its line differs only in the time it took. Bounded (emptied when full).
_TEXTS: dict[tuple[Any, ...], tuple[str, str, int | None, str | None, str | None, str]] = {}
MAX_TEXTS = 1024


def _made(method: str, path: str, status: int, reply: Reply | None, key: str | None,
          task_id: str | None) -> tuple[str, str, int | None, str | None, str | None, str]:
    code: int | None = None
    if reply is not None:  # else (a fetch answered from kept bytes, a control route) there is nothing to read
        code, task_id, _task = _answer(reply, task_id)
    made_of = (method, path, status, code, key, task_id)
    made = _TEXTS.get(made_of)
    if made is None:
        shown_key, shown_path = masked(key), masked_path(path)
        head = f"{method} {shown_path} {status}"
        head += f" code={code}" if code is not None else ""
        head += f" key={shown_key}" if shown_key else ""
        made = (head + " ", f" task={task_id}" if task_id else "", code, task_id, shown_key, shown_path)
        if len(_TEXTS) >= MAX_TEXTS:
            _TEXTS.clear()
        _TEXTS[made_of] = made
    return made


def _line_of(method: str, path: str, status: int, reply: Reply | None, key: str | None, ms: float,
             task_id: str | None, who: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The access line's text and its structured fields (the JSON format's); `who`: the client's (`_who`)."""
    head, tail, code, task_id, shown_key, shown_path = _made(method, path, status, reply, key, task_id)
    fields = {"method": method, "path": shown_path, "status": status, "code": code, "key": shown_key,
              "ms": round(ms, 1), "taskId": task_id, **who}
    return f"{head}{ms:.1f}ms{tail}", fields


def _who(client: tuple[str | None, str | None] | None) -> dict[str, Any]:
    """Who made a request, for the JSON access log: the client's address and its user agent (bounded), from
    the pair a request left on the queue (None: it had no environ, and the line names no client)."""
    if client is None:
        return {}
    address, agent = client
    return {"client": address, "userAgent": agent[:USER_AGENT_CHARS] if agent else None}


def _write_line(created: float, method: str, path: str, status: int, reply: Reply | None, key: str | None,
                ms: float, task_id: str | None, client: tuple[str | None, str | None] | None) -> None:
    text, fields = _line_of(method, path, status, reply, key, ms, task_id, _who(client))
    record = access_log.makeRecord(access_log.name, logging.INFO, "(unknown file)", 0, text, (), None,
                                   func="(unknown function)", extra={"fields": fields})
    record.created, record.msecs = created, (created - int(created)) * 1000  # when the request was answered
    access_log.handle(record)


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
        if task_log.isEnabledFor(logging.DEBUG):
            task = _answer(reply, task_id)[2]
            if task is not None:
                self.states.observe(task)
        if not access_log.isEnabledFor(logging.INFO):
            return
        # the client's address and agent as they are: their fields are made by the thread that writes the line
        client = None if environ is None else (environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT"))
        line = (time.time(), method, path, status, reply, key, ms, task_id, client)
        if DEFERRED.running:
            DEFERRED.put(line)
        else:
            _write_line(*line)


def install(app: Flask, mock: Mock) -> RequestLog:
    """The access log and the task-state log for one app; the hot path (web/hot.py) writes to the same."""
    request_log = RequestLog()
    mock.engine.world.listeners.append(request_log.states)

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
