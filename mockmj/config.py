"""Settings: embedded defaults, a TOML file (`--config mockmj.toml`) and command-line overrides."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.dialects import DIALECTS
from .core.timing import DEFAULT_PROFILE, PROFILES

# What each accepted submission costs, in the mock's credit units (the real relays price per action).
DEFAULT_PRICES: dict[str, int] = {
    "IMAGINE": 10, "BLEND": 10, "DESCRIBE": 5, "SHORTEN": 5, "SWAP_FACE": 10, "UPSCALE": 5,
    "VARIATION": 10, "REROLL": 10, "ZOOM": 10, "PAN": 10,
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
    journal_size: int = 1000
    outbox_size: int = 1000
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
            raise ValueError(f"unknown timing {self.timing!r}; choose one of {', '.join(PROFILES)}")
        if self.callback_policy not in ("upstream", "retry"):
            raise ValueError("callback policy must be 'upstream' or 'retry'")
        if not self.accounts:
            raise ValueError("at least one account is needed")
        for account in self.accounts:
            if account.core_size < 1 or account.queue_size < 0:
                raise ValueError(f"account {account.instance_id}: core_size must be ≥ 1 and queue_size ≥ 0")
        if self.journal_size < 0 or self.outbox_size < 0 or self.default_balance < 0:
            raise ValueError("journal_size, outbox_size and default_balance must not be negative")


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


def _make(kind: type, raw: Any, what: str) -> Any:
    if not isinstance(raw, dict):
        raise ValueError(f"each [[{what}]] entry must be a table")
    try:
        return kind(**raw)
    except TypeError as exc:
        raise ValueError(f"[[{what}]]: {exc}") from None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file, then the non-None overrides (command-line options)."""
    values: dict[str, Any] = {}
    if path:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        for name, value in raw.items():
            if name == "keys":
                values["keys"] = [_make(KeyConfig, item, "keys") for item in value]
            elif name == "accounts":
                values["accounts"] = [_make(AccountConfig, item, "accounts") for item in value]
            elif name == "prices":
                values["prices"] = {**DEFAULT_PRICES, **{k.upper(): int(v) for k, v in value.items()}}
            else:
                values[name] = value
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
    unknown = set(values) - set(Settings.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    settings = Settings(**values)
    settings.check()
    return settings
