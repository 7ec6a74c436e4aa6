"""`mockmj serve`: the mock on a production WSGI server (waitress)."""

from __future__ import annotations

import logging
import signal
import sys

import click

from .config import KeyConfig, load_settings
from .contract_cli import contract
from .core.dialects import DIALECTS
from .core.timing import PROFILES
from .server import waitress_server


@click.group()
@click.version_option(package_name="mockmj")
def main() -> None:
    """mockmj — a faithful, controllable mock of the Midjourney proxy API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--dialect", type=click.Choice(sorted(DIALECTS)), default=None,
              help="API dialect: 88api (default) or proxy (upstream midjourney-proxy).")
@click.option("--timing", type=click.Choice(sorted(PROFILES)), default=None,
              help="Timing profile (default fast: a task succeeds about 1 s after submit).")
@click.option("--seed", type=int, default=None, help="Make ids, hashes, images and timings reproducible.")
@click.option("--api-key", "api_keys", multiple=True, help="Accept only this key (repeatable).")
@click.option("--no-auth", is_flag=True, default=None, help="Accept requests without a key.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file with keys, accounts, prices, banned words…")
@click.option("--public-url", default=None, help="Base URL used in image links (default: the request's host).")
@click.option("--notify-hook", default=None, help="Global callback URL for tasks without a notifyHook.")
@click.option("--callback-policy", type=click.Choice(["upstream", "retry"]), default=None)
@click.option("--threads", default=8, show_default=True, type=int, help="Server worker threads.")
@click.option("--strict", is_flag=True, default=None, help="Validate every response against openapi.yaml.")
def serve(host: str, port: int, dialect: str | None, timing: str | None, seed: int | None,
          api_keys: tuple[str, ...], no_auth: bool | None, config_path: str | None, public_url: str | None,
          notify_hook: str | None, callback_policy: str | None, threads: int, strict: bool | None) -> None:
    """Serve the mock (Ctrl-C stops it cleanly)."""
    from .web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = load_settings(
            config_path, dialect=dialect, timing=timing, seed=seed,
            keys=[KeyConfig(key=k) for k in api_keys] or None, no_auth=no_auth, public_url=public_url,
            notify_hook=notify_hook, callback_policy=callback_policy, strict=strict,
        )
        app = create_app(settings)
    except (ValueError, TypeError, OSError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        server = waitress_server(app, host, port, threads)
    except OSError as exc:  # the port is taken, the host does not exist…
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc}") from exc

    def stop(*_: object) -> None:
        click.echo("mockmj: stopping", err=True)
        app.extensions["mockmj"].callbacks.stop()
        server.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"mockmj {settings.dialect} dialect, {settings.timing} timing, on "
               f"http://{host}:{server.effective_port}  (docs: /docs)", err=True)  # type: ignore[union-attr]
    try:
        server.run()
    except KeyboardInterrupt:
        stop()


main.add_command(contract)  # the contract suite's command lives in its own module
