"""Every difference between the dialects is a field of their table (model/dialects.py): the web layer never
asks which dialect it speaks by name. A dialect renamed keeps its behaviour; a name alone changes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from mockmj.config import KeyConfig, Settings
from mockmj.model.dialects import EIGHTY_EIGHT, PROXY, Dialect
from mockmj.web.mock import Mock
from mockmj.web.render import http_error

STATUSES = (400, 401, 403, 404, 405, 413, 415, 429, 500)


def errors(dialect: Dialect) -> list[tuple[int, bytes]]:
    replies = [http_error(dialect, status, "why", "/mj/x", "2024-06-01T00:00:00.000+00:00", explain=True)
               for status in STATUSES]
    return [(reply.status, reply.body()) for reply in replies]


def auth(dialect: Dialect, **settings: object) -> bool:
    mock = Mock(Settings(**settings))  # type: ignore[arg-type]
    mock.callbacks.stop()
    mock.engine.dialect = dialect
    return mock.auth_required()


@pytest.mark.parametrize("table", [EIGHTY_EIGHT, PROXY])
def test_a_renamed_dialect_behaves_the_same(table: Dialect) -> None:
    for name in ("88api", "proxy", "someone-elses-relay"):
        renamed = dataclasses.replace(table, name=name)
        assert errors(renamed) == errors(table)
        assert auth(renamed) == auth(table)
        assert auth(renamed, keys=[KeyConfig(key="k")]) is True
        assert auth(renamed, no_auth=True) is False


def test_the_fields_make_the_differences() -> None:
    mixed = dataclasses.replace(EIGHTY_EIGHT, error_body="spring", auth_body="empty", auth_without_keys=False)
    spring_bodies = dict(errors(mixed))
    assert spring_bodies[401] == b""  # auth_body="empty"
    assert b'"timestamp"' in spring_bodies[404] and b'"code"' not in spring_bodies[404]
    assert auth(mixed) is False  # auth_without_keys=False: no configured key, no key asked for
    envelopes = dict(errors(dataclasses.replace(PROXY, error_body="envelope", auth_body="envelope")))
    # an envelope 400 carries the dialect's own parameter-error code (the proxy's is 4, 88API's 21)
    assert envelopes[400].startswith(b'{"code":4,') and envelopes[401].startswith(b'{"code":401,')
    assert dict(errors(EIGHTY_EIGHT))[400].startswith(b'{"code":21,')
