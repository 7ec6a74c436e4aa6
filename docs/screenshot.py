"""Make the pictures of the dashboard in docs/dashboard.md and docs/control-plane.md, in a real Chromium:
docs/dashboard.png, a mock with a few tasks (grids, an upscale, a variation, one failed, one in progress, one
stalled); docs/dashboard-journal.png, the journal with a request a rule answered opened.
Run: python docs/screenshot.py"""

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
        submit(c, "/mj/submit/imagine", {"prompt": "a kite that never lands --mockmj stuck"})
        c.advance(60)
        submit(c, "/mj/submit/imagine", {"prompt": "a lighthouse at dusk --ar 2:3"})
        c.advance(5.5)
        c.control("POST", "/rules", {"match": {"prompt": "busy"}, "respond": {"code": 24, "httpStatus": 429}})
        c.post("/mj/submit/imagine", {"prompt": "a busy market"})
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(server.base_url + "/_mockmj/ui")
            images_loaded(page, "[data-testid=thumb]", 5, timeout_ms=60_000)
            page.wait_for_selector("[data-stalled]")
            page.screenshot(path=str(ROOT / "docs" / "dashboard.png"))
            page.goto(server.base_url + "/_mockmj/ui#journal?show=calls")  # not the page's own image loads
            page.locator("[data-testid=journal-row] [data-testid=mark-rule]").first.click()
            page.wait_for_selector("[data-testid=entry-detail]")
            page.evaluate("window.scrollTo(0, 0)")  # the click scrolled its row into view
            page.screenshot(path=str(ROOT / "docs" / "dashboard-journal.png"))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
