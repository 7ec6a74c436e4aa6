"""`mockmj reset` and `mockmj rules list|clear` against a mock on a real socket, with and without its
control token; an unreachable or wrong server is a one-line error, never a traceback."""

from __future__ import annotations

import requests
from click.testing import CliRunner

from mockmj.cli import main
from mockmj.serve.inprocess import MockServer, start_mock


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def add_rule(server: MockServer, body: dict, token: str | None = None) -> None:
    headers = {"X-MockMJ-Control-Token": token} if token else {}
    assert requests.post(f"{server.base_url}/_mockmj/rules", json=body, headers=headers, timeout=10).status_code == 200


def test_rules_list_and_clear_speak_to_the_running_server() -> None:
    with start_mock(timing="manual", strict=True) as server:
        assert run("rules", "list", "--url", server.base_url) == (0, "no rules\n")
        add_rule(server, {"match": {"operation": "submitImagine"}, "respond": {"code": 25}, "times": 3})
        add_rule(server, {"respond": {"latencyMs": 5}})
        code, out = run("rules", "list", "--url", server.base_url)
        assert code == 0 and out.count("\n") == 2
        assert '"operation": "submitImagine"' in out and "3 left" in out and "until deleted" in out
        assert run("rules", "clear", "--url", server.base_url) == (0, f"cleared 2 rule(s) on {server.base_url}\n")
        assert requests.get(f"{server.base_url}/_mockmj/rules", timeout=10).json() == []


def test_reset_forgets_tasks_everywhere_or_for_one_key() -> None:
    with start_mock(timing="manual", strict=True) as server:
        for key in ("a", "b"):
            answer = requests.post(f"{server.base_url}/mj/submit/imagine", json={"prompt": "a fox"},
                                   headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
            assert answer["code"] == 1
        count = lambda key: len(requests.get(f"{server.base_url}/mj/task/list",  # noqa: E731
                                             headers={"Authorization": f"Bearer {key}"}, timeout=10).json())
        assert run("reset", "--url", server.base_url, "--key", "a") == (0, f"reset key a on {server.base_url}\n")
        assert (count("a"), count("b")) == (0, 1)
        assert run("reset", "--url", server.base_url)[0] == 0
        assert count("b") == 0


def test_a_guarded_server_needs_its_token() -> None:
    with start_mock(timing="manual", control_token="s3cret") as server:
        add_rule(server, {"respond": {"code": 23}}, token="s3cret")
        code, out = run("rules", "clear", "--url", server.base_url)
        assert code == 1 and "HTTP 401" in out and "Traceback" not in out
        assert run("rules", "clear", "--url", server.base_url, "--control-token", "s3cret")[0] == 0
        from_env = CliRunner().invoke(main, ["rules", "list", "--url", server.base_url],
                                      env={"MOCKMJ_CONTROL_TOKEN": "s3cret"})
        assert (from_env.exit_code, from_env.output) == (0, "no rules\n")


def test_an_unreachable_server_is_a_one_line_error() -> None:
    with start_mock(strict=True) as server:
        url = server.base_url
    code, out = run("reset", "--url", url)  # stopped: nothing listens there any more
    assert code == 1 and out.startswith(f"Error: cannot reach the mock at {url}") and out.count("\n") == 1
