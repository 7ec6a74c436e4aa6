"""The memory store's packing of finished tasks, differentially: a mock that packs nearly every finished task
(task_cache=1) and one that packs none, driven by the same requests (tests/differential.py), give the same answers."""

from __future__ import annotations

from typing import Any

from hypothesis import settings

from tests.differential import NO_SHRINKING, TwoMocks, make


class Packing(TwoMocks):
    def make_apps(self) -> list[Any]:
        return [make(1), make(100_000)]


# derandomized: the same sequences at every run, so a failure repeats (runs with random seeds and more examples
# looked for defects while it was written: docs/testing.md)
Packing.TestCase.settings = settings(derandomize=True, max_examples=20, stateful_step_count=80, deadline=None,
                                     phases=NO_SHRINKING)
test_packing_mock_answers_as_one_that_packs_nothing = Packing.TestCase
