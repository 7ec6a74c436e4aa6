"""The contract suite is tested too: it passes against its default target (the in-process mock it starts
itself), and never spends more than its budget. (Its mutation self-check, against a real `mockmj serve`, is
tests/contract/test_contract_mutations.py.)

Every run is a real pytest run of `contracts` in a fresh process (forked from one warm interpreter, as
the mutation self-check does: runner.run_many); assertions read the suite's JSON report, and for the budget
the mock's own request journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mockmj.serve.inprocess import start_mock
from tests.contract_selftest.runner import SuiteRun, run_many

BUDGETS = (0, 1, 5)
# The default target is the in-process mock in the 88api dialect, per-poll, with the suite's two listed keys.
# The whole suite against that configuration runs once, shared: the mutation self-check's clean "88api keyed"
# run, against `mockmj serve` serving the same app. Here a selection shows that the default target starts,
# serves tasks, keys and callbacks, and that the run writes its three reports.
DEFAULT_TARGET_CLAUSES = "ENV-*,TASK-*,AUTH-*,CB-*"


def _journal_billable(base: str) -> tuple[int, list[dict[str, Any]]]:
    data = requests.get(f"{base}/_mockmj/requests", params={"limit": 100000}, timeout=10).json()
    items = [i for i in data["items"] if i.get("billable")]
    return len(items), items


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[SuiteRun, Any]]]:
    """Every run of this module, two at a time: name → (the run, the billable requests its mock journaled)."""
    tmp = tmp_path_factory.mktemp("suite")
    with contextlib.ExitStack() as stack:
        servers = {}
        for budget in BUDGETS:
            server = start_mock(dialect="88api", timing="per-poll", seed=3)
            stack.callback(server.stop)
            servers[f"budget {budget}"] = server
        jobs = {"default target": (["--mj-dialect", "88api", "--mj-clauses", DEFAULT_TARGET_CLAUSES],
                                   tmp / "default")}
        for budget in BUDGETS:
            jobs[f"budget {budget}"] = (["--mj-base-url", servers[f"budget {budget}"].base_url, "--mj-budget",
                                         str(budget)], tmp / f"budget-{budget}")
        done = run_many(jobs, parallel=2, timeout=900)
        yield {name: (run, _journal_billable(servers[name].base_url) if name in servers else None)
               for name, run in done.items()}


# -- the default target passes ------------------------------------------------------------------------------
def test_suite_passes_against_the_in_process_mock(runs: dict[str, tuple[SuiteRun, Any]]) -> None:
    run, _ = runs["default target"]
    assert run.returncode == 0, run.explain()
    selected = [c for c in run.report["clauses"] if c["selected"]]
    assert {c["id"].split("-")[0] for c in selected} == {"ENV", "TASK", "AUTH", "CB"}, run.explain()
    not_passed = [c["id"] for c in selected if c["status"] != "passed"]
    assert not not_passed, f"not passed: {not_passed}\n{run.explain()}"
    assert run.report["target"]["in_process"], run.report["target"]
    assert Path(run.report["files"][2]).read_text("utf-8").startswith("<?xml")  # the JUnit XML beside the others


# -- the budget holds ------------------------------------------------------------------------------------
@pytest.mark.parametrize("budget", BUDGETS)
def test_budget_is_never_exceeded(budget: int, runs: dict[str, tuple[SuiteRun, Any]]) -> None:
    run, (sent, items) = runs[f"budget {budget}"]
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
