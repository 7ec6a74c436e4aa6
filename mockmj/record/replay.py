"""`mockmj serve --replay DIR`: answer from a recording, in front of the simulation.

Matching, in the spirit of WireMock's `repeatsAsScenarios`:

- a task's polls (`GET …/task/{id}/fetch`) replay in the recorded order, then the last answer repeats.
  A poll moves one recorded answer forward at most, and never before that answer's recorded moment
  (its delay after the submit, divided by --replay-speed; the mock's clock, so `manual` timing replays
  only as the test advances time);
- every other request is matched on method, path and JSON body (keys sorted, notifyHook ignored); the
  same request asked again gets the next recorded answer, the last one repeats;
- with `--replay-ids fresh` each accepted submission gets a new task id (the same body asked again
  maps to the same recorded task under a new id); ids are translated both ways. `recorded` answers
  with the recorded ids;
- media the recording stored are served at /_mockmj/replay/media/<file>, and answers point there;
- no match: the simulation answers (`--replay-miss simulate`) or a 404 names what was not recorded
  (`--replay-miss strict`). The control plane (/_mockmj/…) is always the simulation's.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockmj.config import Settings
from mockmj.model.dialects import DIALECTS
from mockmj.record.har import MEDIA_DIR, content_bytes, load_har, parse_iso
from mockmj.record.proxy import HOP_BY_HOP, is_billable
from mockmj.serve.inprocess import MockServer

MEDIA_ROUTE = "/_mockmj/replay/media/"
FETCH = re.compile(r"^(?:/mj-[a-z]+)?/mj/task/([^/]+)/fetch$")  # with or without a mode prefix
TASK_ID = re.compile(r"(?<![0-9])[0-9]{10,20}(?![0-9])")  # task ids: long runs of digits
DROPPED_HEADERS = HOP_BY_HOP | {"date", "server"}
ACCEPTED = frozenset({1, 22})
IDS = ("fresh", "recorded")
MISSES = ("simulate", "strict")
Wsgi = Callable[..., Iterable[bytes]]


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    offset_ms: float = 0.0  # polls: how long after the task's submission this answer was seen


def canonical_body(raw: bytes) -> str:
    """What identifies a request body: its JSON with keys sorted, the notify hook left out."""
    if not raw.strip():
        return ""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
    if isinstance(data, dict):
        data.pop("notifyHook", None)
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def submitted_id(method: str, path: str, body: bytes) -> str | None:
    """The task id a submission's answer created (code 1 or 22, or 21 with a MODAL task), else None."""
    if not is_billable(method, path):  # an image-seed's code 1 + digits is a seed, not a task
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("result"), str):
        return None
    if data.get("code") in ACCEPTED or (data.get("code") == 21 and data["result"]):
        return data["result"]
    return None


