"""The suite's options: one `--mj-*` command-line option and one `MJ_*` environment variable each."""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

SPEC_DEFAULT = Path(__file__).resolve().parent.parent / "openapi.yaml"

# name, environment variable, help
OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("base-url", "MJ_BASE_URL", "target base URL (the server root, before /mj); default: start mockmj in-process"),
    ("api-key", "MJ_API_KEY", "API key sent to the target"),
    ("second-key", "MJ_SECOND_KEY", "a second API key, for the cross-key isolation clause (AUTH-3)"),
    ("dialect", "MJ_DIALECT", "88api (default) or proxy: what the target is expected to speak"),
    ("budget", "MJ_BUDGET", "max billable requests (POST /mj/submit/*, /mj/insight-face/swap); "
                            "default unlimited for a local target, 0 otherwise"),
    ("rate", "MJ_RATE", "max request rate, e.g. 2/s or 30/m; requests are spaced evenly"),
    ("hook-url", "MJ_HOOK_URL", "public URL the target can POST callbacks to; the suite listens on its port"),
    ("hook-listen", "MJ_HOOK_LISTEN", "HOST:PORT the callback receiver binds (default 0.0.0.0:<hook-url port>)"),
    ("report", "MJ_REPORT", "report path stem: writes STEM.md and STEM.json (default contract-report)"),
    ("clauses", "MJ_CLAUSES", "comma-separated clause ids or globs to run (e.g. LIFE-*,ENV-3)"),
    ("spec", "MJ_SPEC", "OpenAPI document to check against (default: the repository's openapi.yaml)"),
    ("task-timeout", "MJ_TASK_TIMEOUT", "seconds to wait for a task to finish (default 30 local, 600 live)"),
    ("mock-timing", "MJ_MOCK_TIMING", "timing of the in-process mock (default per-poll)"),
    ("seed", "MJ_SEED", "hypothesis seed; default: derandomized (the same examples every run)"),
    ("max-examples", "MJ_MAX_EXAMPLES", "schemathesis fuzzing examples per operation against a local target"),
    ("strict", "MJ_STRICT", "on or off: a selected clause left not verified fails the run; default on for a "
                            "local target, off otherwise (the budget decides what a live run checks)"),
    ("min-coverage", "MJ_MIN_COVERAGE", "fail the run when the report's coverage of the spec (operations, "
                                        "actions, button kinds, statuses, codes, HTTP statuses) is below P %"),
)

DIALECTS = ("88api", "proxy")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockmj contracts", "mockmj contract suite (each also as an MJ_* variable)")
    for name, env, text in OPTIONS:
        group.addoption(f"--mj-{name}", dest=f"mj_{name.replace('-', '_')}", default=None,
                        help=f"{text} [{env}]")


def _raw(config: pytest.Config, name: str, env: str) -> str | None:
    value = config.getoption(f"mj_{name.replace('-', '_')}", default=None)
    if value in (None, ""):
        value = os.environ.get(env) or None
    return value


def parse_rate(text: str | None) -> float | None:
    """'2/s', '30/m', '1/h' or a bare number of requests per second → requests per second."""
    if not text:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:/\s*([smh]))?\s*", text)
    if not m:
        raise pytest.UsageError(f"--mj-rate: cannot read {text!r} (use e.g. 2/s or 30/m)")
    per = {"s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]
    rate = float(m.group(1)) / per
    if rate <= 0:
        raise pytest.UsageError("--mj-rate must be positive")
    return rate


def is_local_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Options:
    base_url: str | None
    api_key: str | None
    second_key: str | None
    dialect: str | None  # None: not given (taken from the mock when the target is one, else 88api)
    budget: int | None  # None: unlimited
    rate: float | None
    hook_url: str | None
    hook_listen: str | None
    report: str
    clauses: list[str] = field(default_factory=list)
    spec: Path = SPEC_DEFAULT
    task_timeout: float = 30.0
    mock_timing: str = "per-poll"
    seed: int | None = None
    max_examples: int = 6
    strict: bool = True
    min_coverage: float | None = None

    @property
    def in_process(self) -> bool:
        return self.base_url is None

    @property
    def local(self) -> bool:
        return self.in_process or is_local_url(self.base_url or "")

    @property
    def limited(self) -> bool:
        """A finite budget: the suite behaves as it would against a paid API."""
        return self.budget is not None

    def selects(self, clause_id: str) -> bool:
        if not self.clauses:
            return True
        return any(fnmatch.fnmatchcase(clause_id, pat) for pat in self.clauses)

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url or "(in-process mockmj)",
            "dialect": self.dialect,
            "budget": "unlimited" if self.budget is None else self.budget,
            "rate_per_second": self.rate,
            "hook_url": self.hook_url,
            "second_key": bool(self.second_key),
            "clauses": self.clauses or ["*"],
            "spec": str(self.spec),
            "task_timeout": self.task_timeout,
            "strict": self.strict,
            "min_coverage": self.min_coverage,
        }


