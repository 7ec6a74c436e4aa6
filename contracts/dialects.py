"""What a target is expected to say, per dialect (`--mj-dialect`).

`88api` is the 88API document; `proxy` is the upstream midjourney-proxy (open source + plus). Where a
document allows several readings, each situation lists every documented reading; a clause passes on
any of them and the report says which one it saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .exchange import Exchange

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
    # how the key is sent: (header, prefix of the key in it)
    key_header: tuple[str, str]
    # the deployment may check no key at all (midjourney-proxy without mj.api-secret): a target that lets
    # a missing and a wrong key in is then not refusing wrongly
    auth_may_be_off: bool
    # a 4xx may be Spring Boot's error JSON {timestamp,status,error,path} instead of the API's envelope,
    # and a 400 from Spring carries no API description to compare
    spring_errors: bool
    # every body that breaks the schema is refused (the proxy's Jackson coerces scalars and ignores
    # unknown fields instead, upstream §1)
    refuses_schema_violations: bool
    # HTTP statuses that may come with an empty body, which is then not compared with the schema
    empty_body_statuses: frozenset[int]
    # every business code the dialect documents (the coverage report counts them)
    documented_codes: frozenset[int]
    # codes that refuse for capacity, account or balance, not because of the request: a press of an offered
    # button refused with one of them (or HTTP 429) is not verified rather than failed
    capacity_codes: frozenset[int]
    # an HTTP error status whose envelope carries a code must carry one of these (ERR-1)
    status_codes: dict[int, frozenset[int]]

    def key_headers(self, key: str) -> dict[str, str]:
        header, prefix = self.key_header
        return {header: prefix + key}

    @property
    def key_header_label(self) -> str:
        """How the documentation writes it: "Authorization: Bearer", "mj-api-secret"."""
        header, prefix = self.key_header
        return f"{header}: {prefix.strip()}" if prefix.strip() else header


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
    key_header=("Authorization", "Bearer "),
    auth_may_be_off=False,
    spring_errors=False,
    refuses_schema_violations=True,
    empty_body_statuses=frozenset(),
    documented_codes=frozenset({1, 21, 22, 23, 24, 25}),
    capacity_codes=frozenset({23, 24, 25}),
    status_codes={400: frozenset({21})},  # "21 Parameter error" is "400 Bad Request: Invalid request parameters"
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
    key_header=("mj-api-secret", ""),
    auth_may_be_off=True,
    spring_errors=True,
    refuses_schema_violations=False,
    empty_body_statuses=frozenset({200, 401}),  # an unknown task's fetch; a refused key
    documented_codes=frozenset({1, 3, 4, 9, 21, 22, 23, 24}),
    capacity_codes=frozenset({9, 23}),
    status_codes={404: frozenset({3})},  # trueai: unknown parent → HTTP 404 + 3 "关联任务不存在或已失效"
)

EXPECTATIONS = {e.name: e for e in (EIGHTY_EIGHT, PROXY)}
