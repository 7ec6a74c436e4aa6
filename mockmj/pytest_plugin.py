"""pytest plugin: a mockmj server for the whole session and a `mockmj` fixture per test.

Installed with mockmj and loaded by pytest through the `pytest11` entry point, so it is present in every
pytest run of a project that has mockmj installed. It therefore does nothing at all until a test asks for
one of its fixtures: importing this module pulls in neither Flask nor the server, and no server starts
unless `mockmj` or `mockmj_server` is requested.

    def test_my_client(mockmj):
        app = MyClient(base_url=mockmj.base_url, api_key=mockmj.api_key)
        mockmj.add_rule(match={"operation": "submitImagine"}, respond={"code": 25}, times=1)
        ...

Each test gets its own API key, so it is its own tenant of the shared server: it sees only its own tasks,
balance, journal entries and callbacks. The rules it adds match only its key (unless it says otherwise),
and at teardown its rules are deleted, the accounts and timing profile it changed are put back, and its
key is reset. Options (command line, or the same names in the ini file with `_` for `-`):

    --mockmj-dialect 88api|proxy     (ini mockmj_dialect, default 88api)
    --mockmj-timing fast|realistic|per-poll|manual   (ini mockmj_timing, default fast)
    --mockmj-seed N                  (ini mockmj_seed, default: a random seed)
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import requests

    from mockmj.serve.inprocess import MockServer

DEFAULTS: dict[str, str] = {"dialect": "88api", "timing": "fast", "seed": ""}
ACCOUNT_FIELDS = ("enabled", "remix", "remixAutoSubmit", "coreSize", "queueSize", "modes", "remark")
_key_counter = itertools.count(1)


class MockmjControlError(AssertionError):
    """A control request was refused (bad rule, unknown account, …): `status` and the mock's `error`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"mockmj control API answered {status}: {message}")
        self.status = status
        self.message = message


# ------------------------------------------------------------------------------------------ options
def pytest_addoption(parser: pytest.Parser) -> None:
    from mockmj.model.dialects import DIALECTS
    from mockmj.model.timing import PROFILES

    group = parser.getgroup("mockmj", "mockmj (Midjourney proxy mock) fixtures")
    group.addoption("--mockmj-dialect", dest="mockmj_dialect", choices=sorted(DIALECTS), default=None,
                    help="API dialect of the mock started for the `mockmj` fixture (default 88api).")
    group.addoption("--mockmj-timing", dest="mockmj_timing", choices=sorted(PROFILES), default=None,
                    help="Timing profile of that mock (default fast: a task succeeds about 1 s after submit).")
    group.addoption("--mockmj-seed", dest="mockmj_seed", type=int, default=None,
                    help="Seed for ids, hashes, images and timings (default: random).")
    group.addoption("--mockmj-control-token", dest="mockmj_control_token", default=None,
                    help="Control token of that mock (sent as X-MockMJ-Control-Token by the fixture).")
    parser.addini("mockmj_control_token", "mockmj fixture: control token (empty: none)", default="")
    parser.addini("mockmj_dialect", "mockmj fixture: API dialect (88api or proxy)", default=DEFAULTS["dialect"])
    parser.addini("mockmj_timing", "mockmj fixture: timing profile (fast, realistic, per-poll or manual)",
                  default=DEFAULTS["timing"])
    parser.addini("mockmj_seed", "mockmj fixture: seed (an integer; empty for a random one)",
                  default=DEFAULTS["seed"])


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"mockmj_{name}")
    if value is None:
        value = config.getini(f"mockmj_{name}")
    return str(value).strip() if value is not None else DEFAULTS[name]


