"""waitress: pure Python in one process, for `mockmj record` (its proxy and the mock it records beside)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mockmj.serve.inprocess import CHANNEL_TIMEOUT_S

WsgiApp = Callable[..., Any]

# Idle or slow clients must not starve the others: waitress stops accepting at `connection_limit`
# open channels (default 100, which 98 idle sockets nearly exhausted), and closes idle ones after
# `channel_timeout`. Its select()-based loop cannot watch more than ~1,000 sockets, hence the limit.
CONNECTION_LIMIT = 900
# Bodies past this are refused by waitress itself; smaller ones past max_body_bytes get the dialect's 413.
WAITRESS_BODY_LIMIT = 64 * 1024 * 1024


def waitress_server(app: WsgiApp, host: str, port: int, threads: int) -> Any:
    """A waitress server (`mockmj record`): `run()` serves in this thread, `close()` stops it."""
    from waitress.server import create_server

    mock = getattr(app, "extensions", {}).get("mockmj")
    body_limit = max(WAITRESS_BODY_LIMIT, 2 * mock.settings.max_body_bytes) if mock else WAITRESS_BODY_LIMIT
    return create_server(app, host=host, port=port, threads=threads, ident="mockmj",
                         clear_untrusted_proxy_headers=True, connection_limit=CONNECTION_LIMIT,
                         channel_timeout=CHANNEL_TIMEOUT_S, max_request_body_size=body_limit)
