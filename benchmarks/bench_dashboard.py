"""What the dashboard's polling costs the mock (printed, never asserted).

    python benchmarks/bench_dashboard.py [--tasks 1000] [--polls 50]

With N stored tasks (half finished, a tenth with children), one dashboard poll of the tasks view is
GET /_mockmj/health + GET /_mockmj/clock + GET /_mockmj/tasks?limit=100; a task page adds
GET /_mockmj/tasks/{id} and its timeline. Prints p50/p95 of each and the size of a tasks page.
"""

from __future__ import annotations

import argparse
import statistics
import time

import requests

from mockmj.config import AccountConfig
from mockmj.serve.inprocess import start_mock

HEADERS = {"Authorization": "Bearer bench", "Content-Type": "application/json"}


def timed(session: requests.Session, url: str, count: int) -> tuple[float, float, int]:
    samples, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        r = session.get(url, timeout=30)
        samples.append(time.perf_counter() - started)
        size = len(r.content)
        assert r.status_code == 200, r.text
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(0.95 * (len(samples) - 1))] * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=50)
    args = parser.parse_args()
    server = start_mock(timing="manual", seed=1, accounts=[AccountConfig(core_size=args.tasks, queue_size=0)])
    session = requests.Session()
    base = server.base_url
    try:
        ids = [session.post(base + "/mj/submit/imagine", json={"prompt": f"task {n}"}, headers=HEADERS,
                            timeout=30).json()["result"] for n in range(args.tasks // 2)]
        session.post(base + "/_mockmj/clock/advance", json={"seconds": 60}, timeout=30)
        for task_id in ids[: args.tasks // 10]:
            task = session.get(f"{base}/mj/task/{task_id}/fetch", headers=HEADERS, timeout=30).json()
            press = {"taskId": task_id, "customId": task["buttons"][0]["customId"]}
            session.post(base + "/mj/submit/action", json=press, headers=HEADERS, timeout=30)
        for n in range(args.tasks - len(ids) - args.tasks // 10):
            session.post(base + "/mj/submit/imagine", json={"prompt": f"later {n}"}, headers=HEADERS, timeout=30)
        total = session.get(base + "/_mockmj/health", timeout=30).json()["tasks"]
        print(f"stored tasks: {total}")
        rows = [("GET /_mockmj/health", "/_mockmj/health"), ("GET /_mockmj/clock", "/_mockmj/clock"),
                ("GET /_mockmj/tasks?limit=100", "/_mockmj/tasks?limit=100"),
                ("GET /_mockmj/tasks?status=SUCCESS&limit=100", "/_mockmj/tasks?status=SUCCESS&limit=100"),
                ("GET /_mockmj/tasks/{id} (with a child)", f"/_mockmj/tasks/{ids[0]}"),
                ("GET /_mockmj/tasks/{id}/timeline", f"/_mockmj/tasks/{ids[0]}/timeline")]
        for label, path in rows:
            p50, p95, size = timed(session, base + path, args.polls)
            print(f"{label:48s} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  {size / 1024:7.1f} KB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