def server_options(config: pytest.Config) -> dict[str, Any]:
    """The start_mock() arguments the options ask for (UsageError for a bad ini value)."""
    from mockmj.model.dialects import DIALECTS
    from mockmj.model.timing import PROFILES

    dialect, timing, seed_text = _option(config, "dialect"), _option(config, "timing"), _option(config, "seed")
    if dialect not in DIALECTS:
        raise pytest.UsageError(f"mockmj_dialect must be one of {', '.join(sorted(DIALECTS))}, not {dialect!r}")
    if timing not in PROFILES:
        raise pytest.UsageError(f"mockmj_timing must be one of {', '.join(sorted(PROFILES))}, not {timing!r}")
    try:
        seed = int(seed_text) if seed_text else None
    except ValueError:
        raise pytest.UsageError(f"mockmj_seed must be an integer, not {seed_text!r}") from None
    token = config.getoption("mockmj_control_token") or config.getini("mockmj_control_token") or None
    return {"dialect": dialect, "timing": timing, "seed": seed, "control_token": token}


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def mockmj_server(pytestconfig: pytest.Config) -> Iterator[MockServer]:
    """The session's mock, on a free loopback port (started on first use, stopped at the end)."""
    options = server_options(pytestconfig)
    from mockmj.serve.inprocess import start_mock

    server = start_mock(**options)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mockmj(mockmj_server: MockServer, request: pytest.FixtureRequest) -> Iterator[MockMJ]:
    """This test's view of the session mock: its own API key, headers and a control client."""
    handle = MockMJ(mockmj_server, _test_key(request.node.nodeid))
    try:
        yield handle
    finally:
        handle.close()


def _test_key(nodeid: str) -> str:
    digest = hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:10]
    return f"mockmj-test-{next(_key_counter):04d}-{digest}"


