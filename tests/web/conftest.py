"""tests/web: the fixtures of tests/conftest.py, each mock the same app reached without a socket (tests/wsgi.py):
requests go through the hot path and Flask exactly as from a server, in the test's own thread."""

from __future__ import annotations

import pytest

from tests.helpers import Start
from tests.wsgi import start_app_mock


@pytest.fixture(scope="session")
def starter() -> Start:
    return start_app_mock
