"""Run the contract suite as a user would (a pytest subprocess) and read its JSON report."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class SuiteRun:
    returncode: int
    output: str
    report: dict[str, Any]

    def clause(self, cid: str) -> dict[str, Any]:
        return next(c for c in self.report["clauses"] if c["id"] == cid)

    def status(self, cid: str) -> str:
        return str(self.clause(cid)["status"])

    def failed(self) -> list[str]:
        return [c["id"] for c in self.report["clauses"] if c["status"] == "failed"]

    def explain(self) -> str:
        lines = [f"exit {self.returncode}; failed: {self.failed()}"]
        for c in self.report.get("clauses", []):
            if c["status"] == "failed":
                lines.append(f"  {c['id']}: {c['evidence'][:2]}")
        return "\n".join(lines) + "\n--- output tail ---\n" + self.output[-3000:]


def suite_args(args: list[str], report_stem: Path) -> list[str]:
    return ["contracts", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--assert=plain",
            "--mj-report", str(report_stem), *args]


def suite_env(env: dict[str, str] | None = None) -> dict[str, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MJ_")}
    full_env.update(env or {})
    return full_env


def read_report(report_stem: Path) -> dict[str, Any]:
    json_path = report_stem.with_name(report_stem.name + ".json")
    return json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {"clauses": []}


def run_suite(args: list[str], report_stem: Path, timeout: float = 240.0,
              env: dict[str, str] | None = None) -> SuiteRun:
    """`python -m pytest contracts ARGS --mj-report STEM` from the repository root."""
    cmd = [sys.executable, "-m", "pytest", *suite_args(args, report_stem)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=suite_env(env),
                          check=False)
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, read_report(report_stem))


def run_many(runs: dict[str, tuple[list[str], Path]], parallel: int = 2, timeout: float = 900.0) -> dict[str, SuiteRun]:
    """Several runs of the suite (name → (ARGS, report stem)), `parallel` at a time, each a fresh pytest session
    in a process forked from one warm interpreter (forkserver.py): the same runs as `run_suite`, cheaper."""
    jobs = [{"id": name, "args": suite_args(args, stem), "env": suite_env(),
             "output": str(stem.with_name(stem.name + ".out"))} for name, (args, stem) in runs.items()]
    proc = subprocess.run([sys.executable, "-m", "tests.contract_selftest.forkserver", str(parallel)], cwd=REPO,
                          input=json.dumps(jobs), capture_output=True, text=True, timeout=timeout, check=False)
    codes = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            done = json.loads(line)
            codes[done["id"]] = done["returncode"]
    out = {}
    for job in jobs:
        stem = runs[job["id"]][1]
        output = Path(job["output"]).read_text("utf-8", "replace") if Path(job["output"]).exists() else proc.stderr
        out[job["id"]] = SuiteRun(codes.get(job["id"], -1), output, read_report(stem))
    return out


def run_command(args: list[str], cwd: Path, timeout: float = 300.0) -> SuiteRun:
    """`mockmj contract ARGS` as a user types it, from `cwd` (an empty directory), report in `cwd`."""
    cmd = [sys.executable, "-m", "mockmj", "contract", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJ_")}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    json_path = cwd / "contract-report.json"
    report = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {"clauses": []}
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, report)


@contextlib.contextmanager
def served(*args: str) -> Iterator[str]:
    """A real `mockmj serve ARGS` process on a free port; yields its base URL, stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mockmj", "serve", "--port", str(port), *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a loaded CI machine can take its time to start granian
        while True:
            try:
                if requests.get(f"{base}/_mockmj/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`mockmj serve {' '.join(args)}` did not come up on {base}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
