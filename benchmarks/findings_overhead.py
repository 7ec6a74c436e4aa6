"""What the findings tracker costs per request: `Findings.observe` for a mix of submits and fetches.

    python benchmarks/findings_overhead.py [N]

Prints microseconds per observed request and the tracker's bound (tasks kept per key)."""

from __future__ import annotations

import sys
import time

from mockmj.engine.findings import MAX_TASKS, Findings, Seen


def main(n: int) -> None:
    tracker = Findings()
    seen = []
    for i in range(n):
        key = f"key-{i % 50}"
        if i % 5 == 0:
            seen.append(Seen(key=key, kind="submit", method="POST", path="/mj/submit/imagine", status=200, code=1,
                             created=str(i), body=b'{"prompt":"a cat"}'))
        else:
            task = str(i - i % 5)
            seen.append(Seen(key=f"key-{(i - i % 5) % 50}", kind="fetch", method="GET", path=f"/mj/task/{task}/fetch",
                             status=200, task_id=task, task_status="IN_PROGRESS"))
    started = time.perf_counter()
    for s in seen:
        tracker.observe(s)
    observe = time.perf_counter() - started
    started = time.perf_counter()
    found = tracker.of(final=True)
    verdict = time.perf_counter() - started
    print(f"{n} requests observed: {observe / n * 1e6:.2f} µs each; "
          f"findings of 50 keys ({len(found)} found) in {verdict * 1000:.1f} ms; at most {MAX_TASKS} tasks per key")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
