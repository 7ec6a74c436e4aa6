"""`mockmj serve`: the mock on granian (a Rust HTTP server) with one or more worker processes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from mockmj.contract_cli import contract
from mockmj.control_cli import reset, rules
from mockmj.model.dialects import DIALECTS
from mockmj.model.options import LOG_FORMATS, LOG_LEVELS
from mockmj.model.versions import MODEL_VERSIONS, NIJI_VERSIONS
from mockmj.record.commands import TIMING, register, replay_options

# Only what the commands' option lists need is imported above: `mockmj --help` and `mockmj contract --help`
# must not load the engine, Flask, granian or pydantic (tests/serve/test_cli_imports.py lists what they
# load). Each command imports the rest when it runs.
if TYPE_CHECKING:
    from mockmj.config import Settings

PYDANTIC_PLUGINS_OFF = "PYDANTIC_DISABLE_PLUGINS"


@click.group()
@click.version_option(package_name="mockmj")
def main() -> None:
    """mockmj — a faithful, controllable mock of the Midjourney proxy API."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on.  [default: 127.0.0.1]")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port to listen on.  [default: 8080]")
@click.option("--dialect", type=click.Choice(sorted(DIALECTS)), default=None,
              help="API dialect: 88api (default) or proxy (upstream midjourney-proxy).")
@click.option("--timing", type=TIMING, default=None,
              help="Timing profile (default fast: a task succeeds about 1 s after submit), or file:PROFILE.toml.")
@click.option("--seed", type=int, default=None, help="Make ids, hashes, images and timings reproducible.")
@click.option("--default-version", type=click.Choice(MODEL_VERSIONS), default=None,
              help="Model of a prompt without --v (7 answers as a relay pinned to V7).  [default: 8.1]")
@click.option("--default-niji", type=click.Choice(NIJI_VERSIONS), default=None,
              help="niji of a bare --niji.  [default: 7 beside V8.x, 6 beside an older --default-version]")
@click.option("--api-key", "api_keys", multiple=True, help="Accept only this key (repeatable).")
@click.option("--no-auth", is_flag=True, default=None, help="Accept requests without a key.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file with keys, accounts, prices, banned words… (or MOCKMJ_CONFIG).")
@click.option("--public-url", default=None, help="Base URL used in image links (default: the request's host).")
@click.option("--notify-hook", default=None, help="Global callback URL for tasks without a notifyHook.")
@click.option("--callback-policy", type=click.Choice(["upstream", "retry"]), default=None)
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="Python threads of each worker process running the app.  [default: 8]")
@click.option("--spare-threads", default=None, type=click.IntRange(min=0),
              help="Server threads beyond --threads for requests that wait (a simulated delay, a slow client) "
                   "while others go on; fewer make a busy mock faster.  [default: 64]")
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Worker processes; more than one needs --store sqlite:PATH or redis://….  [default: 1]")
@click.option("--store", default=None, metavar="URL",
              help="Where the mock's state lives: memory, sqlite:PATH (survives restarts, shared by the workers "
                   "of one host) or redis://HOST:PORT/DB (shared by several hosts).  [default: memory]")
@click.option("--strict", is_flag=True, default=None, help="Validate every response against openapi.yaml.")
@click.option("--control-token", default=None,
              help="Require the header X-MockMJ-Control-Token with this value on /_mockmj/* (all but health).")
@click.option("--quiet", is_flag=True, default=None, help="No access log (one line per request otherwise).")
@click.option("--log-control", is_flag=True, default=None,
              help="Log control-plane and dashboard calls (/_mockmj/*) too; left out by default.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None,
              help="Log lines as text (default) or JSON lines.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default=None,
              help="debug adds the state changes of tasks.  [default: info]")
