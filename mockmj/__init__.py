"""mockmj: a faithful, controllable test double for the Midjourney proxy HTTP API.

The public names, each with one home; they are loaded on first use so that `import mockmj` (and the
command line's `--help`) stays cheap:

- `start_mock(**options)` / `MockServer`: a mock on a real socket inside this process (mockmj.serve.inprocess)
- `Settings`: every option of the mock, checked (mockmj.config)
- `create_app(settings)`: the WSGI app, to mount or drive with Flask's test client (mockmj.web.app)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mockmj.version import __version__

_HOMES = {
    "start_mock": "mockmj.serve.inprocess",
    "MockServer": "mockmj.serve.inprocess",
    "Settings": "mockmj.config",
    "create_app": "mockmj.web.app",
}

if TYPE_CHECKING:
    from mockmj.config import Settings
    from mockmj.serve.inprocess import MockServer, start_mock
    from mockmj.web.app import create_app


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mockmj' has no attribute {name!r}")
    return getattr(import_module(home), name)


__all__ = ["MockServer", "Settings", "__version__", "create_app", "start_mock"]
