"""A shared store's bounded task cache, differentially: a mock on a SQLite store that keeps one finished task
decoded (task_cache=1, every other read through the store's index of task records) and a mock on the memory store
that keeps every task, driven by the same requests (tests/differential.py), give the same answers: with one worker
any store answers as the memory store (docs/stores-and-workers.md)."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from hypothesis import settings

from tests.differential import NO_SHRINKING, TwoMocks, make


class SharedCache(TwoMocks):
    def make_apps(self) -> list[Any]:
        self.folder = tempfile.mkdtemp(prefix="mockmj-shared-")
        return [make(1, store=f"sqlite:{self.folder}/mock.db"), make(100_000)]

    def close_apps(self) -> None:
        for app in self.apps:
            app.extensions["mockmj"].engine.close()
        shutil.rmtree(self.folder, ignore_errors=True)


# derandomized, as tests/web/test_task_cache_differential.py
SharedCache.TestCase.settings = settings(derandomize=True, max_examples=10, stateful_step_count=60, deadline=None,
                                         phases=NO_SHRINKING)
test_shared_store_cache_answers_as_the_memory_store = SharedCache.TestCase
