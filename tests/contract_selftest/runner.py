"""Run the contract suite as a user would (a pytest subprocess) and read its JSON report."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

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


def run_suite(args: list[str], report_stem: Path, timeout: float = 240.0,
              env: dict[str, str] | None = None) -> SuiteRun:
    """`python -m pytest contracts ARGS --mj-report STEM` from the repository root."""
    cmd = [sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           "--assert=plain",
           "--mj-report", str(report_stem), *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MJ_")}
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=full_env,
                          check=False)
    json_path = report_stem.with_name(report_stem.name + ".json")
    report = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {"clauses": []}
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, report)


def run_command(args: list[str], cwd: Path, timeout: float = 300.0) -> SuiteRun:
    """`mockmj contract ARGS` as a user types it, from `cwd` (an empty directory), report in `cwd`."""
    cmd = [sys.executable, "-m", "mockmj", "contract", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJ_")}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    json_path = cwd / "contract-report.json"
    report = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {"clauses": []}
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, report)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(*args: str) -> Iterator[str]:
    """A real `mockmj serve ARGS` process on a free port; yields its base URL, stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mockmj", "serve", "--port", str(port), *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
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
