"""What a target is expected to say, per dialect (`--mj-dialect`).

`88api` is the 88API document; `proxy` is the upstream midjourney-proxy (open source + plus). Where a
document allows several readings, each situation lists every documented reading; a clause passes on
any of them and the report says which one it saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .client import Exchange

Predicate = Callable[[Exchange], bool]


def body_code(ex: Exchange) -> object:
    data = ex.json_or_none()
    return data.get("code") if isinstance(data, dict) else None


def empty_body(ex: Exchange) -> bool:
    return ex.body.strip() in (b"", b"null")


@dataclass(frozen=True)
class Reading:
    name: str
    matches: Predicate


def first_reading(readings: tuple[Reading, ...], ex: Exchange) -> Reading | None:
    return next((r for r in readings if r.matches(ex)), None)


def _status(n: int) -> Predicate:
    return lambda ex: ex.status == n


def _code(status: int, code: int) -> Predicate:
    return lambda ex: ex.status == status and body_code(ex) == code


@dataclass(frozen=True)
class Expectations:
    name: str
    accepted_codes: frozenset[int]  # a task was created and its id is in `result`
    modal_code: int
    ok_descriptions: tuple[str, ...]  # documented descriptions of code 1
    validation: tuple[Reading, ...]  # a body or a parameter the API refuses
    unknown_task_read: tuple[Reading, ...]  # fetch / image-seed of an id that does not exist
    unknown_task_write: tuple[Reading, ...]  # action / modal / cancel on an id that does not exist
    unauthorized_body: str  # "envelope" or "empty"
    param_messages: dict[str, str]  # exact messages of parameter errors (empty: must name the field)

    def is_accepted(self, ex: Exchange) -> bool:
        return ex.status == 200 and body_code(ex) in self.accepted_codes


EIGHTY_EIGHT = Expectations(
    name="88api",
    accepted_codes=frozenset({1, 22}),
    modal_code=21,
    ok_descriptions=("Submitted successfully", "提交成功"),
    validation=(
        Reading("HTTP 400 (88API: 400 Bad Request)", _status(400)),
        Reading("HTTP 200 + code 21 Parameter error (88API status codes)", _code(200, 21)),
    ),
    unknown_task_read=(Reading("HTTP 404 (88API: 404 Not Found)", _status(404)),),
    unknown_task_write=(
        Reading("HTTP 404 (88API: 404 Not Found)", _status(404)),
        Reading("HTTP 400 (88API: 400 Bad Request)", _status(400)),
        Reading("HTTP 200 + code 21 Parameter error (88API status codes)", _code(200, 21)),
    ),
    unauthorized_body="envelope",
    param_messages={},
)

PROXY = Expectations(
    name="proxy",
    accepted_codes=frozenset({1, 22}),
    modal_code=21,
    ok_descriptions=("提交成功",),
    validation=(
        Reading("HTTP 200 + code 4 (midjourney-proxy VALIDATION_ERROR)", _code(200, 4)),
        Reading("HTTP 400 Spring error (midjourney-proxy)", _status(400)),
    ),
    unknown_task_read=(
        Reading("HTTP 200 + empty body (midjourney-proxy)", lambda ex: ex.status == 200 and empty_body(ex)),
        Reading("HTTP 404 + code 3 (trueai midjourney-proxy)", _status(404)),
    ),
    unknown_task_write=(
        Reading("HTTP 404 + code 3 (trueai midjourney-proxy)", _status(404)),
        Reading("HTTP 200 + code 3 NOT_FOUND (midjourney-proxy)", _code(200, 3)),
        Reading("HTTP 200 + code 4 VALIDATION_ERROR (midjourney-proxy)", _code(200, 4)),
    ),
    unauthorized_body="empty",
    param_messages={
        "prompt_blank": "prompt不能为空",
        "base64_format": "base64格式错误",
        "base64_blank": "base64不能为空",
        "base64_list": "base64List参数错误",
    },
)

EXPECTATIONS = {e.name: e for e in (EIGHTY_EIGHT, PROXY)}
