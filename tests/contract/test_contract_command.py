"""`mockmj contract`: the installed suite, run from an empty directory against a real `mockmj serve`, in
every auth mode and both dialects, with and without an API key given to the suite.

A clause decides from what the target says of itself (/_mockmj/health's `auth`), never from the options
the run was given, so every run passes (strict, as it is by default against a loopback target); the clauses
that cannot apply in a mode are *not applicable*, each with the reason. A proxy without auth runs every
clause but SCHEMA-*; the others, whose only difference is the auth mode, run the clauses that depend on it
(AUTH-*, ENV-6). That keeps CI time bounded: schemathesis (SCHEMA-*, about 1,000 requests whose checks do
not depend on the auth mode) is most of a full run. The whole suite runs elsewhere once per combination
that matters: in any-key mode with --api-key (where a false alarm was once reported) as the getting-started
tour's own `mockmj contract` run (tests/serve/test_readme_examples.py), and against listed keys (and in
any-key mode without SCHEMA-*) in both dialects behind the mutation self-check's clean proxy
(tests/contract/test_contract_mutations.py).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts.clauses import CLAUSES
from tests.contract_selftest.runner import SuiteRun, run_command, served

POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="contract-command-run")
AUTH_CLAUSES = "AUTH-*,ENV-6"
KEY = "any-key-the-user-picked"
BUT_SCHEMA = ",".join(sorted({cid.split("-")[0] + "-*" for cid in CLAUSES if not cid.startswith("SCHEMA-")}))


@dataclass(frozen=True)
class Combo:
    name: str
    serve: tuple[str, ...]
    suite: tuple[str, ...]  # extra `mockmj contract` options
    not_run: frozenset[str]  # the clauses that cannot apply in this auth mode
    whole: bool = False  # every clause but SCHEMA-*, not only the auth-dependent ones


NO_KEY_NEEDED = frozenset({"AUTH-1", "AUTH-2", "AUTH-3"})
COMBOS = (
    Combo("88api any-key, --api-key", ("--dialect", "88api"), ("--api-key", KEY), frozenset({"AUTH-2"})),
    Combo("proxy no-auth, no key", ("--dialect", "proxy", "--no-auth"), (), NO_KEY_NEEDED, True),
    Combo("88api any-key, no key", ("--dialect", "88api"), (), frozenset({"AUTH-2"})),
    # the upstream proxy checks no key when none is configured (upstream §2): health says auth "none"
    Combo("proxy without keys, --api-key", ("--dialect", "proxy"), ("--api-key", KEY), NO_KEY_NEEDED),
    Combo("88api no-auth, --api-key", ("--dialect", "88api", "--no-auth"), ("--api-key", KEY), NO_KEY_NEEDED),
    Combo("88api no-auth, no key", ("--dialect", "88api", "--no-auth"), (), NO_KEY_NEEDED),
    Combo("proxy listed keys, --api-key", ("--dialect", "proxy", "--api-key", "k1", "--api-key", "k2"),
          ("--api-key", "k1", "--second-key", "k2"), frozenset()),
    Combo("88api listed keys, --api-key", ("--dialect", "88api", "--api-key", "k1", "--api-key", "k2"),
          ("--api-key", "k1", "--second-key", "k2"), frozenset()),
)


def _run(combo: Combo, cwd: Path) -> SuiteRun:
    with served(*combo.serve, "--timing", "fast") as base:
        args = ["--base-url", base, *combo.suite]
        args += ["--clauses", BUT_SCHEMA if combo.whole else AUTH_CLAUSES]
        return run_command(args, cwd, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[SuiteRun]]:
    return {c.name: POOL.submit(_run, c, tmp_path_factory.mktemp("empty")) for c in COMBOS}


@pytest.mark.parametrize("combo", COMBOS, ids=[c.name for c in COMBOS])
def test_command_passes_in_every_auth_mode(combo: Combo, runs: dict[str, Future[SuiteRun]]) -> None:
    run = runs[combo.name].result(timeout=400)
    assert run.returncode == 0, run.explain()
    assert not run.failed(), run.explain()
    selected = [c for c in run.report["clauses"] if (combo.whole and not c["id"].startswith("SCHEMA-"))
                or c["id"].startswith("AUTH-") or c["id"] == "ENV-6"]
    assert len(selected) == (len(CLAUSES) - 2 if combo.whole else 5), run.explain()
    not_run = {c["id"] for c in selected if c["status"] != "passed"}
    assert not_run == combo.not_run, run.explain()
    assert all(c["status"] == "not applicable" for c in selected if c["id"] in not_run), run.explain()
    for cid in not_run:  # the reason quotes what the target said of itself
        assert "/_mockmj/health auth" in run.clause(cid)["reason"], run.clause(cid)
    # what the command prints: a progress line per clause group, then the clause table and the verdict
    assert "  AUTH " in run.output and " clauses: " in run.output, run.output
    summary = run.report["summary"]
    assert (f"{summary['passed']} passed, 0 failed, 0 not verified, {summary['not applicable']} not applicable"
            in run.output), run.output


def test_listed_keys_without_a_key_is_a_usage_error(tmp_path: Path) -> None:
    """A mockmj that accepts only its listed keys cannot be checked with a key the suite made up."""
    with served("--api-key", "k1") as base:
        run = run_command(["--base-url", base, "--clauses", "AUTH-1"], tmp_path, timeout=120)
    assert run.returncode == 4, run.output
    assert "pass one of them as the key" in run.output, run.output


def test_the_wheel_ships_the_suite_where_the_command_looks() -> None:
    """pyproject puts contracts/ into the wheel as mockmj/contracts, which is the first place the command
    looks; from a clone it finds contracts/ beside the package."""
    import tomllib

    from mockmj import contract_cli

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8"))
    include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include["contracts"] == "mockmj/contracts"
    package = Path(contract_cli.__file__).parent
    # installed from the wheel (as in CI): the suite inside the package; editable: contracts/ beside it
    expected = package / "contracts" if (package / "contracts").is_dir() else package.parent / "contracts"
    assert contract_cli.suite_dir() == expected
    assert (expected / "conftest.py").is_file() and (expected / "contract.ini").is_file()
    dependencies = " ".join(pyproject["project"]["dependencies"])
    assert "pytest" in dependencies and "schemathesis" in dependencies  # the suite runs from a plain install
