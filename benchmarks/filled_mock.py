"""A mockmj server holding N finished tasks, for bench_compare.py's fetch-versus-store-size measure.

    python benchmarks/filled_mock.py --tasks 1000000 [--fill copies|engine]

It builds the same app `mockmj serve` builds (create_app) on the same server (mockmj.serve.waitress.waitress_server,
8 threads), fills it in-process, then prints one JSON line (port, a sample of stored ids, fill time, peak
memory) and serves until it is terminated.

How it fills (the timing is `manual`, so that every task can be finished by moving the virtual clock):
- `engine`: every task is a real imagine submission through the engine, then the clock is moved until all
  are SUCCESS. Honest to the last byte, but a submission costs ~0.3–1 ms here: 1,000,000 take 5–17 min.
- `copies` (default): the first 1,000 tasks are real submissions, finished the same way; the others are
  copies of those finished tasks with fresh ids of the same format, each with its own milestones and
  properties (so the heap holds about as many objects per task as real ones), added through the task
  store's own `add`. A fetch reads one task by id, so what it meets is the same: a dict of N tasks and a
  heap of N tasks' objects for the garbage collector.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import random
import resource
import sys
import time
from typing import Any

from mockmj.config import AccountConfig, load_settings
from mockmj.engine.facade import Caller, Engine
from mockmj.engine.submissions import submit as submissions
from mockmj.model.tasks import TERMINAL, MilestonePath, Task
from mockmj.serve.waitress import waitress_server
from mockmj.web.app import create_app

KEY = "bench-key"
REAL_TASKS = 1_000  # submitted through the engine in every mode
SAMPLE = 1_000  # ids handed to the load generator, spread over the whole store
# A task of `manual` timing takes ~10 virtual seconds on one of the account's 3 slots: this is far
# beyond what 1,000,000 serialised tasks need (~3.3e9 ms), and moving a virtual clock costs nothing.
CLOCK_JUMP_MS = 10**11


def submit_real(engine: Engine, caller: Caller, count: int) -> list[str]:
    return [submissions.imagine(engine, caller, {"prompt": f"stored task {i} --ar 3:2"}).result
            for i in range(count)]


def copy_task(template: Task, task_id: str) -> Task:
    """A finished task like the template under another id, stored as the engine stores its own: its own
    milestone path (the compact kind) and properties; immutable parts (recipe, outcome, choices) shared."""
    clone = copy.copy(template)
    clone.id = task_id
    clone.milestones = MilestonePath(template.milestones)
    clone.properties = dict(template.properties)
    clone.media_paths = []
    return clone


def fill(engine: Engine, caller: Caller, tasks: int, mode: str) -> list[str]:
    real = tasks if mode == "engine" else min(tasks, REAL_TASKS)
    ids = submit_real(engine, caller, real)
    engine.advance(CLOCK_JUMP_MS)
    templates = [engine.task(i) for i in ids]
    assert all(t is not None and engine.views.status_of(t) in TERMINAL for t in templates), "tasks left unfinished"
    # ids of the API's format (13-digit milliseconds + 3 digits), after every id issued so far
    base_ms = engine.now() + 1
    for n in range(tasks - real):
        task_id = f"{base_ms + n // 1000}{n % 1000:03d}"
        engine.adopt(copy_task(templates[n % real], task_id))  # type: ignore[arg-type]
        ids.append(task_id)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--fill", choices=["copies", "engine"], default="copies")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=8, help="as `mockmj serve --threads` (default 8)")
    args = parser.parse_args()
    # room for every task (max_tasks would evict beyond it), money for every submission, a queue that
    # takes them all; nothing else differs from `mockmj serve`'s defaults
    settings = load_settings(None, timing="manual", max_tasks=max(args.tasks, 100_000),
                             default_balance=10 * args.tasks + 10,
                             accounts=[AccountConfig(queue_size=args.tasks + 10)])
    app = create_app(settings)
    server = waitress_server(app, args.host, args.port, args.threads)
    port = int(server.effective_port)
    engine: Engine = app.extensions["mockmj"].engine
    started = time.perf_counter()
    # the collector would walk the growing heap again and again while it fills; it is back on (and has
    # seen every task once) before the first request is served
    gc.disable()
    ids = fill(engine, Caller(key=KEY, origin=f"http://{args.host}:{port}"), args.tasks, args.fill)
    gc.enable()
    gc.collect()
    seconds = time.perf_counter() - started
    sample = random.Random(10).sample(ids, min(SAMPLE, len(ids)))
    ready: dict[str, Any] = {"port": port, "stored": engine.task_count(), "fill": args.fill,
                             "fill_seconds": round(seconds, 1), "ids": sample,
                             "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
    print(json.dumps(ready), flush=True)
    sys.stdout.close()  # the harness reads one line; nothing more will come
    server.run()


if __name__ == "__main__":
    main()
