"""The command-line side: `mockmj record`, `mockmj calibrate`, and serve's --replay / --timing file: options.

cli.py stays the owner of `serve`; it only registers these commands, decorates `serve` with
`replay_options` and calls `check_replay_from_cli(settings)` before it serves.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mockmj.model.timing import PROFILES


class TimingChoice(click.ParamType):
    """A built-in timing profile, or `file:PROFILE.toml` (read and checked when the mock starts)."""

    name = "timing"
    choices = tuple(sorted(PROFILES))  # the built-in names (a file: profile is the other way)

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        return "[" + "|".join(sorted(PROFILES)) + "|file:PROFILE.toml]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if text in PROFILES:
            return text
        if text.startswith("file:"):
            from mockmj.model.profile_file import load_profile

            try:
                load_profile(text[5:], text)
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
            return text
        self.fail(f"{text!r} is not one of {', '.join(sorted(PROFILES))} or file:PROFILE.toml", param, ctx)


TIMING = TimingChoice()


# ------------------------------------------------------------------------------------------ serve --replay
def replay_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --replay DIR, --replay-ids, --replay-miss and --replay-speed to `serve`."""

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        # the replay options are settings like any other (MOCKMJ_REPLAY…, `replay = "DIR"` in the file);
        # on the command line, the ones that only qualify --replay make no sense without it
        directory = kwargs.get("replay")
        given = [f"--{n.replace('_', '-')}" for n in ("replay_ids", "replay_miss", "replay_speed")
                 if kwargs.get(n) is not None]
        if directory is None and given:
            raise click.UsageError(f"{', '.join(given)} only make(s) sense with --replay DIR")
        if directory is not None and kwargs.get("dialect") is None and not os.environ.get("MOCKMJ_DIALECT"):
            from mockmj.record.replay import Recording

            try:
                kwargs["dialect"] = Recording(directory).dialect  # misses are simulated in the recorded dialect
            except ValueError as exc:
                raise click.UsageError(str(exc)) from exc
        return command(**kwargs)

    options = [
        click.option("--replay", type=click.Path(exists=True, file_okay=False), default=None,
                     help="Answer from this recording (made by `mockmj record --out DIR`)."),
        click.option("--replay-ids", type=click.Choice(["fresh", "recorded"]), default=None,
                     help="Replayed submissions get new task ids (fresh, default) or the recorded ones."),
        click.option("--replay-miss", type=click.Choice(["simulate", "strict"]), default=None,
                     help="A request with no recorded match: simulate it (default) or answer 404."),
        click.option("--replay-speed", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Replay the recorded pace this many times faster (default 1).")]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def check_replay_from_cli(settings: Any) -> None:
    """Read the recording the settings name (`--replay DIR`) once before `serve` listens, so that a bad one is
    a usage error; each worker puts it in front of the app it builds (record/replay.py `serving_app`)."""
    if settings.replay is None:
        return
    from mockmj.record.replay import Recording

    try:
        Recording(settings.replay)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"mockmj: replaying {settings.replay} (ids {settings.replay_ids}, misses {settings.replay_miss}, "
               f"speed {settings.replay_speed:g})", err=True)


# ------------------------------------------------------------------------------------------ record
@click.command()
@click.option("--target", required=True, help="Base URL of the live deployment, e.g. https://api.example.com.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Directory for recording.har and media/ (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--target-key", envvar="MOCKMJ_TARGET_KEY", default=None, show_envvar=True,
              help="Key sent to the target instead of the client's (clients then hold dummy keys).")
@click.option("--dialect", type=click.Choice(["88api", "proxy"]), default="88api", show_default=True,
              help="Whose rules the answers are validated against.")
@click.option("--budget", type=click.IntRange(min=0), default=None,
              help="At most this many billable requests (submissions) reach the target; later ones are refused.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0, show_default=True,
              help="Seconds to wait for the target's answer.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1), help="Server worker threads.")
def record(target: str, out: str, host: str, port: int, target_key: str | None, dialect: str, budget: int | None,
           timeout: float, threads: int) -> None:
    """Record a live deployment through a validating proxy (Ctrl-C stops it; the HAR is always complete)."""
    from mockmj.record.proxy import Recorder
    from mockmj.serve.waitress import waitress_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        recorder = Recorder(target, out, dialect=dialect, target_key=target_key, budget=budget, timeout=timeout)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        server = waitress_server(recorder, host, port, threads)
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc}") from exc

    def stop(*_: object) -> None:
        listing = recorder.validator.listing()
        recorder.writer.close()  # waits for a write under way: the HAR never ends in half an entry
        click.echo(f"mockmj record: stopping; {recorder.writer.entries} exchange(s) in "
                   f"{Path(out) / 'recording.har'}, {listing['total']} violation(s)", err=True)
        server.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"mockmj record: http://{host}:{server.effective_port} → {recorder.writer.meta['target']} "
               f"({dialect} rules), recording to {out}; violations: GET /_mockmj/violations", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        stop()


# ------------------------------------------------------------------------------------------ calibrate
@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write the profile to this file instead of printing it.")
def calibrate(directory: str, out: str | None) -> None:
    """Print a timing profile (TOML) at the pace of the recorded deployment, for `serve --timing file:`."""
    from mockmj.record.calibrate import calibrate as make_profile

    try:
        text = make_profile(directory)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if out is None:
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"mockmj calibrate: wrote {out}", err=True)


def register(group: click.Group) -> None:
    group.add_command(record)
    group.add_command(calibrate)
