"""Configuration of `mockmj serve` from every source: command line > MOCKMJ_* environment > config file >
defaults; every option from each source; bad values as usage errors that say where they came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
import requests
from click.testing import CliRunner

from mockmj.cli import main, serve
from mockmj.config import ConfigError, KeyConfig, Settings, load_settings, option_name
from tests.helpers import free_port
from tests.serve.test_cli import usage_error

SHARED_STORE = "sqlite:mock.db"
# a setting valid only beside another: more than one worker needs a store shared between processes
COMPANION = {"workers": ("store", SHARED_STORE)}


def sample(name: str) -> tuple[str, str, Any]:
    """A value other than the default for the option behind setting `name`: as text (command line and
    environment), as TOML, and as the setting. Made from the option's type, so new options are covered."""
    param = next(p for p in serve.params if p.name == name)
    default = Settings.__dataclass_fields__[name].default
    value: Any
    if name == "store":
        value = SHARED_STORE
    elif name in ("public_url", "notify_hook"):  # URLs are checked at start: a usable one
        value = f"http://sample-{name.replace('_', '-')}.example:8081/base"
    elif getattr(param.type, "choices", None):  # click.Choice, and --timing's names
        value = next(choice for choice in param.type.choices if choice != default)
    elif getattr(param, "is_flag", False):
        value = True
    elif isinstance(param.type, click.types.IntParamType):
        value = (default or 0) + 1
    elif isinstance(param.type, click.types.FloatParamType):
        value = (default or 0) + 1.5
    else:
        value = f"sample-{name.replace('_', '-')}"
    text = "true" if value is True else str(value)
    return text, json.dumps(value), value


def serve_fields() -> list[str]:
    """The settings behind the options of `mockmj serve` (--api-key is `keys`, --config is the file)."""
    names = []
    for param in serve.params:
        if param.name == "config_path":
            continue
        names.append("keys" if param.name == "api_keys" else str(param.name))
    return names


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, Settings | None]:
    """`serve` in-process; the server is never started, the settings it would have run with are kept."""
    seen: list[Settings] = []

    def fake_server(settings: Settings) -> Any:
        seen.append(settings)  # what the worker processes would be given
        raise SystemExit(0)

    with mock.patch("mockmj.cli.serve_app", side_effect=fake_server), \
            mock.patch("mockmj.web.logs.configure_logging"), mock.patch.dict(os.environ, env or {}, clear=False):
        result = CliRunner().invoke(main, ["serve", *args], catch_exceptions=False)
    return result.exit_code, result.output, (seen[0] if seen else None)


def test_every_option_is_a_setting() -> None:
    assert {"host", "port", "threads", "quiet", "log_format", "log_level", "keys"} <= set(serve_fields())
    assert all(name in Settings.__dataclass_fields__ for name in serve_fields())


@pytest.mark.parametrize("name", sorted(set(serve_fields()) - {"keys"}))
def test_every_option_from_the_environment_and_the_file(name: str, tmp_path: Path) -> None:
    text, toml, expected = sample(name)
    environ, lines = {f"MOCKMJ_{name.upper()}": text}, f"{name} = {toml}\n"
    if name in COMPANION:
        other, value = COMPANION[name]
        environ[f"MOCKMJ_{other.upper()}"] = value
        lines += f"{other} = {json.dumps(value)}\n"
    from_env = load_settings(None, environ=environ)
    assert getattr(from_env, name) == expected
    config = tmp_path / "mockmj.toml"
    config.write_text(lines, encoding="utf-8")
    assert getattr(load_settings(config), name) == expected
    assert getattr(load_settings(None), name) != expected  # the sample is not the default


def test_keys_from_the_environment_comma_separated_or_as_tables() -> None:
    settings = load_settings(None, environ={"MOCKMJ_API_KEY": "sk-a, sk-b,"})
    assert [k.key for k in settings.keys] == ["sk-a", "sk-b"]
    settings = load_settings(None, environ={"MOCKMJ_KEYS": '[{"key": "sk-c", "balance": 0}]'})
    assert [(k.key, k.balance) for k in settings.keys] == [("sk-c", 0)]


def test_fields_without_an_option_come_from_the_environment_too() -> None:
    settings = load_settings(None, environ={"MOCKMJ_DEFAULT_BALANCE": "5", "MOCKMJ_BANNED_WORDS": "ogre,troll",
                                            "MOCKMJ_PRICES": '{"imagine": 3}', "MOCKMJ_DEFAULT_RATE_LIMIT": "2.5"})
    assert (settings.default_balance, settings.banned_words) == (5, ["ogre", "troll"])
    assert (settings.prices["IMAGINE"], settings.prices["UPSCALE"], settings.default_rate_limit) == (3, 5, 2.5)


def test_precedence_command_line_then_environment_then_file_then_defaults(tmp_path: Path) -> None:
    config = tmp_path / "mockmj.toml"
    config.write_text('timing = "manual"\nseed = 1\ndialect = "proxy"\n', encoding="utf-8")
    env = {"MOCKMJ_SEED": "2", "MOCKMJ_DIALECT": "88api", "MOCKMJ_CONFIG": str(config)}
    code, output, settings = invoke("--dialect", "proxy", "--port", str(free_port()), env=env)
    assert code == 0, output
    assert settings is not None
    assert settings.timing == "manual"  # only the file says so
    assert settings.seed == 2  # environment over file
    assert settings.dialect == "proxy"  # command line over environment
    assert settings.callback_policy == "upstream"  # nobody says: the default
    assert settings.keys == []


