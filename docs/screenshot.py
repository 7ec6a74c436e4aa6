"""Make docs/dashboard.png, the picture of the dashboard in docs/control-plane.md: a mock with a few tasks (grids, an
upscale, a variation, one failed, one in progress) in a real Chromium. Run: python docs/screenshot.py"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mockmj.serve.inprocess import start_mock  # noqa: E402
from tests.browser import chromium, images_loaded  # noqa: E402
from tests.helpers import Client, submit  # noqa: E402


def press(c: Client, task_id: str, label: str) -> str:
    custom_id = next(b["customId"] for b in c.fetch(task_id)["buttons"] if b["label"] == label)
    return submit(c, "/mj/submit/action", {"taskId": task_id, "customId": custom_id})["result"]


def main() -> None:
    server = start_mock(timing="manual", seed=2026)
    c = Client(server, key="sk-demo")
    try:
        fox = submit(c, "/mj/submit/imagine", {"prompt": "a red fox in the snow --ar 3:2"})["result"]
        c.post("/mj/submit/imagine", {"prompt": "a castle in the clouds"}, headers={"X-MockMJ-Outcome": "fail"})
        harbour = submit(c, "/mj/submit/imagine", {"prompt": "a harbour at night, lanterns"})["result"]
        c.advance(60)
        press(c, fox, "U1")
        press(c, harbour, "V2")
        c.advance(60)
        submit(c, "/mj/submit/imagine", {"prompt": "a lighthouse at dusk --ar 2:3"})
        c.advance(5.5)
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(server.base_url + "/_mockmj/ui")
            images_loaded(page, "[data-testid=thumb]", 5, timeout_ms=60_000)
            page.screenshot(path=str(ROOT / "docs" / "dashboard.png"))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
