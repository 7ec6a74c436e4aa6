"""A scripted session run on the engine (no sockets), whose every answer is kept as compact JSON: the
sample of what the mock answered while V7 was its default, and what `default_version="7"` must repeat.

`python -m tests.engine.pinned_script OUT.json` records a sample with the code on the path."""

from __future__ import annotations

import base64
import io
import json
import sys
from typing import Any

from PIL import Image

from mockmj.engine.facade import Caller, Engine
from mockmj.engine.submissions import submit as subs
from mockmj.engine.submissions import video as videos
from mockmj.model.jsonio import compact
from mockmj.model.settings import Settings

ORIGIN = "http://mj.example"
PROMPTS = ("a lighthouse at dusk --ar 3:2", "a fox --v 6.1", "a fox --v 6", "a fox --v 5.2", "a fox --niji",
           "a fox --niji 6", "a fox --v 7")


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (20, 90, 200)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _accepted(a: Any) -> dict[str, Any]:
    return {"kind": a.kind, "result": a.result, "properties": a.properties}


def run(dialect: str, **settings: Any) -> list[str]:
    """Every answer of the session, in order, as compact JSON text."""
    engine = Engine(Settings(dialect=dialect, timing="manual", seed=20, no_auth=True, **settings))
    caller = Caller(key="k", origin=ORIGIN)
    out: list[str] = []

    def keep(label: str, value: Any) -> Any:
        out.append(label + " " + compact(value).decode())
        return value

    def finish(task_id: str) -> dict[str, Any]:
        keep("fetch", engine.fetch(caller, task_id))
        engine.advance(60_000)
        return keep("fetch", engine.fetch(caller, task_id))

    def press(task: dict[str, Any], label: str) -> dict[str, Any]:
        custom_id = next(b["customId"] for b in task["buttons"] if b["label"] == label)
        answer = keep("action", _accepted(subs.action(engine, caller, {"taskId": task["id"], "customId": custom_id})))
        return finish(answer["result"])

    for prompt in PROMPTS:
        grid = finish(keep("imagine", _accepted(subs.imagine(engine, caller, {"prompt": prompt})))["result"])
        upscaled = press(grid, "U1")
        keep("buttons", [b["customId"].split("::")[2] for b in upscaled["buttons"]])
    grid = finish(subs.imagine(engine, caller, {"prompt": "a harbour"}).result)
    upscaled = press(grid, "U2")
    for label in ("Upscale (Subtle)", "Vary (Strong)", "Zoom Out 2x", "Animate (Low motion)"):
        if any(b["label"] == label for b in upscaled["buttons"]):
            press(upscaled, label)
        else:
            keep("absent", label)  # a V8 image has no Upscale and no Zoom
    png = _png()
    finish(keep("blend", _accepted(subs.blend(engine, caller, {"base64Array": [png, png]})))["result"])
    finish(keep("video", _accepted(videos.video(engine, caller, {"prompt": "waves", "image": png})))["result"])
    finish(keep("niji bot", _accepted(subs.imagine(engine, caller, {"prompt": "a cat", "botType": "NIJI_JOURNEY"})))
           ["result"])
    return out


if __name__ == "__main__":
    sample = {dialect: run(dialect) for dialect in ("88api", "proxy")}
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(sample, f, ensure_ascii=False, indent=0)
