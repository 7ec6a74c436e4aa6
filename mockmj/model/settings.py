"""The options the core runs with, their types and their rules.

Defined here, in the model layer, so that the engine depends on nothing above it; `mockmj.config` reads them
from their sources (the TOML file, `MOCKMJ_*` variables, the command line) and re-exports these names.
The types of a `Settings` are checked by pydantic against the annotations below; the rules between values
(a known dialect, a port in range…) are written out in `check`, each with its own message.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from mockmj.model.dialects import DIALECTS
from mockmj.model.modes import check_key_modes, check_mode_prices
from mockmj.model.options import LOG_FORMATS, LOG_LEVELS
from mockmj.model.profile_file import resolve_profile
from mockmj.model.timing import DEFAULT_PROFILE, PROFILES
from mockmj.model.versions import DEFAULT_VERSION, MODEL_VERSIONS, NIJI_VERSIONS

# What each accepted submission costs, in the mock's credit units (the real relays price per action).
DEFAULT_PRICES: dict[str, int] = {
    "IMAGINE": 10, "BLEND": 10, "DESCRIBE": 5, "SHORTEN": 5, "SWAP_FACE": 10, "UPSCALE": 5,
    "VARIATION": 10, "REROLL": 10, "ZOOM": 10, "PAN": 10,
    "VIDEO": 20, "EDIT": 10, "RETEXTURE": 10,
}

# How pydantic checks these dataclasses: strictly (no "3" for 3, no True for 1, a list is a list), and the
# fields of an instance too (by default pydantic trusts an instance of the dataclass it is given).
_PYDANTIC = {"strict": True, "revalidate_instances": "always"}


# A key's rate limit, in requests per second: from one request in 1,000 s to 100,000 a second. Beyond them a
# limit means nothing to a test, and the limiter's whole-second windows overflow (1e-320 is an infinite window).
RATE_LIMIT_MIN, RATE_LIMIT_MAX = 0.001, 100_000.0
BALANCE_LIMIT = 2**53  # a balance is exact in every JSON reader (JavaScript's numbers included)


def rate_limit_problem(rate: float | None) -> str | None:
    """What is wrong with a rate limit (None: unset, or fine)."""
    if rate is None:
        return None
    if not RATE_LIMIT_MIN <= rate <= RATE_LIMIT_MAX:  # NaN too
        return (f"must be between {RATE_LIMIT_MIN:g} and {RATE_LIMIT_MAX:g} requests per second (or unset), "
                f"not {rate!r}")
    return None


@dataclass
class KeyConfig:
    __pydantic_config__ = _PYDANTIC

    key: str
    balance: int | None = None  # None: the default balance
    rate_limit: float | None = None
    allowed_operations: list[str] | None = None
    modes: list[str] | None = None  # the speed modes this key may use (fast, relax, turbo, draft); None: all


@dataclass
class AccountConfig:
    __pydantic_config__ = _PYDANTIC

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
    draft: bool = False  # every prompt of this account is a --draft job without version flags (trueai's IsDraft)


def url_problem(url: str | None, allow_query: bool) -> str | None:
    """Why `url` cannot serve as an http(s) base (public_url) or callback target (notify_hook); None if it can.
    A public_url is joined with /attachments/…, so a query or a fragment would end up in the middle."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL with a host"
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        return "has a port that is not a number between 0 and 65535"
    if not allow_query and (parts.query or parts.fragment):
        return "must not carry a query or a fragment (image links are built under it)"
    return None


