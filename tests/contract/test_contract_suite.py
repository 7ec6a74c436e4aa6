"""The contract suite is tested too: it passes against the in-process mock (its default target), and never
spends more than its budget. (Its mutation self-check, against a real `mockmj serve`, is
tests/test_contract_mutations.py.)

Every run is a real `python -m pytest contracts ...` subprocess; assertions read the suite's JSON report, and
for the budget the mock's own request journal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from mockmj.serve.inprocess import start_mock
from tests.contract_selftest.runner import run_suite


# -- the in-process default target passes ------------------------------------------------------------------
# (the corruptions, and the clean runs against `mockmj serve` in both dialects and auth modes, are in
# tests/contract/test_contract_mutations.py)
@pytest.mark.timeout(900)  # about a minute on two quiet cores; a loaded machine takes several
def test_suite_passes_against_the_in_process_mock(tmp_path: Path) -> None:
    run = run_suite(["--mj-dialect", "88api"], tmp_path / "inproc-88api", 800)
    assert run.returncode == 0, run.explain()
    not_passed = [c["id"] for c in run.report["clauses"] if c["status"] != "passed"]
    assert not not_passed, f"not passed: {not_passed}\n{run.explain()}"
    assert Path(run.report["files"][2]).read_text("utf-8").startswith("<?xml")  # the JUnit XML beside the others
    assert run.report["coverage"]["percent"] > 80, run.report["coverage"]


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