@replay_options  # --replay DIR, --replay-ids, --replay-miss, --replay-speed (mockmj/record/commands.py)
def serve(api_keys: tuple[str, ...], config_path: str | None, **options: Any) -> None:
    """Serve the mock (Ctrl-C stops it cleanly).

    Every option can also be set as an environment variable MOCKMJ_<OPTION> (MOCKMJ_PORT, MOCKMJ_API_KEY
    comma-separated, MOCKMJ_CONFIG…) and in the config file; the command line wins over the environment,
    which wins over the file.
    """
    from mockmj.config import ENV_CONFIG, KeyConfig, load_settings
    from mockmj.record.commands import check_replay_from_cli
    from mockmj.web.logs import configure_logging

    config_path = config_path or os.environ.get(ENV_CONFIG) or None
    try:
        with _no_pydantic_plugins():
            settings = load_settings(config_path, environ=os.environ,
                                     keys=[KeyConfig(key=k) for k in api_keys] or None, **options)
        _check_host(settings.host, settings.port)
        configure_logging(settings)
        # Every setting was checked by load_settings; what only the sources it names can show (a recording, a
        # shared store's records) is checked here, before anything listens. The app itself is built once, by
        # each worker: building one here as well put a whole second build on the way to the first answer.
        if settings.store != "memory":
            check_shared_store(settings.store)
        check_replay_from_cli(settings)  # serve --replay DIR
    except (ValueError, TypeError, OSError) as exc:
        raise click.UsageError(str(exc)) from exc
    serve_app(settings)


@contextlib.contextmanager
def _no_pydantic_plugins() -> Iterator[None]:
    """pydantic looks for plugins among the entry points of every installed distribution the first time it
    makes a validator (measured: a twentieth of the start, in a test environment). The settings' types are
    all `serve` validates with it, for itself: no plugin of the user's has anything to see there. A choice
    the user made (PYDANTIC_DISABLE_PLUGINS set) is kept; the variable is restored afterwards."""
    if PYDANTIC_PLUGINS_OFF in os.environ:
        yield
        return
    os.environ[PYDANTIC_PLUGINS_OFF] = "__all__"
    try:
        yield
    finally:
        os.environ.pop(PYDANTIC_PLUGINS_OFF, None)


def check_shared_store(url: str) -> None:
    """ValueError when the shared store cannot be reached or holds a record this version cannot read."""
    from mockmj.engine.replica import check_store
    from mockmj.store.base import open_store

    store = open_store(url)
    try:
        check_store(store)
    finally:
        store.close()


def serve_app(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM: granian's workers each build the mock from the same settings."""
    from mockmj.serve.granian import preload, serve_granian

    if settings.replay is None:
        from mockmj.web.app import create_app as build
    else:  # the recorder's modules are loaded only by the mock that replays
        from mockmj.record.replay import serving_app as build
    preload()  # what every worker would load alike, loaded once here and inherited by the forked workers
    try:
        serve_granian(settings, on_listening=lambda: _announce(settings), build=build)
    except OSError as exc:  # the port is taken…
        raise click.UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc


def _announce(settings: Settings) -> None:
    """The start-up line first (log-based readiness waits read it), then the warnings."""
    import logging

    from mockmj.config import unknown_environment
    from mockmj.model.hosts import is_loopback
    from mockmj.web.logs import notice, startup_line

    startup_line(settings, f"http://{settings.host}:{settings.port}")
    for variable in unknown_environment(os.environ):
        notice(settings, f"mockmj: warning: {variable} names no setting; ignored", logging.WARNING)
    if settings.control_token is None and not is_loopback(settings.host):
        notice(settings, f"mockmj: WARNING: listening on {settings.host}, beyond loopback, with no control token: "
                         "anyone who can reach this port can reset the mock, change keys and read the journal. "
                         "Pass --control-token (or MOCKMJ_CONTROL_TOKEN).", logging.WARNING)


def _check_host(host: str, port: int) -> None:
    import socket

    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"host {host!r} does not resolve to an address to listen on ({exc})") from None


register(main)  # `mockmj record` and `mockmj calibrate` (mockmj/record/commands.py)
main.add_command(contract)  # the contract suite's command lives in its own module
main.add_command(reset)  # `mockmj reset` and `mockmj rules list|clear` speak to a running server
main.add_command(rules)
