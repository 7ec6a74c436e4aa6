"""The pytest plugin, tested the way a user meets it: a temporary project with a tiny client app and
tests that use the `mockmj` fixture, run by a separate pytest process in which the plugin is loaded
only through the `pytest11` entry point of the installed mockmj."""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

# The other pytest plugins installed next to mockmj in this environment are switched off in the
# temporary projects: they stand for a project that installs only mockmj (and start faster).
OTHERS = [arg for ep in entry_points(group="pytest11") if ep.name != "mockmj" for arg in ("-p", f"no:{ep.name}")]

CLIENT_APP = '''
"""A tiny Midjourney-proxy client, as a user's project would have one."""

import time

import requests


class InsufficientBalance(Exception):
    pass


class MjError(Exception):
    pass


class MjClient:
    def __init__(self, base_url, api_key, timeout=10.0):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = "Bearer " + api_key
        self.timeout = timeout

    def _submit(self, path, body):
        reply = self.http.post(self.base_url + path, json=body, timeout=10)
        if reply.status_code != 200:
            raise MjError(f"HTTP {reply.status_code}")
        envelope = reply.json()
        if envelope["code"] == 25:
            raise InsufficientBalance(envelope["description"])
        if envelope["code"] not in (1, 22):
            raise MjError(f"code {envelope['code']}: {envelope['description']}")
        return envelope["result"]

    def imagine(self, prompt, notify_hook=None):
        body = {"prompt": prompt}
        if notify_hook:
            body["notifyHook"] = notify_hook
        return self._submit("/mj/submit/imagine", body)

    def press(self, task, label):
        custom_id = next(b["customId"] for b in task["buttons"] if b["label"] == label)
        return self._submit("/mj/submit/action", {"taskId": task["id"], "customId": custom_id})

    def fetch(self, task_id):
        return self.http.get(f"{self.base_url}/mj/task/{task_id}/fetch", timeout=10).json()

    def wait(self, task_id):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            task = self.fetch(task_id)
            if task["status"] in ("SUCCESS", "FAILURE", "CANCEL"):
                return task
            time.sleep(0.05)
        raise MjError(f"task {task_id} did not finish")

    def imagine_or_none(self, prompt):
        """What the app does when the account has no credit: tell the user, do not crash."""
        try:
            return self.imagine(prompt)
        except InsufficientBalance:
            return None
'''

