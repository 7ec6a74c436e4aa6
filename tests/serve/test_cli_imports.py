"""`mockmj --help` and `mockmj contract --help` load only what printing the help needs.

Which modules a command imports is checked, never how long it takes (the benchmark bench_start.py
measures that): a fresh interpreter runs the command and lists sys.modules afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# The heavy parts a help text never needs: the web framework and server, the engine, images and video,
# the settings' type checks, the stores' clients, the schema validators.
HEAVY = ("flask", "werkzeug", "granian", "waitress", "pydantic", "PIL", "av", "redis", "jsonschema", "requests",
         "limits", "yaml", "mockmj.engine", "mockmj.web", "mockmj.serve", "mockmj.media", "mockmj.store",
         "mockmj.config", "pytest")

LIST_MODULES = """
import json, sys
from mockmj.cli import main
try:
    main({args!r})
except SystemExit:
    pass
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


def modules_after(args: list[str]) -> tuple[set[str], str]:
    done = subprocess.run([sys.executable, "-c", LIST_MODULES.format(args=args)], capture_output=True, text=True,
                          timeout=60, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line[len("MODULES="):])), done.stdout


@pytest.mark.parametrize("args", [["--help"], ["contract", "--help"], ["serve", "--help"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    modules, output = modules_after(args)
    assert "Usage:" in output  # the help was printed: the listing is of a real run
    loaded = sorted(name for name in modules for heavy in HEAVY if name == heavy or name.startswith(heavy + "."))
    assert loaded == []
