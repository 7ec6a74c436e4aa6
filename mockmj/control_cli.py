"""`mockmj reset` and `mockmj rules list|clear`: the control plane of a running mock, from a shell.

They speak HTTP to the server's /_mockmj/* endpoints (with its control token when it has one), so they
work on a mock started by `mockmj serve`, in a container or by the pytest plugin alike. Only `requests` and
`click` are imported: these commands start as fast as `--help`.
"""

from __future__ import annotations

import json
from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0

url_option = click.option("--url", envvar="MOCKMJ_URL", default=DEFAULT_URL, show_default=True,
                          help="Base URL of the running mock (or MOCKMJ_URL).")
token_option = click.option("--control-token", envvar="MOCKMJ_CONTROL_TOKEN", default=None,
                            help="The server's control token, when it has one (or MOCKMJ_CONTROL_TOKEN).")


def call(url: str, token: str | None, method: str, path: str, body: Any = None) -> Any:
    """One control call; any failure becomes a one-line error naming the server and what it said."""
    import requests

    headers = {"X-MockMJ-Control-Token": token} if token else {}
    target = url.rstrip("/") + path
    try:
        response = requests.request(method, target, json=body, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the mock at {url}: {exc.__class__.__name__}") from None
    if response.status_code >= 400:
        try:
            said = response.json().get("error") or response.text
        except ValueError:
            said = response.text[:200]
        raise click.ClickException(f"{method} {path}: HTTP {response.status_code}: {said}")
    try:
        return response.json()
    except ValueError:
        raise click.ClickException(f"{method} {path}: {url} did not answer JSON; is it a mockmj server?") from None


@click.command()
@url_option
@token_option
@click.option("--key", default=None, help="Reset only this API key's tasks, balance, journal and callbacks.")
def reset(url: str, control_token: str | None, key: str | None) -> None:
    """Forget everything (or one key's state) on a running mock."""
    call(url, control_token, "POST", "/_mockmj/reset", {"key": key} if key else {})
    click.echo(f"reset {'key ' + key if key else 'everything'} on {url}")


@click.group()
def rules() -> None:
    """List or clear the rules of a running mock."""


@rules.command("list")
@url_option
@token_option
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def list_rules(url: str, control_token: str | None, as_json: bool) -> None:
    """Print the active rules, one per line (or as JSON)."""
    active = call(url, control_token, "GET", "/_mockmj/rules")
    if as_json:
        click.echo(json.dumps(active, indent=2))
        return
    if not active:
        click.echo("no rules")
    for rule in active:
        left = "until deleted" if rule["remaining"] is None else f"{rule['remaining']} left"
        click.echo(f"{rule['id']}  match {json.dumps(rule['match'])}  respond {json.dumps(rule['respond'])}  "
                   f"({left}, fired {rule['fired']})")


@rules.command("clear")
@url_option
@token_option
def clear_rules(url: str, control_token: str | None) -> None:
    """Delete every rule."""
    count = len(call(url, control_token, "GET", "/_mockmj/rules"))
    call(url, control_token, "DELETE", "/_mockmj/rules")
    click.echo(f"cleared {count} rule(s) on {url}")
