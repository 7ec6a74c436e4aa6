"""The tests of this folder start mockmj's real container image, so they need a built image and a Docker API
(Docker, or podman's compatible socket): `.ci/container` builds the image, starts podman's API service and runs
them with MOCKMJ_TEST_IMAGE set. Without that variable they are deselected (pytest counts them as such), so
the plain test command needs no container engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("MOCKMJ_TEST_IMAGE"):
        return
    mine = [item for item in items if HERE in Path(item.path).parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]
