"""The application beside mockmj in compose.yaml: submit an imagine, poll it to SUCCESS, download the grid.
Standard library only, so it runs in a bare python image. MJ_BASE_URL and MJ_API_KEY say where and who."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

BASE = os.environ.get("MJ_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
KEY = os.environ.get("MJ_API_KEY", "demo")


def call(method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method, headers={
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main() -> int:
    submitted = call("POST", "/mj/submit/imagine", {"prompt": "a red fox in the snow --ar 3:2"})
    if submitted["code"] != 1:
        print(f"submit refused: {submitted}", file=sys.stderr)
        return 1
    task_id = submitted["result"]
    deadline = time.monotonic() + 60
    while True:
        task = call("GET", f"/mj/task/{task_id}/fetch")
        if task["status"] in ("SUCCESS", "FAILURE", "CANCEL"):
            break
        if time.monotonic() > deadline:
            print(f"task {task_id} did not finish: {task['status']}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    if task["status"] != "SUCCESS":
        print(f"task {task_id} ended {task['status']}: {task['failReason']}", file=sys.stderr)
        return 1
    with urllib.request.urlopen(task["imageUrl"], timeout=10) as image:
        size = len(image.read())
    print(f"task {task_id} SUCCESS, image {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
