"""What a whole run of the contract suite costs against a local mock (printed, never asserted).

    python benchmarks/bench_contract_suite.py [--targets inprocess,serve-88api,serve-proxy] [--timing per-poll]

For each target: wall time of `python -m pytest contracts` (the whole suite, every clause), CPU time of the run
and of the mock, requests and billable requests sent, the clause verdicts, the coverage the report gives, and
the five slowest tests. The load average is printed first: on a shared machine the wall time follows it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.contract_selftest.runner import served  # noqa: E402 - the repository root first


def run(args: list[str], stem: Path) -> tuple[float, float, dict, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider",
                           "--durations=5", "--mj-report", str(stem), *args], cwd=REPO, capture_output=True,
                          text=True, env={k: v for k, v in os.environ.items() if not k.startswith("MJ_")},
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads(stem.with_name(stem.name + ".json").read_text("utf-8"))
    return wall, cpu, report, proc.stdout


def show(name: str, wall: float, cpu: float, report: dict, output: str) -> None:
    s, req, cov = report["summary"], report["requests"], report["coverage"]
    print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU (suite and mock processes it waited for)")
    print(f"  requests {req['total']}, billable {req['billable']}; verdict "
          f"{'pass' if report['verdict']['ok'] else 'FAIL ' + '; '.join(report['verdict']['reasons'])}")
    print("  " + ", ".join(f"{n} {k}" for k, n in s.items()))
    print(f"  coverage {cov['percent']}%: " + ", ".join(f"{d} {cov[d]['ratio']}" for d in
                                                       ("operations", "actions", "button kinds", "statuses",
                                                        "codes", "HTTP statuses")))
    for line in re.findall(r"^\s*([0-9.]+s call .*)$", output, re.MULTILINE)[:5]:
        print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", default="inprocess,serve-88api,serve-proxy")
    parser.add_argument("--timing", default="per-poll", help="timing of the mock (per-poll, fast)")
    opts = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for name in opts.targets.split(","):
            stem = Path(tmp) / name
            if name == "inprocess":
                show(name, *run(["--mj-mock-timing", opts.timing], stem))
                continue
            dialect = name.split("-", 1)[1]
            with served("--dialect", dialect, "--timing", opts.timing, "--api-key", "bench-1", "--api-key",
                        "bench-2") as base:
                show(f"{name} ({opts.timing})", *run(["--mj-base-url", base, "--mj-api-key", "bench-1",
                                                      "--mj-second-key", "bench-2"], stem))


if __name__ == "__main__":
    main()
