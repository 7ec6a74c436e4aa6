"""`mockmj --help`, and every command's --help, load only what printing the help needs; building the app
(what each `serve` worker does) and answering a health check load no schema validator, YAML parser nor
image library: those come with the first request that needs them.

Which modules a command imports is checked, never how long it takes (benchmarks/bench_limits.py measures
that): a fresh interpreter runs the command and lists sys.modules afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from mockmj.cli import main

# The heavy parts a help text never needs: the web framework and server, the engine, images and video,
# the settings' type checks, the stores' clients, the schema validators.
HEAVY = ("flask", "werkzeug", "granian", "waitress", "pydantic", "PIL", "av", "numpy", "redis", "jsonschema",
         "requests", "limits", "yaml", "schemathesis", "hypothesis", "mockmj.engine", "mockmj.web", "mockmj.serve",
         "mockmj.media", "mockmj.store", "mockmj.config", "mockmj.record.replay", "mockmj.record.proxy", "pytest")

LIST_MODULES = """
import json, sys
from mockmj.cli import main
try:
    main({args!r})
except SystemExit:
    pass
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


BUILD_APP = """
import json, sys
from mockmj.web.app import create_app
app = create_app()
assert app.test_client().get("/_mockmj/health").status_code == 200
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


def modules_of(script: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True,
                          env=env)
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line[len("MODULES="):])), done.stdout


def modules_after(args: list[str]) -> tuple[set[str], str]:
    return modules_of(LIST_MODULES.format(args=args))


def heavy_in(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(name for name in modules for part in heavy if name == part or name.startswith(part + "."))


def every_command(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """The argument lists that print a help: the group's, and each of its commands' (subgroups' too)."""
    found = [[*prefix, "--help"]]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += every_command(command, (*prefix, name))
        else:
            found.append([*prefix, name, "--help"])
    return found


def test_every_command_is_listed() -> None:
    listed = {" ".join(args) for args in every_command()}
    assert {"--help", "serve --help", "contract --help", "rules list --help", "record --help"} <= listed


@pytest.mark.parametrize("args", every_command(), ids=lambda args: " ".join(args))
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    modules, output = modules_after(args)
    assert "Usage:" in output  # the help was printed: the listing is of a real run
    assert heavy_in(modules) == []


def test_building_the_app_loads_no_validator_yaml_parser_images_nor_rate_limiter(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    first, _ = modules_of(BUILD_APP, env)  # parses openapi.yaml and keeps the parsed document
    assert "flask" in first and heavy_in(first, ("jsonschema", "PIL", "av", "limits", "redis")) == []
    again, _ = modules_of(BUILD_APP, env)  # reads it back
    assert heavy_in(again, ("jsonschema", "yaml", "PIL", "av", "limits", "redis")) == []
