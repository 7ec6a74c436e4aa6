"""The contract suite is tested too: it must fail, through the right clause, against a corrupted mock,
pass against the real one in every dialect, and never spend more than its budget.

Every run is a real `python -m pytest contracts ...` subprocess against a mock listening on a real
port; assertions read the suite's JSON report, and for the budget the mock's own request journal.
Runs are started concurrently (two at a time) to keep the wall time bounded on two cores.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from mockmj.server import start_mock
from tests.contract_selftest.corruptions import CORRUPTIONS, Corruption
from tests.contract_selftest.runner import SuiteRun, run_suite, served

POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="contract-suite-run")


def _corrupted_run(c: Corruption, tmp: Path) -> SuiteRun:
    server = start_mock(dialect=c.dialect, timing="per-poll", seed=7, app_wrapper=c.make())
    try:
        return run_suite(["--mj-base-url", server.base_url, "--mj-clauses", c.select],
                         tmp / f"corrupt-{CORRUPTIONS.index(c)}", timeout=180)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def corrupted_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[SuiteRun]]:
    tmp = tmp_path_factory.mktemp("corrupted")
    return {c.name: POOL.submit(_corrupted_run, c, tmp) for c in CORRUPTIONS}


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=[c.name for c in CORRUPTIONS])
def test_suite_detects_corruption(corruption: Corruption, corrupted_runs: dict[str, Future[SuiteRun]]) -> None:
    run = corrupted_runs[corruption.name].result(timeout=300)
    assert run.returncode != 0, run.explain()
    assert run.status(corruption.clause) == "failed", run.explain()
    assert run.clause(corruption.clause)["evidence"], run.explain()


# -- the real mock passes ------------------------------------------------------------------------------
SERVE_KEYS = ("served-key-1", "served-key-2")


def _served_run(dialect: str, timing: str, tmp: Path) -> SuiteRun:
    keys = [arg for k in SERVE_KEYS for arg in ("--api-key", k)]
    with served("--dialect", dialect, "--timing", timing, *keys) as base:
        return run_suite(["--mj-base-url", base, "--mj-api-key", SERVE_KEYS[0], "--mj-second-key", SERVE_KEYS[1]],
                         tmp / f"serve-{dialect}", timeout=300)


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[SuiteRun]]:
    tmp = tmp_path_factory.mktemp("real")
    return {
        "in-process 88api": POOL.submit(run_suite, ["--mj-dialect", "88api"], tmp / "inproc-88api", 300),
        "in-process proxy": POOL.submit(run_suite, ["--mj-dialect", "proxy"], tmp / "inproc-proxy", 300),
        "serve 88api": POOL.submit(_served_run, "88api", "fast", tmp),
        "serve proxy": POOL.submit(_served_run, "proxy", "fast", tmp),
    }


@pytest.mark.parametrize("which", ["in-process 88api", "in-process proxy", "serve 88api", "serve proxy"])
def test_suite_passes_against_the_mock(which: str, real_runs: dict[str, Future[SuiteRun]]) -> None:
    run = real_runs[which].result(timeout=400)
    assert run.returncode == 0, run.explain()
    assert not run.failed(), run.explain()
    not_passed = [c["id"] for c in run.report["clauses"] if c["status"] != "passed"]
    assert not not_passed, f"not passed: {not_passed}\n{run.explain()}"


# -- the budget holds ------------------------------------------------------------------------------------
def _journal_billable(base: str) -> tuple[int, list[dict[str, Any]]]:
    data = requests.get(f"{base}/_mockmj/requests", params={"limit": 100000}, timeout=10).json()
    items = [i for i in data["items"] if i.get("billable")]
    return len(items), items


@pytest.mark.parametrize("budget", [0, 1, 5])
def test_budget_is_never_exceeded(budget: int, tmp_path: Path) -> None:
    server = start_mock(dialect="88api", timing="per-poll", seed=3)
    try:
        run = run_suite(["--mj-base-url", server.base_url, "--mj-budget", str(budget)], tmp_path / "budget",
                        timeout=240)
        sent, items = _journal_billable(server.base_url)
    finally:
        server.stop()
    assert sent <= budget, f"{sent} billable requests reached the mock: {items}\n{run.explain()}"
    assert run.report["budget"]["used"] == sent, run.explain()
    assert run.report["budget"]["limit"] == budget
    assert not run.failed(), run.explain()
    if budget == 0:
        for cid in ("ENV-3", "LIFE-1", "CB-1"):  # they need a task, and a task costs a submission
            assert run.status(cid) == "not verified", run.explain()
            assert "budget" in run.clause(cid)["reason"], run.clause(cid)
    else:
        assert sent == budget, f"a budget of {budget} should be used: only {sent} sent\n{run.explain()}"

