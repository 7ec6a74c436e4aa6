"""Testcontainers module: mockmj's container image started for the tests of an application.

    from mockmj.testcontainers import MockMJContainer

    with MockMJContainer().with_timing("fast").with_seed(42) as mock:
        client = MyClient(base_url=mock.get_url(), api_key=mock.api_key)
        ...
        control = mock.get_client()          # the control helper of mockmj's pytest plugin
        control.add_rule(match={"operation": "submitImagine"}, respond={"code": 25}, times=1)

It follows the conventions of testcontainers-python 4.x modules: a `DockerContainer` subclass with a pinned
image tag (the image of this very mockmj version, built from the project's Dockerfile), `with_*` setters that
each set one `MOCKMJ_*` variable, an HTTP wait on the health endpoint and `get_url()`. `testcontainers` is an
optional dependency (`pip install 'mockmj[testcontainers]'`): only importing this module needs it.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING, Any

try:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy
except ImportError as exc:  # a clear hint instead of a bare ModuleNotFoundError deep in a test run
    raise ImportError("mockmj.testcontainers needs testcontainers 4.13 or later: "
                      "pip install 'mockmj[testcontainers]'") from exc

if TYPE_CHECKING:
    from typing import Self

    from .pytest_plugin import MockMJ

PORT = 8080  # the Dockerfile's EXPOSE and MOCKMJ_PORT
HEALTH_PATH = "/_mockmj/health"
# The image of the same version as this package: the API, control plane and settings then match the code
# calling them. Build it with `podman build -t mockmj:VERSION .` (or docker) from the project's checkout.
DEFAULT_IMAGE = f"mockmj:{version('mockmj')}"
DEFAULT_API_KEY = "sk-testcontainers"
ENV_PREFIX = "MOCKMJ_"  # each setting NAME is read from MOCKMJ_<NAME> by `mockmj serve`


class MockMJContainer(DockerContainer):
    """mockmj in a container: `fast` timing and one API key unless told otherwise; ready when the health
    endpoint answers 200 through the mapped port."""

    def __init__(self, image: str = DEFAULT_IMAGE, *, api_key: str = DEFAULT_API_KEY, timing: str = "fast",
                 **kwargs: Any) -> None:
        super().__init__(image, **kwargs)
        self.api_key = api_key
        self._control_token: str | None = None
        self.with_exposed_ports(PORT)
        self.with_api_keys(api_key)
        self.with_timing(timing)
        self.waiting_for(HttpWaitStrategy(PORT, HEALTH_PATH).for_status_code(200).with_startup_timeout(60))

    # ---------------------------------------------------------------- settings: one MOCKMJ_* variable each
    def with_setting(self, name: str, value: object) -> Self:
        """Any setting of `mockmj serve` by its field name (e.g. "journal_size"): MOCKMJ_JOURNAL_SIZE."""
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return self.with_env(ENV_PREFIX + name.upper(), text)

    def with_timing(self, profile: str) -> Self:
        """fast | realistic | per-poll | manual (MOCKMJ_TIMING)."""
        return self.with_setting("timing", profile)

    def with_seed(self, seed: int) -> Self:
        """The same seed gives the same task ids, images and outcomes (MOCKMJ_SEED)."""
        return self.with_setting("seed", seed)

    def with_dialect(self, dialect: str) -> Self:
        """88api | proxy (MOCKMJ_DIALECT)."""
        return self.with_setting("dialect", dialect)

    def with_api_keys(self, *keys: str) -> Self:
        """The keys the mock accepts; the first is `api_key`, the one get_client() uses (MOCKMJ_API_KEY)."""
        if not keys:
            raise ValueError("with_api_keys() needs at least one key")
        self.api_key = keys[0]
        return self.with_env(ENV_PREFIX + "API_KEY", ",".join(keys))

    def with_control_token(self, token: str) -> Self:
        """/_mockmj/* (but health) then needs the X-MockMJ-Control-Token header (MOCKMJ_CONTROL_TOKEN)."""
        self._control_token = token
        return self.with_setting("control_token", token)

    def with_public_url(self, url: str) -> Self:
        """The base of image links, for an application that reaches the mock by another name (MOCKMJ_PUBLIC_URL),
        e.g. its network alias when the application runs in a container too."""
        return self.with_setting("public_url", url)

    def with_store(self, store: str) -> Self:
        """memory | sqlite:PATH | redis://HOST:PORT/DB (MOCKMJ_STORE)."""
        return self.with_setting("store", store)

    def with_workers(self, workers: int) -> Self:
        """Serving processes; more than one needs a shared store (MOCKMJ_WORKERS)."""
        return self.with_setting("workers", workers)

    # ---------------------------------------------------------------- where it is, and its control plane
    def get_url(self) -> str:
        """The mock's base URL as the host of the tests reaches it, e.g. http://127.0.0.1:32771."""
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(PORT)}"

    def get_client(self, api_key: str | None = None) -> MockMJ:
        """The control helper of mockmj's pytest plugin for one key (default: `api_key`): rules, clock, journal,
        findings, callbacks. Its close() deletes the rules it added and resets its key."""
        from .pytest_plugin import MockMJ

        return MockMJ(_Remote(self.get_url(), self._control_token), api_key or self.api_key)


class _Remote:
    """What MockMJ needs of a server, for one that runs elsewhere: its URL and control token."""

    def __init__(self, base_url: str, control_token: str | None) -> None:
        self.base_url = base_url
        self.mock = self  # MockMJ reads server.mock.settings.control_token
        self.settings = self
        self.control_token = control_token


__all__ = ["DEFAULT_IMAGE", "HEALTH_PATH", "PORT", "MockMJContainer"]
