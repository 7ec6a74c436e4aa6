"""The contract's rules applied to each response of a live deployment, as the recorder sees it.

Each rule has a name and the contract-suite clause it corresponds to. The response schemas come from
openapi.yaml (through web/spec.py); the rest is what the spec and the dialect table promise but a
schema cannot say: compact JSON, a string `result`, every task key present, statuses and progress
that only move forward, times in order, media that decode, and the dialect's own shapes.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from mockmj.model.dialects import DIALECTS, Dialect
from mockmj.model.jsonio import first_whitespace
from mockmj.web.spec import ApiSpec, Operation, load_spec

# Where a status sits on the documented graph: a task may stay or move right, never left.
RANK = {"MODAL": 0, "NOT_START": 1, "SUBMITTED": 2, "IN_PROGRESS": 3, "SUCCESS": 4, "FAILURE": 4, "CANCEL": 4}
TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCEL"})
# 88API relays pass the upstream's Chinese text through as often as they translate it.
OK_DESCRIPTIONS = {"88api": ("Submitted successfully", "提交成功"), "proxy": ("提交成功",)}
TASK_READS = re.compile(r"/task/(?:[^/]+/fetch|list-by-condition|list-by-ids|list|queue)$")
PERCENT = re.compile(r"^(\d{1,3})%$")
CUSTOM_ID = re.compile(r"^MJ::[\w.%-]+(?:::[\w.%-]+)+$")  # MJ::JOB::upsample::1::<hash>, MJ::CustomZoom::<hash>…
MAX_KEPT = 1000  # violations kept for GET /_mockmj/violations (the total keeps counting)


@dataclass(frozen=True)
class Rule:
    name: str
    clause: str  # the contract-suite clause that checks the same promise
    summary: str


RULES = {r.name: r for r in (
    Rule("spec", "ENV-1/TASK-2", "the response agrees with openapi.yaml (status documented, body schema)"),
    Rule("compact-json", "ENV-5", "JSON without whitespace between tokens (relays rewrite it textually)"),
    Rule("result-string", "ENV-3", "`result` of an envelope is a string (or null)"),
    Rule("task-keys", "TASK-1", "every key of the Task schema is present"),
    Rule("status-forward", "LIFE-1", "a task's status never moves back along the documented graph"),
    Rule("terminal-final", "LIFE-2", "SUCCESS, FAILURE and CANCEL are final"),
    Rule("progress-forward", "LIFE-4", "a task's progress never decreases"),
    Rule("progress-format", "LIFE-3", "progress is \"NN%\" while a task runs, \"100%\" at SUCCESS"),
    Rule("times-ordered", "LIFE-5", "submitTime ≤ startTime ≤ finishTime"),
    Rule("failure-reason", "LIFE-11", "a FAILURE carries a non-empty failReason"),
    Rule("button-grammar", "LIFE-7", "each button's customId follows Discord's MJ::…::… grammar"),
    Rule("media-decodes", "LIFE-6", "an image the API points to downloads and decodes"),
    Rule("dialect-code", "ENV-1", "business codes are the dialect's codes"),
    Rule("dialect-ok-description", "ENV-7", "code 1 carries the dialect's description"),
    Rule("dialect-unauthorized", "ENV-6", "a 401 has the dialect's body (empty for proxy, an envelope for 88api)"),
    Rule("dialect-unknown-task", "BAD-4", "a fetch answers a task or the dialect's not-found shape"),
)}


def _percent(value: Any) -> int | None:
    m = PERCENT.match(value) if isinstance(value, str) else None
    return int(m.group(1)) if m else None


class Validator:
    """Checks responses one by one; remembers each task's last view to check its moves."""

    def __init__(self, dialect: str = "88api", spec: ApiSpec | None = None) -> None:
        self.dialect: Dialect = DIALECTS[dialect]
        self.spec = spec or load_spec()
        self.task_keys: tuple[str, ...] = tuple(self.spec.document["components"]["schemas"]["Task"]["required"])
        prefixes = "|".join(re.escape(p) for p in self.spec.extension("x-mockmj-mode-prefixes", []))
        self._routes: list[tuple[re.Pattern[str], Operation]] = []
        for op in self.spec.operations:
            template = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(op.path))
            prefix = f"(?:{prefixes})?" if prefixes and op.path.startswith("/mj/") else ""
            self._routes.append((re.compile(f"^{prefix}{template}$"), op))
        self._last: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.kept: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self.total = 0

    def operation(self, method: str, path: str) -> Operation | None:
        return next((op for rx, op in self._routes if op.method == method and rx.match(path)), None)

    # ------------------------------------------------------------------------------------------ checks
    def check(self, method: str, path: str, status: int, mime: str, body: bytes) -> list[tuple[str, str]]:
        """(rule, what is wrong) for one response; task moves are remembered across calls."""
        found: list[tuple[str, str]] = []
        op = self.operation(method, path)
        if op is None or op.operation_id == "getAttachment" or path.startswith("/_mockmj/"):
            return found
        text = body.decode("utf-8", "replace")
        payload: Any = None
        has_body = bool(body.strip())
        if has_body:
            try:
                payload = json.loads(text)
            except ValueError:
                if "json" in mime or op.operation_id not in ("getOpenApiDocument", "getDocsPage"):
                    found.append(("spec", f"{op.operation_id} HTTP {status}: the body is not JSON: {text[:80]!r}"))
                return found
            at = first_whitespace(text)
            if at is not None:
                found.append(("compact-json", f"whitespace at offset {at}: …{text[max(0, at - 20):at + 20]!r}…"))
        problem = op.check_response(status, payload, has_body)
        if problem:
            found.append(("spec", problem))
        found += self._dialect_rules(op, status, payload, has_body)
        if isinstance(payload, dict) and "result" in payload and "code" in payload:
            result = payload["result"]
            if result is not None and not isinstance(result, str):
                found.append(("result-string", f"result is {json.dumps(result)[:60]} "
                                               f"({type(result).__name__}), not a string"))
        if status == 200 and TASK_READS.search(path):
            tasks = payload if isinstance(payload, list) else [payload] if isinstance(payload, dict) else []
            for task in tasks:
                if isinstance(task, dict):
                    found += self._task_rules(task)
        return found

    def _dialect_rules(self, op: Operation, status: int, payload: Any, has_body: bool) -> list[tuple[str, str]]:
        found = []
        d = self.dialect
        if status == 401:
            if d.auth_body == "empty" and has_body:
                found.append(("dialect-unauthorized", f"{d.name}: a 401 has an empty body, this one has one"))
            if d.auth_body == "envelope" and not isinstance(payload, dict):
                found.append(("dialect-unauthorized", f"{d.name}: a 401 carries an error envelope, this one none"))
        if op.operation_id == "fetchTask" and status == 200 and not has_body and d.unknown_fetch != "empty":
            found.append(("dialect-unknown-task", f"{d.name}: an unknown task is a 404 with an envelope, "
                                                  "not an empty 200"))
        if isinstance(payload, dict) and isinstance(payload.get("code"), int) and "description" in payload:
            code = payload["code"]
            if status == 200 and code not in set(d.codes.values()):
                found.append(("dialect-code", f"code {code} is not a {d.name} code "
                                              f"({', '.join(map(str, sorted(set(d.codes.values()))))})"))
            wanted = OK_DESCRIPTIONS.get(d.name, (d.messages["ok"],))
            if code == 1 and op.operation_id.startswith("submit") and payload["description"] not in wanted:
                found.append(("dialect-ok-description", f"code 1 with description {payload['description']!r}; "
                                                        f"{d.name} says {' / '.join(wanted)}"))
        return found

    def _task_rules(self, task: dict[str, Any]) -> list[tuple[str, str]]:
        found = []
        tid = str(task.get("id"))
        missing = [k for k in self.task_keys if k not in task]
        if missing:
            found.append(("task-keys", f"task {tid} lacks {', '.join(missing)}"))
        times = [task.get(k) for k in ("submitTime", "startTime", "finishTime")]
        known = [t for t in times if isinstance(t, int) and not isinstance(t, bool)]
        if known != sorted(known):
            found.append(("times-ordered", f"task {tid}: submitTime={times[0]} startTime={times[1]} "
                                           f"finishTime={times[2]}"))
        status, progress = task.get("status"), task.get("progress")
        running = status in ("SUBMITTED", "IN_PROGRESS")
        if (status == "SUCCESS" and progress != "100%") or (running and (_percent(progress) or 0) > 100) or (
                running and _percent(progress) is None):
            found.append(("progress-format", f"task {tid}: {status} with progress {progress!r}"))
        reason = task.get("failReason")
        if status == "FAILURE" and not (isinstance(reason, str) and reason.strip()):
            found.append(("failure-reason", f"task {tid}: FAILURE with failReason {reason!r}"))
        odd = [b.get("customId") for b in task.get("buttons") or [] if isinstance(b, dict)
               and not CUSTOM_ID.match(str(b.get("customId")))]
        if odd:
            found.append(("button-grammar", f"task {tid}: customId {odd[0]!r} is not MJ::…::…"))
        with self._lock:
            before = self._last.get(tid)
            self._last[tid] = {"status": task.get("status"), "progress": task.get("progress")}
        if before is None:
            return found
        a, b = before["status"], task.get("status")
        if a in TERMINAL and b != a:
            found.append(("terminal-final", f"task {tid} left {a} for {b}"))
        elif a in RANK and b in RANK and RANK[b] < RANK[a]:
            found.append(("status-forward", f"task {tid} moved back {a} → {b}"))
        pa, pb = _percent(before["progress"]), _percent(task.get("progress"))
        if pa is not None and pb is not None and pb < pa and b not in ("FAILURE", "CANCEL"):
            found.append(("progress-forward", f"task {tid} progress {before['progress']} → {task.get('progress')}"))
        return found

    def check_media(self, url: str, status: int, mime: str, body: bytes) -> list[tuple[str, str]]:
        """An image the API pointed to must download and decode (videos and others are not decoded)."""
        if status != 200:
            return [("media-decodes", f"GET {url} → HTTP {status}")]
        if not mime.startswith("image/"):
            return []
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(body)) as image:
                image.load()
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            return [("media-decodes", f"GET {url}: {len(body)} bytes of {mime} that do not decode ({exc})")]
        return []

    # ------------------------------------------------------------------------------------------ the log
    def keep(self, violation: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.total += 1
            numbered = {"seq": self.total, **violation}
            self.kept.append(numbered)
        return numbered

    def listing(self) -> dict[str, Any]:
        with self._lock:
            kept = list(self.kept)
        counts: dict[str, int] = {}
        for v in kept:
            counts[v["rule"]] = counts.get(v["rule"], 0) + 1
        return {"total": self.total, "byRule": counts, "violations": kept,
                "rules": [{"name": r.name, "clause": r.clause, "summary": r.summary} for r in RULES.values()]}
