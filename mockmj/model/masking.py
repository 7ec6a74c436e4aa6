"""Secrets shown by the control plane: enough of a key to recognise it, never enough to use it."""

from __future__ import annotations

from typing import Any

MASK = "…"


def masked(secret: str | None) -> str | None:
    """The first and the last 4 characters around an ellipsis, fewer for a short key (never more than half of
    it in all): two keys that share a prefix, like sk-rich and sk-poor, stay told apart in every listing."""
    if secret is None:
        return None
    shown = min(4, len(secret) // 4)
    return secret[:shown] + MASK + (secret[-shown:] if shown else "")


# Headers that carry a credential: their values are shown masked wherever the mock shows a request.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "mj-api-secret", "x-mockmj-control-token",
                            "cookie", "set-cookie", "x-api-key", "api-key"})


def masked_header(name: str, value: str) -> str:
    """A header's value as the dashboard and journal show it: credentials masked (an auth scheme such as
    `Bearer ` kept, so that a wrong scheme still shows), every other header as it was."""
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, space, rest = value.partition(" ")
    if space and scheme.isalpha() and len(scheme) <= 10:
        return f"{scheme} {masked(rest.strip())}"
    return masked(value) or ""


def key_matches(stored: str | None, wanted: str) -> bool:
    """A `key` filter matches the full key (tests know their own) or its masked form (what a listing shows)."""
    return stored is not None and (stored == wanted or masked(stored) == wanted)


def mask_key_field(entry: dict[str, Any]) -> dict[str, Any]:
    """A copy of a journal/outbox entry with its `key` masked."""
    if entry.get("key") is None:
        return entry
    return {**entry, "key": masked(entry["key"])}


KEY_PATH = "/_mockmj/keys/"  # the control plane's routes that name a key in their path


def masked_path(path: str) -> str:
    """A request path as logs show it: the key in `/_mockmj/keys/<key>` masked like everywhere else."""
    if not path.startswith(KEY_PATH) or len(path) == len(KEY_PATH):
        return path
    key, slash, rest = path[len(KEY_PATH):].partition("/")
    return KEY_PATH + (masked(key) or "") + slash + rest
