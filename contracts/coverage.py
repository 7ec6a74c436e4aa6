"""What a run exercised, against what the spec has: operations, task actions, button kinds, task statuses,
business codes and HTTP statuses.

Every exchange of the run passes through `Coverage.see` (the client calls it), so the figures count what
was really sent and answered, whichever test did it. The spec side comes from the OpenAPI document the run
checks against (operations, HTTP statuses, the Task schema's action and status enums), the button grammar
(button kinds) and the dialect table (documented business codes).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .dialects import Expectations
from .exchange import Exchange
from .grammar import KINDS, parse

MODE_PREFIX = re.compile(r"^/mj-(?:fast|relax|turbo)(?=/mj/)")
TASK_ID = re.compile(r"^(/mj/task/)[^/]+(/(?:fetch|image-seed|cancel))$")
DIMENSIONS = ("operations", "actions", "button kinds", "statuses", "codes", "HTTP statuses")
# Parts of the spec that are the mock's own (its image store, the document, the docs page), not the API's.
OWN_TAGS = frozenset({"Images", "Meta"})


def template(path: str) -> str:
    path = MODE_PREFIX.sub("", path.split("?", 1)[0])
    return TASK_ID.sub(r"\1{id}\2", path)


@dataclass
class Coverage:
    operations: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    button_kinds: set[str] = field(default_factory=set)
    statuses: set[str] = field(default_factory=set)
    codes: set[int] = field(default_factory=set)
    http_statuses: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def see(self, ex: Exchange) -> None:
        """Count one exchange with the target (media downloads count for their HTTP status only)."""
        data = ex.json_or_none() if ex.is_json() else None
        with self._lock:
            self.http_statuses.add(ex.status)
            path = template(ex.path)
            if not path.startswith("/mj/"):
                return
            self.operations.add(f"{ex.method.upper()} {path}")
            if path == "/mj/submit/action" and isinstance(ex.request_body, dict):
                pressed = parse(str(ex.request_body.get("customId")))
                if pressed is not None:
                    self.button_kinds.add(pressed.kind)
            if isinstance(data, dict) and isinstance(data.get("code"), int) and not isinstance(data["code"], bool):
                self.codes.add(data["code"])
            for task in data if isinstance(data, list) else [data]:
                if isinstance(task, dict) and "status" in task and "action" in task:
                    self.statuses.add(str(task.get("status")))
                    self.actions.add(str(task.get("action")))


@cache
def spec_sets(spec_path: str) -> dict[str, set[Any]]:
    import yaml

    spec = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8"))
    operations, statuses = set(), set()
    for path, item in (spec.get("paths") or {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op or OWN_TAGS & set(op.get("tags") or []):
                continue
            operations.add(f"{method.upper()} {path}")
            statuses.update(int(s) for s in op["responses"] if str(s).isdigit())
    task = spec.get("components", {}).get("schemas", {}).get("Task", {}).get("properties", {})
    return {"operations": operations, "HTTP statuses": statuses,
            "actions": set(task.get("action", {}).get("enum") or []),
            "statuses": set(task.get("status", {}).get("enum") or [])}


def report(cov: Coverage, spec_path: Path, expect: Expectations | None) -> dict[str, Any]:
    """Per dimension: what the spec has, what the run exercised of it, what it saw beyond it, the ratio."""
    spec = dict(spec_sets(str(spec_path)))
    spec["button kinds"] = set(KINDS)
    spec["codes"] = set(expect.documented_codes) if expect is not None else set()
    seen = {"operations": cov.operations, "actions": cov.actions, "button kinds": cov.button_kinds,
            "statuses": cov.statuses, "codes": cov.codes, "HTTP statuses": cov.http_statuses}
    out: dict[str, Any] = {}
    total_in, total_hit = 0, 0
    for dim in DIMENSIONS:
        wanted, got = spec[dim], seen[dim]
        hit = wanted & got
        total_in += len(wanted)
        total_hit += len(hit)
        out[dim] = {"exercised": _sorted(hit), "missed": _sorted(wanted - got), "beyond_spec": _sorted(got - wanted),
                    "ratio": f"{len(hit)}/{len(wanted)}"}
    out["percent"] = round(100.0 * total_hit / total_in, 1) if total_in else 100.0
    return out


def _sorted(values: set[Any]) -> list[Any]:
    return sorted(values, key=lambda v: json.dumps(v))
