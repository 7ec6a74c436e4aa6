"""Quiet output for `mockmj contract`: one line per clause group as it completes, the clause table at the end.

Registered by the suite's conftest when `--mj-progress` is given (the `mockmj contract` command does, and
turns pytest's own terminal output off). A group is the clause id's prefix (AUTH, BAD, ENV, LIFE, ...); its
line is printed when the last test that declares one of its clauses has finished. Checks made later by
other tests can still change a clause, so the table printed at the end is the verdict.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from typing import IO, Any

import pytest

from . import report as report_mod
from .clauses import CLAUSES, STATUSES, Recorder


def group_of(clause_id: str) -> str:
    return clause_id.split("-", 1)[0]


class Progress:
    def __init__(self, rec: Recorder, clauses_of: Callable[[pytest.Item], list[str]], out: IO[str] | None = None,
                 report_key: Any = None) -> None:
        self.rec = rec
        self.clauses_of = clauses_of
        self.out = out or sys.stdout
        self.report_key = report_key
        self.pending: Counter[str] = Counter()  # group -> tests still to finish
        self.groups_of: dict[str, set[str]] = {}  # nodeid -> groups
        self.printed: set[str] = set()

    def write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            groups = {group_of(cid) for cid in self.clauses_of(item)}
            self.groups_of[item.nodeid] = groups
            self.pending.update(groups)
        self.write(f"mockmj contract: {len(items)} tests for {len(CLAUSES)} clauses")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # pytest's terminal output is off: say why collection failed
            self.write(f"collection error in {report.nodeid or '(session)'}:\n{report.longreprtext}")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # pytest.exit() (an unusable target) and Ctrl-C: pytest's terminal output, which would say so, is off
        message = getattr(excinfo.value, "msg", None) or excinfo.typename
        self.write(f"stopped: {message}")

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        for group in self.groups_of.pop(nodeid, set()):
            self.pending[group] -= 1
            if self.pending[group] <= 0:
                self.line_for(group)

    def line_for(self, group: str) -> None:
        if group in self.printed:
            return
        self.printed.add(group)
        statuses = Counter(self.rec.status(cid) for cid in CLAUSES
                           if group_of(cid) == group and cid in self.rec.selected)
        total = sum(statuses.values())
        self.write(f"  {group:<7} {total:>2} clauses: " + ", ".join(f"{statuses[s]} {s}" for s in STATUSES))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for group in sorted({group_of(cid) for cid in CLAUSES}):
            self.line_for(group)  # groups without a test (deselected, not collected)
        rep = session.config.stash.get(self.report_key, None) if self.report_key is not None else None
        if rep is None:
            return
        self.write("")
        for line in report_mod.terminal_lines(rep, width=400):
            self.write(line)
        self.write(f"report: {', '.join(rep['files'])}")