def test_api_key_on_the_command_line_replaces_the_environment() -> None:
    code, output, settings = invoke("--api-key", "cli-key", "--port", str(free_port()),
                                    env={"MOCKMJ_API_KEY": "env-a,env-b"})
    assert code == 0, output
    assert settings is not None and settings.keys == [KeyConfig(key="cli-key")]


@pytest.mark.parametrize(("args", "words"), [
    (("--port", "0"), ["--port", "1<=x<=65535"]),
    (("--port", "70000"), ["--port", "65535"]),
    (("--threads", "0"), ["--threads", "x>=1"]),
    (("--spare-threads", "-1"), ["--spare-threads", "x>=0"]),
    (("--host", "no-such-host.invalid"), ["no-such-host.invalid", "does not resolve"]),
])
def test_bad_listening_options_are_usage_errors(args: tuple[str, ...], words: list[str]) -> None:
    code, output, settings = invoke(*args)
    usage_error(code, output)
    assert settings is None
    for word in words:
        assert word in output, output


@pytest.mark.parametrize(("env", "words"), [
    ({"MOCKMJ_PORT": "99999"}, ["environment variable MOCKMJ_PORT", "between 1 and 65535"]),
    ({"MOCKMJ_PORT": "eighty"}, ["environment variable MOCKMJ_PORT", "eighty"]),
    ({"MOCKMJ_THREADS": "0"}, ["environment variable MOCKMJ_THREADS", "at least 1"]),
    ({"MOCKMJ_SPARE_THREADS": "-2"}, ["environment variable MOCKMJ_SPARE_THREADS", "0 or more"]),
    ({"MOCKMJ_STRICT": "maybe"}, ["MOCKMJ_STRICT", "not a boolean"]),
    ({"MOCKMJ_TIMING": "slow"}, ["MOCKMJ_TIMING", "slow"]),
    ({"MOCKMJ_CONFIG": "absent.toml"}, ["absent.toml"]),
])
def test_bad_environment_is_a_usage_error_naming_the_variable(env: dict[str, str], words: list[str]) -> None:
    code, output, _ = invoke(env=env)
    usage_error(code, output)
    for word in words:
        assert word in output, output


@pytest.mark.parametrize(("content", "where", "words"), [
    ('seed = 3\n\nkeys = "not closed\n', "line 3", ["invalid TOML"]),
    ('timing = "fast"\nport = 0\n', "line 2", ["port", "between 1 and 65535"]),
    ('threads = 0\n', "line 1", ["threads"]),
    ('spare_threads = -1\n', "line 1", ["spare_threads", "0 or more"]),
    ('seed = 1\ncolour = "blue"\n', "line 2", ["unknown setting 'colour'"]),
    ('# keys\n[[keys]]\nkey = "a"\n\n[[keys]]\nkey = "b"\nbogus = 1\n', "line 7", ["bogus"]),
    ('[[accounts]]\nremark = "x"\ncore_size = "three"\n', "line 3", ["core_size"]),
    ('dialect = "proxy"\n[prices]\nupscale = 2\nimagine = "ten"\n', "line 4", ["ten"]),
    ('log_format = "xml"\n', "line 1", ["log_format", "text, json"]),
])
def test_config_errors_name_the_file_and_the_line(tmp_path: Path, content: str, where: str,
                                                   words: list[str]) -> None:
    config = tmp_path / "mockmj.toml"
    config.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert f"{config} {where}" in str(caught.value)
    for word in words:
        assert word in str(caught.value)
    code, output, _ = invoke("--config", str(config))
    usage_error(code, output)
    assert where in output


def test_option_names_follow_the_fields() -> None:
    options = {opt for param in serve.params for opt in param.opts}
    for name in serve_fields():
        assert option_name(name) in options, name


def test_serve_from_the_environment_alone_in_a_real_process(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MOCKMJ_PORT": str(port), "MOCKMJ_DIALECT": "proxy",
           "MOCKMJ_TIMING": "manual", "MOCKMJ_API_KEY": "ci-1,ci-2", "MOCKMJ_SEED": "4", "MOCKMJ_QUIET": "1",
           "MOCKMJ_PROT": "9000"}  # a typo: warned about, after the start-up line
    process = subprocess.Popen([sys.executable, "-m", "mockmj", "serve"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline() if process.stderr else ""
        assert f"http://127.0.0.1:{port}" in line, line
        warning = process.stderr.readline() if process.stderr else ""
        assert "MOCKMJ_PROT names no setting" in warning, warning
        health = requests.get(f"http://127.0.0.1:{port}/_mockmj/health", timeout=5).json()
        assert (health["dialect"], health["timing"], health["auth"]) == ("proxy", "manual", "keys")
        ok = requests.post(f"http://127.0.0.1:{port}/mj/submit/imagine", json={"prompt": "Cat"}, timeout=5,
                           headers={"mj-api-secret": "ci-2"})
        assert ok.json()["code"] == 1
        refused = requests.post(f"http://127.0.0.1:{port}/mj/submit/imagine", json={"prompt": "Cat"}, timeout=5,
                                headers={"mj-api-secret": "ci-3"})
        assert refused.status_code == 401
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "mockmj.access" not in err  # MOCKMJ_QUIET
