"""Settings: embedded defaults, a TOML file (`--config mockmj.toml`), `MOCKMJ_*` environment variables
and command-line overrides, in that order of precedence (the command line wins).

Every field of `Settings` is settable from each source with no extra code: the file by its name, the
environment as `MOCKMJ_<NAME>` (parsed after the field's type hint), the command line through `overrides`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.dialects import DIALECTS
from .core.profile_file import resolve_profile
from .core.timing import DEFAULT_PROFILE, PROFILES

# What each accepted submission costs, in the mock's credit units (the real relays price per action).
DEFAULT_PRICES: dict[str, int] = {
    "IMAGINE": 10, "BLEND": 10, "DESCRIBE": 5, "SHORTEN": 5, "SWAP_FACE": 10, "UPSCALE": 5,
    "VARIATION": 10, "REROLL": 10, "ZOOM": 10, "PAN": 10,
    "VIDEO": 20, "EDIT": 10, "RETEXTURE": 10,
}


@dataclass
class KeyConfig:
    key: str
    balance: int | None = None  # None: the default balance
    rate_limit: float | None = None
    allowed_operations: list[str] | None = None


@dataclass
class AccountConfig:
    instance_id: str = "1118138338562560102"
    channel_id: str | None = None  # defaults to instance_id, as in the proxy
    guild_id: str = "1118138338004369459"
    modes: list[str] = field(default_factory=lambda: ["FAST", "RELAX", "TURBO"])
    remix: bool = False
    remix_auto_submit: bool = False
    enabled: bool = True
    core_size: int = 3
    queue_size: int = 10
    remark: str = "mockmj default account"


@dataclass
class Settings:
    dialect: str = "88api"
    timing: str = DEFAULT_PROFILE
    seed: int | None = None
    keys: list[KeyConfig] = field(default_factory=list)  # empty: any non-empty key is accepted
    no_auth: bool = False
    default_balance: int = 1_000_000
    default_rate_limit: float | None = None
    accounts: list[AccountConfig] = field(default_factory=lambda: [AccountConfig()])
    public_url: str | None = None
    notify_hook: str | None = None
    callback_policy: str = "upstream"
    prices: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    banned_words: list[str] | None = None  # None: the built-in list
    glossary: dict[str, str] | None = None  # None: the built-in glossary
    strict: bool = False  # validate every response against the spec (on in mockmj's own tests)
    # how `mockmj serve` listens and logs (ignored by in-process servers, which take a free port)
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8
    workers: int = 1  # serving processes; more than one needs a shared store (sqlite: or redis://)
    store: str = "memory"  # memory | sqlite:PATH | redis://HOST:PORT/DB: where the mock's state lives
    quiet: bool = False  # no access log
    log_format: str = "text"  # text | json
    log_level: str = "info"  # debug adds the state changes of tasks
    journal_size: int = 1000
    outbox_size: int = 1000
    # --- bounds on what clients may make the mock hold (see web/guard.py and the README's "Limits")
    journal_bytes: int = 4 * 1024 * 1024  # the journal is capped by bytes as well as by entries
    max_body_bytes: int = 32 * 1024 * 1024  # larger request bodies answer 413
    max_json_depth: int = 32  # deeper JSON answers 400 (the API's own bodies are 3 levels deep)
    max_prompt_chars: int = 6000  # what a Discord slash-command option carries
    max_state_chars: int = 255  # as trueai's proxy
    max_notify_hook_chars: int = 2000  # as trueai's proxy
    max_images: int = 5  # reference images of one imagine, items of one upload (blend: 2-5 anyway)
    max_tasks: int = 100_000  # finished tasks beyond this are evicted, oldest first
    idle_key_seconds: int = 3600  # any-key mode: a key unused this long loses its tasks and balance
    list_limit: int = 100  # /mj/task/list returns the latest N, as trueai does
    control_token: str | None = None  # when set, /_mockmj/* (but health) needs X-MockMJ-Control-Token
    # `serve --replay DIR`: answer from a recording (mockmj/record/replay.py)
    replay: str | None = None
    replay_ids: str = "fresh"  # fresh | recorded
    replay_miss: str = "simulate"  # simulate | strict
    replay_speed: float = 1.0
    # findings (client mistakes, see core/findings.py): their thresholds
    findings_polls_per_second: float = 2.0
    findings_poll_window: float = 2.0
    findings_terminal_polls: int = 3
    findings_abandoned_after: float = 60.0

    def check(self) -> None:
        _check_types(self)
        for key in self.keys:
            _check_types(key)
        for account in self.accounts:
            _check_types(account)
        if self.dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {self.dialect!r}; choose one of {', '.join(DIALECTS)}")
        if self.timing not in PROFILES:
            resolve_profile(self.timing)  # file:PROFILE.toml is read here, so its mistakes stop the start
        if self.callback_policy not in ("upstream", "retry"):
            raise ValueError("callback policy must be 'upstream' or 'retry'")
        if not self.accounts:
            raise ValueError("at least one account is needed")
        _check_serving(self)
        for account in self.accounts:
            if account.core_size < 1 or account.queue_size < 0:
                raise ValueError(f"account {account.instance_id}: core_size must be ≥ 1 and queue_size ≥ 0")
        if self.journal_size < 0 or self.outbox_size < 0 or self.default_balance < 0:
            raise ValueError("journal_size, outbox_size and default_balance must not be negative")
        for name in ("journal_bytes", "max_body_bytes", "max_json_depth", "max_prompt_chars", "max_state_chars",
                     "max_notify_hook_chars", "max_images", "max_tasks", "idle_key_seconds", "list_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.control_token is not None and not self.control_token.strip():
            raise ValueError("control_token must not be empty")
        if self.replay_ids not in ("fresh", "recorded") or self.replay_miss not in ("simulate", "strict"):
            raise ValueError("replay_ids must be fresh or recorded, replay_miss simulate or strict")
        if self.replay_speed <= 0:
            raise ValueError("replay_speed must be above 0")


def _matches(value: Any, hint: Any) -> bool:
    """A small runtime check of the annotations used in this module's dataclasses."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        return isinstance(value, dict) and all(_matches(k, key_hint) and _matches(v, value_hint)
                                               for k, v in value.items())
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _check_types(obj: Any) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not _matches(value, hints[f.name]):
            where = type(obj).__name__.replace("Config", "").lower()
            raise ValueError(f"setting {f.name} of {where}: {value!r} is not a valid {hints[f.name]}")


LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning")
ENV_PREFIX = "MOCKMJ_"
# environment names that are not simply MOCKMJ_<FIELD>: the command line's --api-key and --config
ENV_ALIASES = {"API_KEY": "keys", "API_KEYS": "keys"}
ENV_CONFIG = ENV_PREFIX + "CONFIG"


class ConfigError(ValueError):
    """A setting that cannot be used, with where it came from (file and line, variable, option)."""


STORE_KINDS = ("memory", "sqlite:PATH", "redis://HOST:PORT/DB")


def store_kind(store: str) -> str:
    """memory, sqlite or redis: the kind of a `store` setting, or a ValueError that names the accepted forms."""
    if store == "memory":
        return "memory"
    if store.startswith("sqlite:") and store[len("sqlite:"):].strip():
        return "sqlite"
    if store.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    raise ValueError(f"store {store!r} is not one of {', '.join(STORE_KINDS)}")


def _check_serving(settings: Settings) -> None:
    if not 1 <= settings.port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, not {settings.port}")
    if settings.threads < 1:
        raise ValueError(f"threads must be at least 1, not {settings.threads}")
    if settings.workers < 1:
        raise ValueError(f"workers must be at least 1, not {settings.workers}")
    kind = store_kind(settings.store)
    if settings.workers > 1 and kind == "memory":
        raise ValueError(f"--workers {settings.workers} needs state shared between processes: the memory store "
                         "lives in one process. Pick --store sqlite:PATH (one host) or --store redis://HOST:PORT/DB")
    if not settings.host.strip():
        raise ValueError("host must not be empty")
    if settings.log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}, not {settings.log_format!r}")
    if settings.log_level not in LOG_LEVELS:
        raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {settings.log_level!r}")


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
        return {**DEFAULT_PRICES, **{k.upper(): int(v) for k, v in value.items()}}
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