TESTS = '''
import socket
import sys
import threading

import pytest

from client_app import MjClient

KEYS = []


def test_nothing_started_before_a_test_asks():
    assert "mockmj.pytest_plugin" in sys.modules, "the entry point loaded the plugin"
    assert not {"mockmj.serve.granian", "mockmj.serve.inprocess", "mockmj.web.app"} & set(sys.modules)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("mockmj")]


@pytest.fixture
def app(mockmj):
    return MjClient(mockmj.base_url, mockmj.api_key)


def test_imagine_then_upscale(app, mockmj):
    KEYS.append(mockmj.api_key)
    assert mockmj.headers == {"Authorization": "Bearer " + mockmj.api_key}
    grid = app.wait(app.imagine("a lighthouse at dusk"))
    assert grid["status"] == "SUCCESS" and grid["imageUrl"].startswith(mockmj.base_url)
    upscaled = app.wait(app.press(grid, "U1"))
    assert upscaled["status"] == "SUCCESS" and upscaled["action"] == "UPSCALE"
    assert [e["operationId"] for e in mockmj.requests(method="POST")] == ["submitImagine", "submitAction"]
    assert len(mockmj.requests(operationId="submitAction", billable=True)) == 1


def test_the_app_handles_code_25(app, mockmj):
    KEYS.append(mockmj.api_key)
    rule = mockmj.add_rule(match={"operation": "submitImagine"}, respond={"code": 25}, times=2)
    assert rule["match"]["key"] == mockmj.api_key[:4] + "…" + mockmj.api_key[-4:]  # masked in every listing
    assert app.imagine_or_none("one") is None
    assert mockmj.rules()[0]["remaining"] == 1
    assert app.imagine_or_none("two") is None
    assert app.imagine_or_none("three") is not None
    assert mockmj.rules() == []


def test_a_persistent_rule_and_changes_to_shared_state(app, mockmj):
    KEYS.append(mockmj.api_key)
    mockmj.add_rule(respond={"code": 24})
    mockmj.update_account(mockmj.accounts()[0]["instanceId"], remix=True, coreSize=1)
    mockmj.set_balance(5)
    with pytest.raises(Exception, match="code 24"):
        app.imagine("refused")


def test_nothing_leaked_from_earlier_tests(app, mockmj):
    KEYS.append(mockmj.api_key)
    assert len(set(KEYS)) == len(KEYS), "each test has its own key"
    assert mockmj.clock()["timing"] == "fast"
    account = mockmj.accounts()[0]
    assert account["remix"] is False and account["coreSize"] == 3
    assert mockmj.control("GET", "/rules") == []
    assert mockmj.key_info()["balance"] == 1000000
    assert app.http.get(mockmj.base_url + "/mj/task/list", timeout=10).json() == []
    mine = mockmj.api_key[:4] + "…" + mockmj.api_key[-4:]
    assert mockmj.requests() == [e for e in mockmj.requests() if e["key"] == mine]
    assert mockmj.callbacks() == []
    assert app.wait(app.imagine("fresh"))["status"] == "SUCCESS"


def test_reset_forgets_this_tenant(app, mockmj):
    app.imagine("soon forgotten")
    mockmj.reset()
    assert mockmj.requests() == []
    assert app.http.get(mockmj.base_url + "/mj/task/list", timeout=10).json() == []


def test_refused_control_calls_raise(mockmj):
    from mockmj.pytest_plugin import MockmjControlError

    with pytest.raises(MockmjControlError) as info:
        mockmj.add_rule(respond={"outcome": "explode"})
    assert info.value.status == 400 and "explode" in info.value.message
    with pytest.raises(MockmjControlError):
        mockmj.update_account("no-such-account", remix=True)


def test_manual_time(app, mockmj):
    KEYS.append(mockmj.api_key)
    mockmj.set_timing("manual")
    hook = "http://127.0.0.1:%d/hook" % free_port()
    task_id = app.imagine("a storm over the sea", notify_hook=hook)
    assert app.fetch(task_id)["status"] == "NOT_START"
    mockmj.advance(3)
    assert app.fetch(task_id)["status"] == "IN_PROGRESS"
    mockmj.advance(30)
    assert app.fetch(task_id)["status"] == "SUCCESS"
    attempts = mockmj.callbacks(task_id)
    assert [a["status"] for a in attempts][-1] == "SUCCESS" and all(a["error"] for a in attempts)
    assert mockmj.callbacks() == attempts
    kinds = {e["kind"] for e in mockmj.timeline(task_id)}
    assert kinds == {"transition", "poll", "callback"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
'''


def project(pytester: pytest.Pytester, tests: str, **files: str) -> None:
    pytester.makepyfile(client_app=CLIENT_APP, test_app=textwrap.dedent(tests), **files)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*OTHERS, *args)


def test_a_user_project_runs_with_the_fixture(pytester: pytest.Pytester) -> None:
    project(pytester, TESTS)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=8)


def test_options_from_ini_and_command_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmockmj_timing = per-poll\nmockmj_seed = 77\nmockmj_dialect = 88api\n")
    project(pytester, '''
        import requests

        def test_options(mockmj):
            health = requests.get(mockmj.base_url + "/_mockmj/health", timeout=10).json()
            assert health["dialect"] == "proxy" and health["timing"] == "per-poll"
            assert mockmj.server.mock.settings.seed == 77
            assert mockmj.base_url.startswith("http://127.0.0.1:")
    ''')
    result = run(pytester, "--mockmj-dialect", "proxy")
    result.assert_outcomes(passed=1)


def test_bad_options_are_usage_errors(pytester: pytest.Pytester) -> None:
    project(pytester, "def test_x(mockmj):\n    pass\n")
    result = run(pytester, "--mockmj-timing", "warp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mockmj-timing*invalid choice*warp*fast*manual*per-poll*realistic*"])
    pytester.makeini("[pytest]\nmockmj_seed = soon\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mockmj_seed must be an integer*"])


def test_the_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain='''
        def test_arithmetic():
            assert 1 + 1 == 2

        def test_wants_the_fixture(mockmj):
            pass
    ''')
    result = run(pytester, "-p", "no:mockmj")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'mockmj' not found*"])


def test_manual_timing_does_not_freeze_later_tests(pytester: pytest.Pytester) -> None:
    project(pytester, '''
        from client_app import MjClient

        def test_first_goes_manual(mockmj):
            mockmj.set_timing("manual")

        def test_then_fast_again(mockmj):
            assert mockmj.clock()["timing"] == "fast" and mockmj.clock()["virtual"] is False
            app = MjClient(mockmj.base_url, mockmj.api_key, timeout=2)
            assert app.wait(app.imagine("after manual"))["status"] == "SUCCESS"
    ''')
    result = run(pytester)
    result.assert_outcomes(passed=2)