class Recording:
    """A recording read back: answers per request, polls per task, media files."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        log = load_har(self.directory)
        meta = log.get("_mockmj") or {}
        self.dialect: str = meta.get("dialect") if meta.get("dialect") in DIALECTS else "88api"
        self.media: dict[str, tuple[Path, str]] = {}
        for url, item in (meta.get("media") or {}).items():
            path = (self.directory / item["file"]).resolve()
            if path.parent != (self.directory / MEDIA_DIR).resolve():
                raise ValueError(f"media entry {item['file']!r} points outside {MEDIA_DIR}/")
            self.media[url] = (path, item.get("mimeType", "application/octet-stream"))
        self.answers: dict[tuple[str, str, str], list[Answer]] = {}
        self.polls: dict[str, list[Answer]] = {}
        births: dict[str, float] = {}
        for entry in log["entries"]:
            request, response = entry["request"], entry["response"]
            split = urlsplit(request["url"])
            path = split.path + (f"?{split.query}" if split.query else "")
            started = parse_iso(entry["startedDateTime"]).timestamp() * 1000
            body = content_bytes(response.get("content") or {})
            headers = tuple((h["name"], h["value"]) for h in response.get("headers", [])
                            if h["name"].lower() not in DROPPED_HEADERS)
            answer = Answer(int(response["status"]), response.get("statusText") or "", headers, body)
            poll = FETCH.match(split.path)
            if poll and request["method"] == "GET":
                task_id = poll.group(1)
                birth = births.setdefault(task_id, started)
                self.polls.setdefault(task_id, []).append(
                    Answer(answer.status, answer.reason, headers, body, max(0.0, started - birth)))
                continue
            posted = (request.get("postData") or {}).get("text", "").encode("utf-8")
            key = (request["method"], path, canonical_body(posted))
            self.answers.setdefault(key, []).append(answer)
            created = submitted_id(request["method"], path, body)
            if created is not None:
                births[created] = started + float(entry.get("time") or 0)

    @property
    def media_pattern(self) -> re.Pattern[str] | None:
        if not self.media:
            return None
        escaped = sorted((re.escape(json.dumps(url)[1:-1]) for url in self.media), key=len, reverse=True)
        return re.compile("|".join(escaped))


@dataclass
class Replayed:
    """One task as the replay shows it: which recorded task it is, when it was submitted, how far along."""

    recorded: str
    born_ms: int
    index: int = -1


class Replay:
    """The WSGI layer in front of the mock."""

    def __init__(self, app: Wsgi, recording: Recording, now_ms: Callable[[], int], new_id: Callable[[int], str],
                 dialect: str, ids: str = "fresh", miss: str = "simulate", speed: float = 1.0,
                 public_url: str | None = None) -> None:
        if ids not in IDS:
            raise ValueError(f"--replay-ids must be one of {', '.join(IDS)}")
        if miss not in MISSES:
            raise ValueError(f"--replay-miss must be one of {', '.join(MISSES)}")
        if not speed > 0:
            raise ValueError(f"--replay-speed must be a number above 0, not {speed}")
        self.app, self.recording = app, recording
        self.now_ms, self.new_id = now_ms, new_id
        self.dialect = DIALECTS[dialect]
        self.ids, self.miss, self.speed, self.public_url = ids, miss, speed, public_url
        self.tasks: dict[str, Replayed] = {}  # replayed id → state
        self.to_recorded: dict[str, str] = {}
        self.to_replayed: dict[str, str] = {}  # the latest replayed id of each recorded task
        self.cursors: dict[tuple[str, str, str], int] = {}
        self.files = {path.name: (path, mime) for path, mime in recording.media.values()}
        self._media = recording.media_pattern
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "") or "/"
        if path.startswith(MEDIA_ROUTE) and method in ("GET", "HEAD"):
            return self._media_file(path[len(MEDIA_ROUTE):], start_response)
        if path.startswith("/_mockmj/"):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        query = environ.get("QUERY_STRING", "")
        with self._lock:
            reply = self._answer(method, path + (f"?{query}" if query else ""), raw, _origin(environ, self.public_url))
        if reply is None:
            if self.miss == "strict":
                return self._not_recorded(method, path, raw, start_response)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))
            return self.app(environ, start_response)
        answer, body = reply
        start_response(f"{answer.status} {answer.reason or 'OK'}",
                       [*answer.headers, ("Content-Length", str(len(body)))])
        return [body]

    # ---------------------------------------------------------------------------------------- matching
    def _answer(self, method: str, path: str, raw: bytes, origin: str) -> tuple[Answer, bytes] | None:
        poll = FETCH.match(path)
        if poll and method == "GET":
            return self._poll(poll.group(1), origin)
        path = self._recorded_ids(path)
        key = (method, path, canonical_body(self._recorded_ids(raw.decode("utf-8", "replace")).encode("utf-8")))
        answers = self.recording.answers.get(key)
        if not answers:
            return None
        index = min(self.cursors.get(key, -1) + 1, len(answers) - 1)
        self.cursors[key] = index
        answer = answers[index]
        own: dict[str, str] = {}
        created = submitted_id(method, path, answer.body)
        if created is not None:
            replayed = self.new_id(self.now_ms()) if self.ids == "fresh" else created
            self.tasks[replayed] = Replayed(created, self.now_ms())
            self.to_recorded[replayed] = created
            self.to_replayed[created] = replayed
            own[created] = replayed
        return answer, self._rewrite(answer.body, origin, own)

    def _poll(self, replayed: str, origin: str) -> tuple[Answer, bytes] | None:
        recorded_id = self.to_recorded.get(replayed, replayed)
        answers = self.recording.polls.get(recorded_id)
        if not answers:
            return None
        task = self.tasks.get(replayed)
        if task is None:  # polled without a replayed submit (an id from the recording itself)
            task = self.tasks[replayed] = Replayed(recorded_id, self.now_ms())
        elapsed = (self.now_ms() - task.born_ms) * self.speed
        if task.index < 0:
            task.index = 0
        elif task.index + 1 < len(answers) and answers[task.index + 1].offset_ms <= elapsed:
            task.index += 1
        answer = answers[task.index]
        return answer, self._rewrite(answer.body, origin, {recorded_id: replayed})

    # ---------------------------------------------------------------------------------------- rewriting
    def _recorded_ids(self, text: str) -> str:
        if not self.to_recorded:
            return text
        return TASK_ID.sub(lambda m: self.to_recorded.get(m.group(0), m.group(0)), text)

    def _rewrite(self, body: bytes, origin: str, own: dict[str, str]) -> bytes:
        """Recorded ids → replayed ids, recorded media URLs → this server's copies (on the raw text, so the
        recorded formatting is kept byte for byte)."""
        if not body:
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        mapping = {**self.to_replayed, **own}
        if mapping and self.ids == "fresh":
            text = TASK_ID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
        if self._media is not None:
            def local(m: re.Match[str]) -> str:
                url = json.loads(f'"{m.group(0)}"')
                return json.dumps(f"{origin}{MEDIA_ROUTE}{self.recording.media[url][0].name}")[1:-1]

            text = self._media.sub(local, text)
        return text.encode("utf-8")

    # ---------------------------------------------------------------------------------------- answers
    def _media_file(self, name: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = self.files.get(name)
        if found is None:
            return self._not_recorded("GET", MEDIA_ROUTE + name, b"", start_response)
        path, mime = found
        data = path.read_bytes()
        start_response("200 OK", [("Content-Type", mime), ("Content-Length", str(len(data))),
                                  ("Cache-Control", "public, max-age=86400")])
        return [data]

    def _not_recorded(self, method: str, path: str, raw: bytes, start_response: Callable[..., Any]) -> list[bytes]:
        what = f"{method} {path}"
        if raw.strip():
            body_text = canonical_body(raw)
            what += f" with body {body_text[:200]}{'…' if len(body_text) > 200 else ''}"
        envelope = {"code": self.dialect.code("not_found"),
                    "description": f"mockmj replay: nothing recorded for {what} (recording "
                                   f"{self.recording.directory.name}, --replay-miss strict)",
                    "result": None, "properties": {}}
        data = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def _origin(environ: dict[str, Any], public_url: str | None) -> str:
    if public_url:
        return public_url.rstrip("/")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def install_replay(app: Any, directory: str | Path, ids: str = "fresh", miss: str = "simulate",
                   speed: float = 1.0) -> Replay:
    """Put a recording in front of a mock's Flask app (its clock and id source drive the replay)."""
    mock = app.extensions["mockmj"]
    engine = mock.engine
    replay = Replay(app.wsgi_app, Recording(directory), engine.now, engine.new_task_id, engine.dialect.name,
                    ids=ids, miss=miss, speed=speed, public_url=mock.settings.public_url)
    app.wsgi_app = replay
    return replay


def start_replay(directory: str | Path, settings: Settings, ids: str = "fresh", miss: str = "simulate",
                 speed: float = 1.0) -> MockServer:
    """A replaying mock on a free loopback port (tests)."""
    from mockmj.web.app import create_app

    app = create_app(settings)
    install_replay(app, directory, ids, miss, speed)
    return MockServer(app)


def serving_app(settings: Settings) -> Any:
    """The mock `serve` runs: the engine's app, behind its recording when `--replay DIR` names one."""
    from mockmj.web.app import create_app

    app = create_app(settings)
    if settings.replay is not None:
        install_replay(app, settings.replay, settings.replay_ids, settings.replay_miss, settings.replay_speed)
    return app