# ------------------------------------------------------------------------------------------ the handle
class MockMJ:
    """What the `mockmj` fixture gives a test: where the mock is, this test's key, and control calls."""

    def __init__(self, server: MockServer, api_key: str) -> None:
        import requests

        self.server = server
        self.base_url: str = server.base_url
        self.api_key: str = api_key
        self.headers: dict[str, str] = {"Authorization": f"Bearer {api_key}"}
        self._http = requests.Session()
        token = server.mock.settings.control_token
        if token:
            self._http.headers["X-MockMJ-Control-Token"] = token
        self._rule_ids: list[str] = []
        self._accounts_before: dict[str, dict[str, Any]] = {}
        self._timing_before: str | None = None

    # ---------------------------------------------------------------- plumbing
    def _control(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        response: requests.Response = self._http.request(
            method, f"{self.base_url}/_mockmj{path}", json=body, params=params, timeout=60)
        if response.status_code != 200:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise MockmjControlError(response.status_code, message)
        return response.json()

    def control(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """Any control call, e.g. control("GET", "/clock"); raises MockmjControlError when refused."""
        return self._control(method, path, body, params or None)

    # ---------------------------------------------------------------- time
    def clock(self) -> dict[str, Any]:
        """{"now": epoch ms, "timing": profile, "virtual": bool}."""
        return self._control("GET", "/clock")

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the mock's time on; due transitions and callbacks have happened when this returns."""
        return self._control("POST", "/clock/advance", {"seconds": seconds})

    def set_timing(self, name: str) -> dict[str, Any]:
        """Switch the timing profile (for tasks submitted afterwards); put back after the test."""
        if self._timing_before is None:
            self._timing_before = self.clock()["timing"]
        return self._control("PUT", "/timing", {"timing": name})

    # ---------------------------------------------------------------- rules
    def add_rule(self, match: dict[str, Any] | None = None, respond: dict[str, Any] | None = None,
                 times: int | None = None) -> dict[str, Any]:
        """Add a rule that matches this test's key (unless `match` names a key) and is deleted at teardown."""
        match = dict(match or {})
        match.setdefault("key", self.api_key)
        body: dict[str, Any] = {"match": match, "respond": dict(respond or {})}
        if times is not None:
            body["times"] = times
        rule = self._control("POST", "/rules", body)
        self._rule_ids.append(rule["id"])
        return rule

    def rules(self) -> list[dict[str, Any]]:
        """This test's rules still active, with `remaining` and `fired`."""
        mine = set(self._rule_ids)
        return [r for r in self._control("GET", "/rules") if r["id"] in mine]

    def clear_rules(self) -> None:
        """Delete the rules this test added (spent ones are already gone)."""
        for rule_id in self._rule_ids:
            try:
                self._control("DELETE", f"/rules/{rule_id}")
            except MockmjControlError as exc:
                if exc.status != 404:
                    raise
        self._rule_ids = []

    # ---------------------------------------------------------------- what happened
    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """This key's journal entries (oldest first); filters: operationId, method, path, status, billable,
        since, limit."""
        params = {name: (str(value).lower() if isinstance(value, bool) else value)
                  for name, value in filters.items() if value is not None}
        params["key"] = self.api_key
        return self._control("GET", "/requests", params=params)["items"]

    def callbacks(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """Callback delivery attempts for this test's tasks (of one task if given)."""
        params = {"key": self.api_key, **({"taskId": task_id} if task_id else {})}
        return self._control("GET", "/callbacks", params=params)["items"]

    def findings(self, final: bool = False) -> list[dict[str, Any]]:
        """What this test's client did wrong so far (fast-polling, ignored-retry-after, abandoned-task, …): each
        {"kind", "subject", "taskId", "evidence", "advice", …}. `final`: the client is done, so a task it
        submitted and never read counts as abandoned at once."""
        params = {"key": self.api_key, "final": str(final).lower()}
        return self._control("GET", "/findings", params=params)["items"]

    def assert_well_behaved(self, ignore: list[str] | tuple[str, ...] = ()) -> None:
        """Fail the test, naming each finding with its evidence and advice, unless the client has none (of the
        kinds not in `ignore`). Call it at the end of a test: every unread task counts as abandoned."""
        from mockmj.engine.findings import KINDS

        unknown = set(ignore) - set(KINDS)
        if unknown:
            raise ValueError(f"assert_well_behaved(ignore=...): unknown kinds {sorted(unknown)}; "
                             f"known: {', '.join(KINDS)}")
        found = [f for f in self.findings(final=True) if f["kind"] not in ignore]
        if found:
            lines = [f"- {f['kind']}: {f['subject']} {f['evidence']} — {f['advice']}" for f in found]
            raise AssertionError(f"the client under test is not well behaved ({len(found)} findings):\n"
                                 + "\n".join(lines))

    def timeline(self, task_id: str) -> list[dict[str, Any]]:
        """Transitions, polls and callback attempts of one task, in time order."""
        return self._control("GET", f"/tasks/{task_id}/timeline")["events"]

    # ---------------------------------------------------------------- tenant, key and accounts
    def reset(self) -> None:
        """Forget this key's tasks, balance, journal entries and callbacks (its rules stay)."""
        self._control("POST", "/reset", {"key": self.api_key})

    def key_info(self) -> dict[str, Any]:
        """{"key", "balance", "rateLimit", "allowedOperations"} of this test's key."""
        return self._control("GET", f"/keys/{self.api_key}")

    def set_balance(self, balance: int) -> dict[str, Any]:
        return self.update_key(balance=balance)

    def update_key(self, **fields: Any) -> dict[str, Any]:
        """Change this key's balance, rateLimit or allowedOperations (the reset at teardown restores them)."""
        return self._control("PATCH", f"/keys/{self.api_key}", fields)

    def accounts(self) -> list[dict[str, Any]]:
        return self._control("GET", "/accounts")

    def update_account(self, instance_id: str, **fields: Any) -> dict[str, Any]:
        """Change a simulated account (enabled, remix, remixAutoSubmit, coreSize, queueSize, modes, remark);
        accounts are shared, so what the test changed is put back at teardown."""
        if instance_id not in self._accounts_before:
            before = next((a for a in self.accounts() if a["instanceId"] == instance_id), None)
            if before is not None:
                self._accounts_before[instance_id] = {k: before[k] for k in ACCOUNT_FIELDS if k in before}
        return self._control("PATCH", f"/accounts/{instance_id}", fields)

    # ---------------------------------------------------------------- teardown
    def close(self) -> None:
        """Undo what the test changed on the shared server, then forget its tenant."""
        try:
            self.clear_rules()
            for instance_id, fields in self._accounts_before.items():
                self._control("PATCH", f"/accounts/{instance_id}", fields)
            self._accounts_before = {}
            if self._timing_before is not None:
                self._control("PUT", "/timing", {"timing": self._timing_before})
                self._timing_before = None
            self.reset()
        finally:
            self._http.close()

    def __repr__(self) -> str:
        return f"<mockmj {self.base_url} key={self.api_key}>"


__all__ = ["MockMJ", "MockmjControlError", "mockmj", "mockmj_server"]