def read_options(config: pytest.Config) -> Options:
    def raw(name: str) -> str | None:
        env = next(e for n, e, _ in OPTIONS if n == name)
        return _raw(config, name, env)

    base_url = raw("base-url")
    if base_url:
        base_url = base_url.rstrip("/")
        if not re.match(r"https?://", base_url):
            raise pytest.UsageError(f"--mj-base-url must start with http:// or https:// (got {base_url!r})")
    dialect = raw("dialect")
    if dialect is not None and dialect not in DIALECTS:
        raise pytest.UsageError(f"--mj-dialect must be one of {', '.join(DIALECTS)} (got {dialect!r})")
    local = base_url is None or is_local_url(base_url)
    budget_text = raw("budget")
    if budget_text is None:
        budget = None if local else 0
    elif budget_text.strip().lower() in ("unlimited", "inf", "none"):
        budget = None
    else:
        try:
            budget = int(budget_text)
        except ValueError:
            raise pytest.UsageError(f"--mj-budget must be an integer (got {budget_text!r})") from None
        if budget < 0:
            raise pytest.UsageError("--mj-budget must be >= 0")
    rate = parse_rate(raw("rate"))
    if rate is None and not local:
        rate = 2.0  # be polite to a shared deployment unless told otherwise
    clauses = [c.strip() for c in (raw("clauses") or "").split(",") if c.strip()]
    timeout_text = raw("task-timeout")
    task_timeout = float(timeout_text) if timeout_text else (30.0 if local else 600.0)
    seed_text = raw("seed")
    spec = Path(raw("spec") or SPEC_DEFAULT)
    examples_text = raw("max-examples")
    strict_text = (raw("strict") or "").strip().lower()
    if strict_text and strict_text not in ("on", "off", "yes", "no", "true", "false", "1", "0"):
        raise pytest.UsageError(f"--mj-strict must be on or off (got {strict_text!r})")
    strict = local if not strict_text else strict_text in ("on", "yes", "true", "1")
    coverage_text = raw("min-coverage")
    min_coverage = None
    if coverage_text:
        try:
            min_coverage = float(coverage_text.rstrip("%"))
        except ValueError:
            raise pytest.UsageError(f"--mj-min-coverage must be a percentage (got {coverage_text!r})") from None
        if not 0 <= min_coverage <= 100:
            raise pytest.UsageError("--mj-min-coverage must lie between 0 and 100")
    return Options(
        base_url=base_url,
        api_key=raw("api-key"),
        second_key=raw("second-key"),
        dialect=dialect,
        budget=budget,
        rate=rate,
        hook_url=raw("hook-url"),
        hook_listen=raw("hook-listen"),
        report=raw("report") or "contract-report",
        clauses=clauses,
        spec=spec,
        task_timeout=task_timeout,
        mock_timing=raw("mock-timing") or "per-poll",
        seed=int(seed_text) if seed_text else None,
        max_examples=int(examples_text) if examples_text else 6,
        strict=strict,
        min_coverage=min_coverage,
    )
