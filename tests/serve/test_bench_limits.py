"""The pure part of benchmarks/bench_limits.py: its table (a goal is met only when every pass meets it; a
pass that measured nothing shows a dash and is not counted). No figure is measured here."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_bench_limits():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARKS))  # it imports its siblings (bench_compare, bench_hostile)
    try:
        import bench_limits
    finally:
        sys.path.remove(str(BENCHMARKS))
    return bench_limits


def test_the_table_counts_the_passes_that_meet_each_goal() -> None:
    bl = load_bench_limits()
    figures = bl.Figures()
    for value in (0.45, 0.84, 0.68):
        figures.add("fetch", value)
    figures.add("help", 0.2)  # one pass only: the others show a dash
    figures.add("memory", None)
    figures.add("memory", 90.0)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in bl.render(figures).splitlines()[2:]}
    assert rows[bl.GOALS["fetch"].label].endswith("| 0.45× | 0.84× | 0.68× | 0.45–0.84 | no (2/3) |")
    assert rows[bl.GOALS["help"].label].endswith("| 0.20 s | – | – | 0.20–0.20 | yes (1/1) |")
    assert rows[bl.GOALS["memory"].label].endswith("| – | 90.00 MB | – | 90.00–90.00 | yes (1/1) |")
    assert bl.GOALS["quiet"].label not in rows  # not measured at all: no row
