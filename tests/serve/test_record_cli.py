"""`mockmj record`, `mockmj calibrate` and serve's --replay / --timing file: options: bad input is a usage
error that names what was wrong, and nothing starts."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner

from mockmj.cli import main


def invoke(*args: str) -> tuple[int, str]:
    """In-process; a server that would start (the input was accepted) fails the test instead of blocking."""
    never = AssertionError("a server was started: the input was accepted")
    with mock.patch("mockmj.cli.serve_app", side_effect=never), \
            mock.patch("mockmj.serve.waitress.waitress_server", side_effect=never), mock.patch("logging.basicConfig"):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "words"), [
    (("serve", "--replay-ids", "fresh"), "--replay-ids only make(s) sense with --replay DIR"),
    (("serve", "--replay-speed", "0", "--replay", "."), "--replay-speed"),
    (("serve", "--replay", "{empty}"), "no recording at"),
    (("serve", "--timing", "file:{empty}/none.toml"), "cannot read it"),
    (("serve", "--timing", "slow"), "'slow' is not one of"),
    (("record", "--target", "ftp://relay", "--out", "{empty}/rec"), "--target must be an http(s) URL"),
    (("record", "--target", "http://127.0.0.1:9", "--out", "{empty}/rec", "--budget", "-1"), "--budget"),
    (("record", "--out", "{empty}/rec"), "--target"),
    (("calibrate", "{empty}"), "no recording at"),
])
def test_bad_input_is_a_usage_error(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    code, output = invoke(*(a.replace("{empty}", str(tmp_path)) for a in args))
    assert code == 2 and "Traceback" not in output, output
    assert words in output, output
    assert not (tmp_path / "rec").exists()  # a refused recorder leaves nothing behind


def test_help_lists_the_new_commands_and_options() -> None:
    code, output = invoke("--help")
    assert code == 0 and "record" in output and "calibrate" in output
    code, output = invoke("serve", "--help")
    for option in ("--replay DIRECTORY", "--replay-ids", "--replay-miss", "--replay-speed", "file:PROFILE.toml"):
        assert option in output
    code, output = invoke("record", "--help")
    for option in ("--target", "--out", "--target-key", "MOCKMJ_TARGET_KEY", "--budget", "--dialect"):
        assert option in output
