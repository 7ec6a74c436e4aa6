"""`mockmj contract`: the contract suite installed with mockmj, run against any deployment.

The suite is a pytest package: `contracts/` in a clone (where `pytest contracts` runs it too), shipped in
the wheel as `mockmj/contracts`. This command finds it wherever it is installed, runs it with its own
pytest configuration (so the directory it is started from does not matter), prints one line per clause
group as the run goes and the clause table at the end, and exits 0 when no clause failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

PACKAGE_DIR = Path(__file__).resolve().parent


def suite_dir() -> Path:
    """The contract suite: inside the installed package, else beside it (a clone or an editable install)."""
    for candidate in (PACKAGE_DIR / "contracts", PACKAGE_DIR.parent / "contracts"):
        if (candidate / "conftest.py").is_file() and (candidate / "contract.ini").is_file():
            return candidate
    raise click.ClickException("the contract suite is not installed with this mockmj (no contracts/ package)")


def pytest_args(suite: Path, options: dict[str, str | None], extra: tuple[str, ...], pytest_output: bool) -> list[str]:
    args = [str(suite), "-c", str(suite / "contract.ini"), "--rootdir", str(suite), "--mj-progress",
            "-p", "no:cacheprovider"]
    if not pytest_output:
        args += ["-p", "no:terminal"]
    for name, value in options.items():
        if value is not None:
            args += [f"--mj-{name}", value]
    return [*args, *extra]


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--base-url", required=True, help="The deployment to check: its root, before /mj (e.g. "
              "https://api.example.com or http://127.0.0.1:8080).")
@click.option("--api-key", default=None, help="API key sent to the target (optional against a mockmj).")
@click.option("--second-key", default=None, help="A second key, for the cross-key isolation clause (AUTH-3).")
@click.option("--dialect", type=click.Choice(["88api", "proxy"]), default=None,
              help="What the target speaks (default: what a mockmj reports, else 88api).")
@click.option("--budget", default=None, help="Max billable requests (submits); default unlimited for a "
              "loopback target, 0 otherwise. 'unlimited' for no cap.")
@click.option("--rate", default=None, help="Max request rate, e.g. 2/s or 30/m (default 2/s for a remote target).")
@click.option("--report", default="contract-report", show_default=True,
              help="Report path stem: writes STEM.md, STEM.json and STEM.xml (JUnit).")
@click.option("--clauses", default=None, help="Comma-separated clause ids or globs to run (e.g. AUTH-*,ENV-3).")
@click.option("--hook-url", default=None, help="Public URL the target can POST callbacks to (CB-* clauses).")
@click.option("--task-timeout", default=None, help="Seconds to wait for a task to finish.")
@click.option("--strict", type=click.Choice(["on", "off"]), default=None,
              help="A clause left not verified fails the run (default: on for a loopback target, off otherwise).")
@click.option("--min-coverage", default=None, help="Fail when the run exercised less than P %% of the spec.")
@click.option("--pytest-output", is_flag=True, default=False, help="Show pytest's own output as well.")
@click.argument("pytest_extra", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST ARGS]")
def contract(base_url: str, api_key: str | None, second_key: str | None, dialect: str | None, budget: str | None,
             rate: str | None, report: str, clauses: str | None, hook_url: str | None, task_timeout: str | None,
             strict: str | None, min_coverage: str | None, pytest_output: bool, pytest_extra: tuple[str, ...]) -> None:
    """Run the contract suite against BASE_URL and report clause by clause."""
    import pytest

    options = {"base-url": base_url, "api-key": api_key, "second-key": second_key, "dialect": dialect,
               "budget": budget, "rate": rate, "report": str(Path(report).absolute()), "clauses": clauses,
               "hook-url": hook_url, "task-timeout": task_timeout, "strict": strict, "min-coverage": min_coverage}
    code = pytest.main(pytest_args(suite_dir(), options, pytest_extra, pytest_output))
    sys.exit(int(code))
