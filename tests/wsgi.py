"""A mock without a socket, for tests/web: the app built exactly as for a socket (hot path in front of Flask)
and reached through a requests transport adapter that hands each request to the WSGI app in this thread
(the way moto and httpbin test their apps without a server). `AppMock` has the interface of
mockmj.serve.inprocess.MockServer that the tests use (`base_url`, `app`, `mock`, `stop`), so a `Client`
of it speaks requests exactly as a client of a real server does."""

from __future__ import annotations

import io
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app

from mockmj.serve.inprocess import WsgiApp, mock_app, release
from mockmj.web.app import Mock

# A host name that resolves nowhere: a request that escapes the adapter fails instead of reaching a server.
BASE_URL = "http://mockmj.test"


class WsgiAdapter(BaseAdapter):
    """A requests transport that answers from a WSGI app: the request is turned into a WSGI environ (werkzeug's
    EnvironBuilder, as Flask's test client does) and the app's status, headers and body into a response."""

    def __init__(self, app: WsgiApp) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        body = request.body
        data = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else \
            b"".join(body) if body is not None else b""
        headers = dict(request.headers)
        url = request.url or BASE_URL
        builder = EnvironBuilder(path=url.removeprefix(BASE_URL), base_url=BASE_URL, method=request.method,
                                 headers=headers, data=data)
        environ = builder.get_environ()
        environ["REMOTE_ADDR"] = "127.0.0.1"
        if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
            environ.pop("CONTENT_LENGTH", None)  # as a server sees a request without one
        builder.close()
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            content = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        code = int(status.split(" ", 1)[0])
        raw = HTTPResponse(body=io.BytesIO(content), headers=list(response_headers.items()), status=code,
                           reason=status.split(" ", 1)[1] if " " in status else "", preload_content=False,
                           decode_content=False)
        response = requests.Response()
        response.status_code = code
        response.reason = raw.reason
        response.headers = CaseInsensitiveDict(raw.headers)
        response.raw = raw
        response.url = url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.connection = self
        if request.method != "HEAD":
            response._content = content
        else:
            response._content = b""
        return response

    def close(self) -> None:
        return


class AppMock:
    """A mock app reached without a socket (see the module's docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.base_url = BASE_URL

    @property
    def mock(self) -> Mock:
        return self.app.extensions["mockmj"]

    def session(self) -> requests.Session:
        """A requests session whose every request to `base_url` is answered by the app."""
        session = requests.Session()
        session.mount(BASE_URL + "/", WsgiAdapter(self.app))
        return session

    def stop(self) -> None:
        release(self.app)

    def __enter__(self) -> AppMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_app_mock(**options: Any) -> AppMock:
    """start_mock's options (mockmj.serve.inprocess.mock_app), without the socket."""
    return AppMock(mock_app(**options))
