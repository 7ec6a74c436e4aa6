"""The mutation self-check of the contract suite: against a real `mockmj serve` behind a proxy that breaks one
promise (tests/contract_selftest/corruptions.py, applied by tests/contract_selftest/proxy.py), the suite must
fail, through the clause that promise belongs to; behind the same proxy with nothing broken it must pass,
with no false alarm, in both dialects and in both auth modes (listed keys, any key; the schema clauses, which
do not depend on the auth mode, run with listed keys).

Four `mockmj serve --timing per-poll` processes (two dialects × two auth modes) are shared by every run (a task
moves when it is polled, so no run waits on a clock); each run has keys of its own, so no run sees another's
tasks. Runs are fresh pytest sessions forked from one warm interpreter, two at
a time (tests/contract_selftest/forkserver.py), which keeps the whole module to a few minutes on two cores.
A corruption runs only the tests of the clauses it selects, without the lifecycle state machine (which checks
again, at random, what the probe's tests check once); the clean runs run the whole suite.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.clauses import CLAUSES
from tests.contract_selftest.corruptions import CORRUPTIONS, KEY_PREFIX, Corruption
from tests.contract_selftest.proxy import CorruptingProxy, stop_all
from tests.contract_selftest.runner import SuiteRun, run_many, served

# every run of the module happens in the first test's setup (one shared fixture): a few minutes on two quiet
# cores, more on a loaded machine
pytestmark = pytest.mark.timeout(1800)

DIALECTS = ("88api", "proxy")
MODES = ("keyed", "any-key")
CLEAN = [(d, m) for d in DIALECTS for m in MODES]
KEYS = [f"{KEY_PREFIX}{i}" for i in range(2 * (len(CORRUPTIONS) + len(CLEAN)))]
# Clauses a mode cannot check, as the target says of itself in /_mockmj/health: with auth "any-key" no key is
# wrong; a proxy-dialect mock without keys checks none (auth "none"), as upstream does without a secret.
NOT_APPLICABLE = {("88api", "keyed"): set(), ("proxy", "keyed"): set(), ("88api", "any-key"): {"AUTH-2"},
                  ("proxy", "any-key"): {"AUTH-1", "AUTH-2", "AUTH-3"}}


WITHOUT_MACHINE = ("-k", "not test_lifecycle_machine")
# schemathesis (SCHEMA-*, about 1,000 requests, half a run) does not depend on the auth mode: the keyed runs
# have it, the any-key runs every other clause
CLEAN_ARGS = {"keyed": [], "any-key": ["--mj-clauses", ",".join(sorted({cid.split("-")[0] + "-*" for cid in CLAUSES
                                                                      if not cid.startswith("SCHEMA-")}))]}


def mode_of(c: Corruption) -> str:
    """Corruptions alternate between the auth modes unless they need one."""
    return c.mode or MODES[CORRUPTIONS.index(c) % 2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SuiteRun]]:
    tmp = tmp_path_factory.mktemp("mutations")
    keys = iter(zip(KEYS[::2], KEYS[1::2], strict=True))
    with contextlib.ExitStack() as stack:
        upstream = {}
        for dialect, mode in CLEAN:
            listed = [arg for k in KEYS for arg in ("--api-key", k)] if mode == "keyed" else []
            upstream[(dialect, mode)] = stack.enter_context(served("--dialect", dialect, "--timing", "per-poll",
                                                                   *listed))
        jobs: dict[str, tuple[list[str], Path]] = {}
        proxies: list[CorruptingProxy] = []
        stack.callback(stop_all, proxies)

        def job(name: str, upstream_url: str, corruption: Corruption | None, extra: list[str]) -> None:
            proxy = CorruptingProxy(upstream_url, corruption.make() if corruption else None)
            proxies.append(proxy)
            key, second = next(keys)
            jobs[name] = (["--mj-base-url", proxy.base_url, "--mj-api-key", key, "--mj-second-key", second, *extra],
                          tmp / f"run-{len(jobs)}")

        for dialect, mode in CLEAN:  # the long ones first, so that the short ones fill the gaps
            job(f"clean {dialect} {mode}", upstream[(dialect, mode)], None, CLEAN_ARGS[mode])
        for c in CORRUPTIONS:
            # the state machine checks again what the probe's tests check once; the clean runs run it
            job(c.name, upstream[(c.dialect, mode_of(c))], c, ["--mj-clauses", c.select, *WITHOUT_MACHINE])
        yield run_many(jobs, parallel=2, timeout=1500)


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=[c.name for c in CORRUPTIONS])
def test_the_suite_catches_each_corruption(corruption: Corruption, runs: dict[str, SuiteRun]) -> None:
    run = runs[corruption.name]
    assert run.returncode == 1, run.explain()
    assert run.status(corruption.clause) == "failed", run.explain()
    assert run.clause(corruption.clause)["evidence"], run.explain()


@pytest.mark.parametrize(("dialect", "mode"), CLEAN, ids=[f"{d} {m}" for d, m in CLEAN])
def test_no_false_alarm_behind_the_clean_proxy(dialect: str, mode: str, runs: dict[str, SuiteRun]) -> None:
    run = runs[f"clean {dialect} {mode}"]
    assert run.returncode == 0, run.explain()
    statuses = {c["id"]: c["status"] for c in run.report["clauses"] if c["selected"]}
    assert len(statuses) == len(CLAUSES) - (2 if CLEAN_ARGS[mode] else 0), run.explain()
    assert {cid for cid, s in statuses.items() if s != "passed"} == NOT_APPLICABLE[(dialect, mode)], run.explain()
    assert all(statuses[cid] == "not applicable" for cid in NOT_APPLICABLE[(dialect, mode)]), run.explain()
    assert run.report["verdict"]["ok"] and not run.report["verdict"]["unverified"]
    if not CLEAN_ARGS[mode]:  # the whole suite (the suite's one whole run against listed keys, in each dialect)
        assert run.report["coverage"]["percent"] > 80, run.report["coverage"]


def test_the_kill_ratio_is_whole(runs: dict[str, SuiteRun]) -> None:
    """Every corruption killed (the figure the documentation quotes), and both dialects and modes exercised."""
    killed = [c.name for c in CORRUPTIONS if runs[c.name].status(c.clause) == "failed"]
    assert len(killed) == len(CORRUPTIONS), sorted(set(c.name for c in CORRUPTIONS) - set(killed))
    assert {(c.dialect, mode_of(c)) for c in CORRUPTIONS} == set(CLEAN)
