"""Settings: embedded defaults, a TOML file (`--config mockmj.toml`), `MOCKMJ_*` environment variables
and command-line overrides, in that order of precedence (the command line wins).

Every field of `Settings` is settable from each source with no extra code: the file by its name, the
environment as `MOCKMJ_<NAME>` (parsed after the field's type hint), the command line through `overrides`.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# The option types are the core's (model/settings.py); this module reads them from their sources. They are
# re-exported so that `from mockmj.config import Settings` keeps working everywhere.
from mockmj.model.settings import (
    DEFAULT_PRICES,
    LOG_FORMATS,
    LOG_LEVELS,
    STORE_KINDS,
    AccountConfig,
    KeyConfig,
    Settings,
    store_kind,
)

__all__ = [
    "DEFAULT_PRICES", "ENV_CONFIG", "ENV_PREFIX", "LOG_FORMATS", "LOG_LEVELS", "STORE_KINDS", "AccountConfig",
    "ConfigError", "KeyConfig", "Settings", "env_name", "load_settings", "option_name", "store_kind",
    "unknown_environment",
]

ENV_PREFIX = "MOCKMJ_"
# environment names that are not simply MOCKMJ_<FIELD>: the command line's --api-key and --config
ENV_ALIASES = {"API_KEY": "keys", "API_KEYS": "keys"}
ENV_CONFIG = ENV_PREFIX + "CONFIG"


class ConfigError(ValueError):
    """A setting that cannot be used, with where it came from (file and line, variable, option)."""


def _make(kind: type, raw: Any, what: str) -> Any:
    if not isinstance(raw, dict):
        raise ValueError(f"each [[{what}]] entry must be a table")
    try:
        return kind(**raw)
    except TypeError as exc:
        raise ValueError(f"[[{what}]]: {exc}") from None


def _convert(name: str, value: Any) -> Any:
    """A raw value (from TOML, or JSON in the environment) as the field wants it."""
    if name == "keys":
        if not isinstance(value, list):
            raise ValueError("keys must be a list of [[keys]] tables")
        return [_make(KeyConfig, item, "keys") for item in value]
    if name == "accounts":
        if not isinstance(value, list):
            raise ValueError("accounts must be a list of [[accounts]] tables")
        return [_make(AccountConfig, item, "accounts") for item in value]
    if name == "prices":
        if not isinstance(value, dict):
            raise ValueError("prices must be a table of action = credits")
        # the values are checked with the other types (Settings.check): an integer, not "10" nor 10.5
        return {**DEFAULT_PRICES, **{str(k).upper(): v for k, v in value.items()}}
    return value


# ------------------------------------------------------------------------------------- the file
def _line_of(text: str, name: str, message: str) -> int | None:
    """The line a setting is written on: `name = …` at the top level, or inside `[name]`/`[[name]]` the
    line of the inner key (else of the quoted value) the message mentions, else the table's header."""
    table: str | None = None
    header: int | None = None
    by_key: int | None = None
    by_value: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("["):
            table = stripped.strip("[] ")
            if table == name and header is None:
                header = number
            continue
        key, eq, value = stripped.partition("=")
        if not eq:
            continue
        key, value = key.strip().strip("\"'"), value.strip().strip("\"'")
        if table is None and key == name:
            return number
        if table != name:
            continue
        if by_key is None and re.search(rf"\b{re.escape(key)}\b", message):
            by_key = number
        if by_value is None and value and (f"'{value}'" in message or f'"{value}"' in message):
            by_value = number
    return by_key or by_value or header


def _read_file(path: str | Path) -> tuple[dict[str, Any], Callable[[str, str], str]]:
    """The file's settings, and how to name where one of them is written ("mockmj.toml line 3")."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)"; Python 3.11 has no attribute for it
        found = re.search(r"at line (\d+)", str(exc))
        raise ConfigError(f"{path}{' line ' + found.group(1) if found else ''}: invalid TOML: {exc}") from None

    def where(name: str, message: str) -> str:
        line = _line_of(text, name, message)
        return f"{path} line {line}" if line else str(path)

    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in Settings.__dataclass_fields__:
            raise ConfigError(f"{where(name, '')}: unknown setting {name!r}")
        try:
            values[name] = _convert(name, value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where(name, str(exc))}: setting {name}: {exc}") from None
    return values, where


# ------------------------------------------------------------------------------ the environment
def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _parse_env(hint: Any, text: str) -> Any:
    """A variable's text as the type hint asks: bools as 1/0/true/false/yes/no/on/off, numbers, lists of
    strings comma-separated, an empty text for an optional field as None, anything else as JSON."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        if not text.strip():
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{text!r} is not a boolean (use true or false)")
    if hint is int:
        return int(text.strip())
    if hint is float:
        return float(text.strip())
    if hint is str:
        return text
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,) and not text.lstrip().startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not JSON ({exc})") from None


def _read_environment(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """Each MOCKMJ_<FIELD> variable set, converted: {field: (value, variable name)}."""
    hints = typing.get_type_hints(Settings)
    found: dict[str, tuple[Any, str]] = {}
    for variable, text in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        suffix = variable[len(ENV_PREFIX):]
        name = ENV_ALIASES.get(suffix, suffix.lower())
        if name not in Settings.__dataclass_fields__:
            continue  # MOCKMJ_CONFIG, or a variable of the application under test
        try:
            if name == "keys" and not text.lstrip().startswith("["):
                value: Any = [KeyConfig(key=k.strip()) for k in text.split(",") if k.strip()]
            else:
                value = _convert(name, _parse_env(hints[name], text))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"environment variable {variable}: {exc}") from None
        found[name] = (value, variable)
    return found


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """MOCKMJ_* variables that name no setting (a typo, most likely), for a warning."""
    known = {env_name(n) for n in Settings.__dataclass_fields__} | {ENV_CONFIG}
    known |= {ENV_PREFIX + alias for alias in ENV_ALIASES}
    return sorted(v for v in environ if v.startswith(ENV_PREFIX) and v not in known)


# ----------------------------------------------------------------------------------- all of them
def option_name(field_name: str) -> str:
    return "--api-key" if field_name == "keys" else "--" + field_name.replace("_", "-")


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Defaults, then the TOML file, then `MOCKMJ_*` variables of `environ` (when given), then the
    non-None overrides (command-line options). A value that cannot be used raises ConfigError naming
    where it came from."""
    values: dict[str, Any] = {}
    origin: dict[str, Callable[[str], str]] = {}
    if path:
        file_values, where = _read_file(path)
        values.update(file_values)
        origin.update({name: functools.partial(where, name) for name in file_values})
    for name, (value, variable) in _read_environment(environ or {}).items():
        values[name] = value
        origin[name] = lambda _message, variable=variable: f"environment variable {variable}"
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
            origin[name] = lambda _message, name=name: f"option {option_name(name)}"
    unknown = set(values) - set(Settings.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    try:
        settings = Settings(**values)
        settings.check()
    except (ValueError, TypeError) as exc:
        culprit = _culprit(values)
        if culprit is None:
            raise
        raise ConfigError(f"{origin[culprit](str(exc))}: {exc}") from None
    return settings


def _culprit(values: dict[str, Any]) -> str | None:
    """The first setting that fails on its own (everything else at its default)."""
    for name, value in values.items():
        try:
            Settings(**{name: value}).check()
        except (ValueError, TypeError):
            return name
    return None
