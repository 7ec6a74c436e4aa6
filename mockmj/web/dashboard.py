"""The dashboard at /_mockmj/ui: static files shipped in the package (mockmj/ui/, no build step, nothing
from the network), the two read endpoints it needs beyond the control API (the latest tasks of every key,
one task with its children), and the redirect that leads a browser from `/` to it.

The task endpoints read tasks without polling them: looking at a dashboard must not move a task in
per-poll timing, nor appear in its timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, redirect, request

from mockmj.model.masking import key_matches, masked
from mockmj.model.tasks import TERMINAL, Status

if TYPE_CHECKING:
    from mockmj.engine.facade import Engine
    from mockmj.model.tasks import Task
    from mockmj.web.mock import Mock

UI_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
DEFAULT_LIMIT = 100
# The most tasks one read of the dashboard looks at: the latest submissions (of the key asked for, or of every key).
# It polls once a second, and looking at every task (each unpacked, or read from a shared store) held the world's
# lock for over half a second a read with 20,000 of them (benchmarks/bench_dashboard.py), and every API request
# waited meanwhile.
WINDOW = 1000
BROWSER_ENTRY_PATHS = ("/", "/_mockmj", "/_mockmj/")


def _ui_file(name: str) -> bytes:
    return resources.files("mockmj").joinpath("ui", name).read_bytes()


def wants_html() -> bool:
    """A browser navigating (Accept: text/html first), not an API client (JSON or */*)."""
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html" \
        and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]


def lead_browsers_to_the_dashboard(app: Flask) -> None:
    """`GET /` or `/_mockmj/` from a browser: off to the dashboard. These paths have no route, so API
    clients (and browsers anywhere else, /mj/... included) still get the dialect's JSON 404."""

    @app.before_request  # runs before the routing error of an unknown path is raised
    def _to_dashboard() -> Response | None:
        if request.method == "GET" and request.path in BROWSER_ENTRY_PATHS and wants_html():
            return redirect("/_mockmj/ui", code=302)  # type: ignore[return-value]
        return None


# How long (on the mock's clock) a task may stand at a step with nothing planned after it before the
# dashboard calls it stalled. A minute: longer than any step of the realistic profile.
STALL_AFTER_MS = 60_000


def stalled(task: Task, now: int, per_poll: bool) -> str | None:
    """Why a task is stalled, or None: it is not finished, its schedule plans no time for its next step
    (there is none, or its time is unknown: it waits for a poll in per-poll timing, for a free slot of its
    account, for a modal's confirmation) and it has stood where it is for STALL_AFTER_MS of the mock's clock.

    A task whose next step has a time is never stalled: the clock will move it (in manual timing, when the
    clock is advanced). Only the schedule and the clock are read: looking does not move the task."""
    index = task.reached_index(now, per_poll)
    here = task.milestone(index)
    if here.status in TERMINAL:
        return None
    last = len(task.milestones) - 1
    if index < last and task.milestone(index + 1).at is not None:
        return None
    since = here.at if here.at is not None else task.submit_time
    waited = now - since
    if waited < STALL_AFTER_MS:
        return None
    if index == last:
        return f"{here.status.value} for {waited // 1000} s; its schedule plans no further step"
    why = "a poll (per-poll timing)" if per_poll else "a step with no planned time (a queue slot, a confirmation)"
    return f"{here.status.value} for {waited // 1000} s, waiting for {why}"


def _row(engine: Engine, task: Task, origin: str) -> dict[str, Any]:
    return {"key": masked(task.owner), "parentId": task.parent_id, "task": engine.views.snapshot(task, origin),
            "stalled": stalled(task, engine.now(), engine.world.profile.per_poll)}


def _looked_at(engine: Engine, key: str | None, stored: int) -> tuple[list[Task], list[Task], bool]:
    """What one read of the task list looks at: the latest WINDOW submissions of every key; those of the key asked
    for (its own latest when `key` is a full key, however old, else the latest of every key that a masked key
    matches); and whether those were all of them."""
    newest = engine.newest_tasks(WINDOW)
    if key is None:
        return newest, newest, stored <= WINDOW
    own = engine.newest_tasks(WINDOW + 1, key)  # one more: to know whether there are more
    if own:
        return newest, own[:WINDOW], len(own) <= WINDOW
    return newest, [t for t in newest if key_matches(t.owner, key)], stored <= WINDOW


def _children(by_parent: dict[str, list[Task]], engine: Engine, task_id: str, depth: int = 0) -> list[dict]:
    if depth > 50:  # a chain of actions this deep is not a tree a person reads
        return []
    return [{"id": child.id, "action": child.action.value, "status": engine.views.status_of(child).value,
             "description": child.description,
             "children": _children(by_parent, engine, child.id, depth + 1)}
            for child in by_parent.get(task_id, [])]


def dashboard_handlers(mock: Mock, refuse: Callable[[int, str], Exception]) -> dict[str, Callable[..., Any]]:
    """Handlers for the control operations of the dashboard; `refuse` makes the control plane's errors."""
    engine = mock.engine

    def number(name: str, default: int) -> int:
        value = request.args.get(name)
        if value is None or value == "":
            return default
        if not value.isdigit():
            raise refuse(400, f"{name} must be a non-negative integer")
        return int(value)

    def list_tasks(_: dict[str, Any]) -> dict[str, Any]:
        key, action = request.args.get("key") or None, request.args.get("action") or None
        status = request.args.get("status") or None
        text = (request.args.get("q") or "").lower()
        if status is not None and status not in Status.__members__:
            raise refuse(400, f"status must be one of {', '.join(Status.__members__)}")
        limit, offset = number("limit", DEFAULT_LIMIT), number("offset", 0)
        origin = request.host_url.rstrip("/")
        with engine.reading():
            stored = engine.task_count()
            newest, window, complete = _looked_at(engine, key, stored)
            tasks = [t for t in window if (action is None or t.action.value == action)
                     and (not text or text in (t.prompt or "").lower() or text in t.id)]
            counts: dict[str, int] = {}
            statuses = {t.id: engine.views.status_of(t).value for t in tasks}
            for value in statuses.values():
                counts[value] = counts.get(value, 0) + 1
            if status is not None:
                tasks = [t for t in tasks if statuses[t.id] == status]
            tasks.sort(key=lambda t: t.submit_time, reverse=True)  # stable: the latest submission first at a tie
            page = [_row(engine, t, origin) for t in tasks[offset:offset + limit]]
            keys = sorted({masked(t.owner) or "" for t in newest + window})
        return {"total": len(tasks), "offset": offset, "counts": counts, "keys": keys, "items": page,
                "scanned": len(window), "complete": complete, "stored": stored}

    def get_task(_: dict[str, Any], id: str) -> dict[str, Any]:
        with engine.reading():
            task = engine.task(id)
            if task is None:
                raise refuse(404, f"no task {id}")
            by_parent: dict[str, list[Task]] = {}
            # an action is pressed by the task's own key, after it: its children are among that key's latest tasks
            for other in reversed(engine.newest_tasks(WINDOW, task.owner)):
                if other.parent_id:
                    by_parent.setdefault(other.parent_id, []).append(other)
            row = _row(engine, task, request.host_url.rstrip("/"))
            row["children"] = _children(by_parent, engine, task.id)
        return row

    def page(_: dict[str, Any]) -> Response:
        return Response(_ui_file("index.html"), mimetype="text/html",
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    def ui_file(_: dict[str, Any], file: str) -> Response:
        if file not in UI_FILES:
            raise refuse(404, f"no dashboard file {file}")
        return Response(_ui_file(file), mimetype=UI_FILES[file],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    return {"controlListTasks": list_tasks, "controlGetTask": get_task, "controlDashboard": page,
            "controlDashboardFile": ui_file}