@dataclass
class Settings:
    __pydantic_config__ = _PYDANTIC

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
    # a factor per speed mode on the action's price, as relays bill (e.g. fast 1, relax 1, turbo 2, draft 0.5)
    mode_prices: dict[str, float] | None = None
    banned_words: list[str] | None = None  # None: the built-in list
    glossary: dict[str, str] | None = None  # None: the built-in glossary
    strict: bool = False  # validate every response against the spec (on in mockmj's own tests)
    # the model a prompt without --v gets, and the niji a bare --niji gets (None: niji 7 beside V8.x,
    # niji 6 beside an older pinned default); see model/versions.py
    default_version: str = DEFAULT_VERSION
    default_niji: str | None = None
    # how `mockmj serve` listens and logs (ignored by in-process servers, which take a free port)
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8
    # server threads beyond `threads` for requests that wait rather than work (a simulated delay, a slow client);
    # see web/delays.py for why 64, and docs/performance.md for what they cost a busy mock
    spare_threads: int = 64
    workers: int = 1  # serving processes; more than one needs a shared store (sqlite: or redis://)
    store: str = "memory"  # memory | sqlite:PATH | redis://HOST:PORT/DB: where the mock's state lives
    quiet: bool = False  # no access log
    log_control: bool = False  # the access log shows control-plane and dashboard calls (/_mockmj/*) too
    log_format: str = "text"  # text | json
    log_level: str = "info"  # debug adds the state changes of tasks
    journal_size: int = 1000
    outbox_size: int = 1000
    # --- bounds on what clients may make the mock hold (see web/guard.py and docs/configuration.md, "Limits")
    journal_bytes: int = 4 * 1024 * 1024  # the journal is capped by bytes as well as by entries
    max_body_bytes: int = 32 * 1024 * 1024  # larger request bodies answer 413
    max_json_depth: int = 32  # deeper JSON answers 400 (the API's own bodies are 3 levels deep)
    max_prompt_chars: int = 6000  # what a Discord slash-command option carries
    max_state_chars: int = 255  # as trueai's proxy
    max_notify_hook_chars: int = 2000  # as trueai's proxy
    max_images: int = 5  # reference images of one imagine, items of one upload (blend: 2-5 anyway)
    max_tasks: int = 100_000  # finished tasks beyond this are evicted, oldest first
    task_cache: int = 2_000  # finished tasks held as objects; the rest packed (memory) or read when asked (shared)
    idle_key_seconds: int = 3600  # any-key mode: a key unused this long loses its tasks and balance
    list_limit: int = 100  # /mj/task/list returns the latest N, as trueai does
    control_token: str | None = None  # when set, /_mockmj/* (but health) needs X-MockMJ-Control-Token
    # `serve --replay DIR`: answer from a recording (mockmj/record/replay.py)
    replay: str | None = None
    replay_ids: str = "fresh"  # fresh | recorded
    replay_miss: str = "simulate"  # simulate | strict
    replay_speed: float = 1.0
    # findings (client mistakes, see engine/findings.py): their thresholds
    findings_polls_per_second: float = 2.0
    findings_poll_window: float = 2.0
    findings_terminal_polls: int = 3
    findings_abandoned_after: float = 60.0

    def check(self) -> None:
        """Raise a ValueError naming the first setting that cannot be used, and why."""
        check_types(self)
        if self.dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {self.dialect!r}; choose one of {', '.join(DIALECTS)}")
        if self.timing not in PROFILES:
            resolve_profile(self.timing)  # file:PROFILE.toml is read here, so its mistakes stop the start
        if self.callback_policy not in ("upstream", "retry"):
            raise ValueError("callback policy must be 'upstream' or 'retry'")
        if not self.accounts:
            raise ValueError("at least one account is needed")
        check_mode_prices(self.mode_prices)
        for k in self.keys:
            check_key_modes(k.key, k.modes)
        if self.default_version not in MODEL_VERSIONS:
            raise ValueError(f"default_version must be one of {', '.join(MODEL_VERSIONS)}, "
                             f"not {self.default_version!r}")
        if self.default_niji is not None and self.default_niji not in NIJI_VERSIONS:
            raise ValueError(f"default_niji must be one of {', '.join(NIJI_VERSIONS)}, not {self.default_niji!r}")
        for rate in (self.default_rate_limit, *(k.rate_limit for k in self.keys)):
            problem = rate_limit_problem(rate)
            if problem:
                raise ValueError(f"rate_limit {problem}")
        _check_serving(self)
        for account in self.accounts:
            if account.core_size < 1 or account.queue_size < 0:
                raise ValueError(f"account {account.instance_id}: core_size must be ≥ 1 and queue_size ≥ 0")
        if self.journal_size < 0 or self.outbox_size < 0 or self.default_balance < 0:
            raise ValueError("journal_size, outbox_size and default_balance must not be negative")
        for name in ("journal_bytes", "max_body_bytes", "max_json_depth", "max_prompt_chars", "max_state_chars",
                     "max_notify_hook_chars", "max_images", "max_tasks", "task_cache", "idle_key_seconds",
                     "list_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.control_token is not None and not self.control_token.strip():
            raise ValueError("control_token must not be empty")
        if self.replay_ids not in ("fresh", "recorded") or self.replay_miss not in ("simulate", "strict"):
            raise ValueError("replay_ids must be fresh or recorded, replay_miss simulate or strict")
        if self.replay_speed <= 0:
            raise ValueError("replay_speed must be above 0")
        for name in ("public_url", "notify_hook"):
            problem = url_problem(getattr(self, name), allow_query=name == "notify_hook")
            if problem:
                raise ValueError(f"{name} {getattr(self, name)!r} {problem}")

    def store_kind(self) -> str:
        """memory, sqlite or redis (see `store_kind`)."""
        return store_kind(self.store)


# ------------------------------------------------------------------------------------------ types
@functools.cache
def _adapter(kind: type) -> TypeAdapter[Any]:
    return TypeAdapter(kind)  # built once: making the validator is the slow part


def _where(loc: tuple[int | str, ...]) -> str:
    """pydantic's location of an error as the setting's name: ("accounts", 0, "core_size") →
    accounts[0].core_size; a dict's key that is wrong is marked as such."""
    text = ""
    for part in loc:
        if part == "[key]":
            text += " (its key)"
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def type_problems(error: ValidationError) -> str:
    """One sentence per wrong value: "setting port should be a valid integer, not 'eighty'"."""
    sentences = []
    for problem in error.errors(include_url=False):
        where, message = _where(problem["loc"]), problem["msg"]
        if message.startswith("Input should be "):
            sentences.append(f"setting {where} {message.removeprefix('Input ')}, not {problem['input']!r}")
        else:
            sentences.append(f"setting {where}: {message} (given {problem['input']!r})")
    return "; ".join(sentences)


def check_types(value: Settings | KeyConfig | AccountConfig) -> None:
    """A ValueError when a field (nested ones too) does not hold what its annotation says."""
    try:
        _adapter(type(value)).validate_python(value)
    except ValidationError as exc:
        raise ValueError(type_problems(exc)) from None


# ---------------------------------------------------------------------------------------- values
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
    if settings.spare_threads < 0:
        raise ValueError(f"spare_threads must be 0 or more, not {settings.spare_threads}")
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
