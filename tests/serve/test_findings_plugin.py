"""Findings through the pytest plugin: the complete example of docs/pytest-plugin.md (its client and its
tests, taken from the page itself) is well behaved, and a deliberately bad client fails `assert_well_behaved` with the
evidence, unless the kinds are ignored."""

from __future__ import annotations

import re
from importlib.metadata import entry_points

import pytest

from tests.doc_blocks import page

pytest_plugins = ["pytester"]

OTHERS = [arg for ep in entry_points(group="pytest11") if ep.name != "mockmj" for arg in ("-p", f"no:{ep.name}")]


def readme_example() -> tuple[str, str]:
    """The client app and its tests from the page's "A complete example"."""
    section = page("pytest-plugin.md").split("## A complete example", 1)[1].split("\n## ", 1)[0]
    client, tests = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:2]
    assert "class MjClient" in client and "assert_well_behaved" in tests
    return client, tests


def test_the_readme_example_is_well_behaved(pytester: pytest.Pytester) -> None:
    client, tests = readme_example()
    pytester.makepyfile(mjclient=client, test_mjclient=tests)
    result = pytester.runpytest_subprocess(*OTHERS, "-v")
    result.assert_outcomes(passed=4)


BAD = '''
import requests


def test_hammering_client(mockmj):
    http = requests.Session()
    http.headers.update(mockmj.headers)
    task = http.post(mockmj.base_url + "/mj/submit/imagine", json={"prompt": "a cat"}).json()["result"]
    for _ in range(10):
        http.get(f"{mockmj.base_url}/mj/task/{task}/fetch")
    http.post(mockmj.base_url + "/mj/submit/imagine", json={"prompt": "never read"})
    assert {f["kind"] for f in mockmj.findings()} == {"fast-polling"}  # not final: the new task is young
    mockmj.assert_well_behaved({ignore})
'''


def test_a_bad_client_fails_with_the_evidence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad=BAD.replace("{ignore}", ""))
    result = pytester.runpytest_subprocess(*OTHERS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not well behaved (2 findings)*", "*- fast-polling: task * {'peakPerSecond': *",
                                 "*- abandoned-task: task *Fetch every task you submit*"])


def test_ignored_kinds_pass_and_unknown_kinds_are_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad=BAD.replace("{ignore}", 'ignore=["fast-polling", "abandoned-task"]'),
                        test_typo=BAD.replace("{ignore}", 'ignore=["fast-poling"]'))
    result = pytester.runpytest_subprocess(*OTHERS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unknown kinds *fast-poling*known: fast-polling*"])
