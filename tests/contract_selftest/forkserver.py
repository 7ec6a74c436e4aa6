"""Many contract-suite runs from one warm interpreter: `python -m tests.contract_selftest.forkserver N` reads a
JSON list of jobs on stdin and runs each as `pytest.main(args)` in a child forked from this process, N at a
time, printing one JSON line per finished job.

A run of the suite is a fresh pytest session in a fresh process, exactly as `python -m pytest contracts ...`,
without paying each time for the interpreter and the imports (pytest, schemathesis, hypothesis, Pillow, PyAV:
about 3 s of a small run's 4-5). Only libraries are imported before forking; the suite itself (`contracts`)
is imported in each child, so no run sees another's state. The parent runs no thread, so a fork never copies
a lock another thread holds.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import av  # noqa: F401 - imported once here, so that every child starts warm
import hypothesis  # noqa: F401
import PIL.Image  # noqa: F401
import pytest
import requests  # noqa: F401
import schemathesis  # noqa: F401
import yaml  # noqa: F401


def child(job: dict[str, Any]) -> None:
    """Run one job with its output in its file; never returns."""
    code = 3
    try:
        fd = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.clear()
        os.environ.update(job["env"])
        code = int(pytest.main(job["args"]))
    except BaseException:  # the job's output is where its failure is told
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    parallel = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    pending: list[dict[str, Any]] = json.loads(sys.stdin.read())
    running: dict[int, dict[str, Any]] = {}
    while pending or running:
        while pending and len(running) < parallel:
            job = pending.pop(0)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                child(job)
            running[pid] = job
        pid, status = os.wait()
        job = running.pop(pid)
        print(json.dumps({"id": job["id"], "returncode": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    main()
