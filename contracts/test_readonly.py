"""Clauses that cost nothing: auth refusals, unknown ids, empty listings. They run first."""

from __future__ import annotations

import pytest

from .checks import check_compact, check_error_body, check_no_server_error, check_reading
from .clauses import Recorder
from .client import Client, Exchange
from .common import applies, token, unknown_task_id
from .target import Target


def _read_probes(client: Client, **kw: object) -> list[Exchange]:
    tid = unknown_task_id()
    return [
        client.get(f"/mj/task/{tid}/fetch", **kw),  # type: ignore[arg-type]
        client.post("/mj/task/list-by-condition", {"ids": [tid]}, **kw),  # type: ignore[arg-type]
    ]


def _check_refused(rec: Recorder, target: Target, cid: str, exchanges: list[Exchange], what: str) -> None:
    with rec.soft():
        for ex in exchanges:
            check_no_server_error(rec, ex)
            rec.check(cid, ex.status == 401, lambda ex=ex: f"{what}: expected HTTP 401, got {ex.brief()}")
            check_error_body(rec, ex, target.expect)


def _auth_disabled(client: Client, target: Target, exchanges: list[Exchange]) -> bool:
    """The upstream proxy runs without auth when no secret is configured (upstream §2); a proxy-dialect
    target that lets both a missing and a wrong key in is such a deployment, not a broken one."""
    if not target.expect.auth_may_be_off or any(ex.status == 401 for ex in exchanges):
        return False
    wrong = client.with_key(f"contract-wrong-{token()}")
    return all(ex.status != 401 for ex in _read_probes(wrong))


AUTH_OFF = ("the proxy-dialect target has authentication disabled (midjourney-proxy checks no key when no "
            "mj.api-secret is configured)")
NO_AUTH = "the target reports that it needs no key (/_mockmj/health auth \"none\"): nothing to refuse"
ANY_KEY = ("the target reports that it accepts any non-empty key (/_mockmj/health auth \"any-key\"): no key is"
           " wrong there (start it with --api-key K to check refusals)")


@pytest.mark.clauses("AUTH-1", "ENV-6")
@pytest.mark.cost(billable=0, priority=1)
def test_no_key_is_refused(client: Client, rec: Recorder, target: Target) -> None:
    applies(target.auth != "none", NO_AUTH)
    exchanges = _read_probes(client, auth=False)
    applies(not _auth_disabled(client, target, exchanges), AUTH_OFF)
    _check_refused(rec, target, "AUTH-1", exchanges, "no key")


@pytest.mark.clauses("AUTH-2")
@pytest.mark.cost(billable=0, priority=1)
def test_wrong_key_is_refused(client: Client, rec: Recorder, target: Target) -> None:
    # decided from what the target says of itself, never from the options this run was given
    applies(target.auth != "none", NO_AUTH)
    applies(target.auth != "any-key", ANY_KEY)
    wrong = client.with_key(f"contract-wrong-{token()}")
    exchanges = _read_probes(wrong)
    applies(not _auth_disabled(client, target, exchanges), AUTH_OFF)
    _check_refused(rec, target, "AUTH-2", exchanges, "wrong key")


@pytest.mark.clauses("AUTH-4", "LIFE-10")
@pytest.mark.cost(billable=0, priority=2)
def test_documented_header_is_accepted(client: Client, rec: Recorder, target: Target) -> None:
    ex = client.post("/mj/task/list-by-condition", {"ids": [unknown_task_id()]})
    header = target.expect.key_header_label
    with rec.soft():
        check_no_server_error(rec, ex)
        check_compact(rec, ex)
        rec.check("AUTH-4", ex.status == 200, lambda: f"key sent as {header}: {ex.brief()}")
        rec.reading("AUTH-4", header)
        if ex.status == 200:
            rec.check("LIFE-10", ex.json_or_none() == [],
                      lambda: f"list-by-condition of an unknown id should be a bare []: {ex.brief()}")


@pytest.mark.clauses("BAD-4", "ENV-6", "ERR-1")
@pytest.mark.cost(billable=0, priority=3)
def test_unknown_task_reads(client: Client, rec: Recorder, target: Target) -> None:
    expect = target.expect
    fetch = client.get(f"/mj/task/{unknown_task_id()}/fetch")
    seed = client.get(f"/mj/task/{unknown_task_id()}/image-seed")
    with rec.soft():
        for ex in (fetch, seed):
            check_no_server_error(rec, ex)
            check_error_body(rec, ex, expect)
            check_compact(rec, ex)
        check_reading(rec, "BAD-4", expect.unknown_task_read, fetch, "fetch of an unknown id")
        check_reading(rec, "BAD-4", expect.unknown_task_read + expect.unknown_task_write, seed,
                      "image-seed of an unknown id")


@pytest.mark.clauses("BAD-5")
@pytest.mark.cost(billable=0, priority=4)
def test_cancel_unknown_task(client: Client, rec: Recorder, target: Target) -> None:
    ex = client.post(f"/mj/task/{unknown_task_id()}/cancel", {})
    with rec.soft():
        check_no_server_error(rec, ex)
        check_error_body(rec, ex, target.expect)
        check_reading(rec, "BAD-5", target.expect.unknown_task_write, ex, "cancel of an unknown id")


@pytest.mark.clauses("BAD-1", "BAD-2", "ERR-1", "ENV-6")
@pytest.mark.cost(billable=0, priority=5)
def test_unreadable_listing_body(client: Client, rec: Recorder, target: Target) -> None:
    """list-by-condition is read-only, so a malformed body can be tried on any target for free."""
    ex = client.request("POST", "/mj/task/list-by-condition", data=b'{"ids": [', headers={
        "Content-Type": "application/json"})
    with rec.soft():
        check_no_server_error(rec, ex)
        rec.check("BAD-2", ex.status == 400, lambda: f"malformed JSON should be HTTP 400: {ex.brief()}")
        check_error_body(rec, ex, target.expect)

