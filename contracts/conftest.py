"""The contract suite's pytest plugin: options, target fixtures, ordering, budget and the report.

Every test declares the clauses it is responsible for (`@pytest.mark.clauses(...)`) and what it may
spend (`@pytest.mark.cost(billable=N, priority=P)`). Read-only tests run first, then billable ones
in priority order, so a small budget goes to the most informative clauses. A test that cannot run
(budget, missing option, dialect) is skipped with a reason, and the reason lands in the report.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

import pytest

from . import coverage as coverage_mod
from . import report as report_mod
from . import runtime
from .clauses import CLAUSES, Recorder
from .client import Client, is_billable
from .common import NOT_APPLICABLE, need_budget
from .observe import Observer
from .options import add_options, read_options
from .probe import Followed, run_probe
from .target import Target
from .tasks import Made, make_task, press_and_finish

REPORT_KEY = pytest.StashKey[dict[str, Any]]()
FAILS_KEY = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    parser.addoption("--mj-progress", action="store_true", default=False,
                     help="one line per clause group and the clause table (what `mockmj contract` shows)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clauses(*ids): contract clauses this test is responsible for")
    config.addinivalue_line("markers", "cost(billable=0, priority=50): billable requests it may send, and order")
    opts = read_options(config)
    unknown = [p for p in opts.clauses if not any(fnmatch.fnmatchcase(c, p) for c in CLAUSES)]
    if unknown:
        raise pytest.UsageError(f"--mj-clauses: no clause matches {unknown}; known: {', '.join(CLAUSES)}")
    run = runtime.Run(opts)
    run.rec.selected = {cid for cid in CLAUSES if opts.selects(cid)}
    runtime.RUN = run
    if config.getoption("mj_progress"):
        from .progress import Progress

        config.pluginmanager.register(Progress(run.rec, item_clauses, report_key=REPORT_KEY), "mj-progress")


def item_clauses(item: pytest.Item) -> list[str]:
    label = getattr(item, "operation_label", None)  # a schemathesis item: one per operation
    if isinstance(label, str) and " " in label:
        return ["SCHEMA-2" if is_billable(*label.split(" ", 1)) else "SCHEMA-1"]
    ids: list[str] = []
    for mark in item.iter_markers("clauses"):
        ids.extend(mark.args)
    return ids


def item_cost(item: pytest.Item) -> tuple[int, int]:
    label = getattr(item, "operation_label", None)  # a schemathesis item: one per operation
    if isinstance(label, str) and " " in label:
        method, path = label.split(" ", 1)
        return (1, 70) if is_billable(method, path) else (0, 6)
    mark = item.get_closest_marker("cost")
    if mark is None:
        return 0, 50
    return int(mark.kwargs.get("billable", 0)), int(mark.kwargs.get("priority", 50))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    run = runtime.current()
    mine = [i for i in items if i.get_closest_marker("clauses") is not None]
    if run.opts.clauses:
        keep, drop = [], []
        for item in items:
            wanted = item not in mine or any(run.opts.selects(c) for c in item_clauses(item))
            (keep if wanted else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
    # read-only first, then billable by priority; the sort is stable, so parametrized items stay together.
    # Other tests collected in the same session (the project's own) keep their order, before ours.
    mine_ids = {id(i) for i in mine}
    position = {id(item): n for n, item in enumerate(items)}
    others = [i for i in items if id(i) not in mine_ids]
    ours = sorted((i for i in items if id(i) in mine_ids),
                  key=lambda it: (min(item_cost(it)[0], 1), item_cost(it)[1], position[id(it)]))
    items[:] = others + ours


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = runtime.current()
    run.rec.current_test = item.name
    if item.get_closest_marker("clauses") is not None:
        run.extras["clauses_ran"] = True
    item.stash[FAILS_KEY] = run.rec.failure_count


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    rep = yield
    clauses = item_clauses(item)
    if not clauses or runtime.RUN is None:
        return rep
    rec = runtime.RUN.rec
    rep.user_properties.append(("clauses", ",".join(clauses)))
    if rep.skipped and rep.when in ("setup", "call"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        reason = re.sub(r"^(?:Skipped|[\w.]+\.BudgetExhausted): ", "", reason)
        if reason.startswith(NOT_APPLICABLE):
            for cid in clauses:
                rec.not_applicable(cid, reason.removeprefix(NOT_APPLICABLE))
        else:
            for cid in clauses:
                rec.not_run(cid, reason)
            if "budget" in reason:  # what a larger budget would buy: the report sums these
                runtime.RUN.extras.setdefault("budget_skipped", []).append((item.name, item_cost(item)[0]))
    elif rep.failed and rep.when in ("setup", "call") and rec.failure_count == item.stash.get(FAILS_KEY, 0):
        # a failure no clause check explained (an exception, a crash): blame the test's first clause
        text = call.excinfo.exconly() if call.excinfo else str(rep.longrepr)
        rec.record(clauses[0], False, f"{item.name}: {' '.join(text.split())[:600]}")
    return rep


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = runtime.RUN
    if run is None or not run.extras.get("clauses_ran"):
        # no clause ran in this process (the suite deselected, or pytest-xdist's controller, or a worker that
        # got none): there is nothing to judge, and the report belongs to the process that ran them
        return
    skipped_for_budget = run.extras.get("budget_skipped", [])
    meta: dict[str, Any] = {
        "options": run.opts.as_dict(),
        "target": run.target().as_dict() if run.started else {"base_url": run.opts.base_url or "(not started)",
                                                              "dialect": run.opts.dialect},
        "budget": {"limit": "unlimited" if run.budget.limit is None else run.budget.limit,
                   "used": run.budget.used, "refused": run.budget.refused,
                   "tests_skipped_for_budget": [name for name, _ in skipped_for_budget],
                   # a budget that would have let every test the budget stopped run (each declares its cost)
                   "would_check_all": run.budget.used + sum(cost for _, cost in skipped_for_budget)},
        "requests": {"total": run.counters.requests, "billable": run.counters.billable,
                     "by_operation": dict(sorted(run.counters.by_path.items()))},
        "coverage": coverage_mod.report(run.coverage, run.opts.spec, run.target().expect if run.started else None),
    }
    rep = report_mod.build(run.rec, meta)
    verdict = report_mod.verdict(rep, strict=run.opts.strict, min_coverage=run.opts.min_coverage)
    rep["verdict"] = verdict
    rep["files"] = [str(p) for p in report_mod.write(rep, run.opts.report)]
    session.config.stash[REPORT_KEY] = rep
    run.close()
    if not verdict["ok"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rep = config.stash.get(REPORT_KEY, None)
    if rep is None:
        return
    terminalreporter.write_sep("=", "contract clauses")
    for line in report_mod.terminal_lines(rep, width=terminalreporter._tw.fullwidth):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"report: {', '.join(rep['files'])}")


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def run() -> runtime.Run:
    return runtime.current()


@pytest.fixture(scope="session")
def target(run: runtime.Run) -> Target:
    return run.usable_target()


@pytest.fixture(scope="session")
def client(run: runtime.Run, target: Target) -> Client:
    return run.client()


@pytest.fixture(scope="session")
def rec(run: runtime.Run) -> Recorder:
    return run.rec


@pytest.fixture(scope="session")
def observer(run: runtime.Run, target: Target) -> Observer:
    return run.observer()


@pytest.fixture(scope="session")
def probe(client: Client, target: Target, run: runtime.Run) -> Followed:
    """The run's one Imagine task, followed to its end (see contracts/probe.py)."""
    need_budget(run, 1)
    return run_probe(client, target, run.opts.task_timeout)


@pytest.fixture(scope="session")
def v7(client: Client, target: Target, run: runtime.Run, rec: Recorder, observer: Observer) -> Made:
    """A finished `--v 7 --ar 2:3` grid and its finished U1, for the clauses that need V7's buttons whatever the
    deployment's default model (V8/V8.1 upscaled images have no Upscale, Zoom or Pan buttons)."""
    need_budget(run, 2)
    grid = make_task(client, target, rec, observer, "/mj/submit/imagine",
                     {"prompt": "contract grid: a lighthouse at dusk --v 7 --ar 2:3"}, "a --v 7 --ar 2:3 Imagine")
    u1 = press_and_finish(client, target, rec, observer, grid, "upsample", "U1 of the --v 7 grid", index=1)
    return Made(grid=grid, upscaled=u1)
