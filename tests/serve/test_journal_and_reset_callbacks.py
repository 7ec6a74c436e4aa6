"""The callback outbox and resets, with callbacks sent to a real receiver on a loopback socket (the journal,
resets and the control of keys and accounts are tested in tests/web/test_journal_and_reset.py)."""

from __future__ import annotations

from mockmj.model.clock import VIRTUAL_EPOCH_MS
from tests.helpers import Client, Receiver, Servers, submit_imagine
from tests.web.test_journal_and_reset import ACCOUNT, DEFAULT_BALANCE, IMAGINE_PRICE, as_key, journal


def test_journal_and_outbox_stay_within_their_caps(mocks: Servers, receiver: Receiver) -> None:
    client = mocks(timing="manual", journal_size=20, outbox_size=20)
    ids = [submit_imagine(client, f"dog {i}", codes=(1, 22), notifyHook=receiver.url) for i in range(6)]
    client.advance(120)
    for _ in range(8):
        for task_id in ids:
            client.fetch(task_id)
    page = journal(client)
    assert page["capacity"] == 20 and page["total"] == 6 + 48
    assert len(page["items"]) == 20
    assert [e["seq"] for e in page["items"]] == list(range(page["total"] - 19, page["total"] + 1)), "newest kept"
    box = client.control("GET", "/callbacks")
    assert len(receiver.calls) == 6 * 9
    assert box["capacity"] == 20 and box["total"] == 6 * 9
    assert len(box["items"]) == 20
    assert [e["seq"] for e in box["items"]] == list(range(box["total"] - 19, box["total"] + 1))


def test_resetting_one_key_leaves_the_other(manual: Client, receiver: Receiver) -> None:
    a, b = as_key(manual, "a"), as_key(manual, "b")
    a_task = submit_imagine(a, notifyHook=receiver.url)
    b_task = submit_imagine(b, notifyHook=receiver.url)
    a_rule = {"key": "a", "operation": "submitImagine"}
    manual.control("POST", "/rules", {"match": a_rule, "respond": {"code": 25}, "times": 2})
    manual.advance(60)
    b_before = b.fetch(b_task)
    b_balance = manual.control("GET", "/keys/b")["balance"]
    assert manual.control("GET", "/keys/a")["balance"] == DEFAULT_BALANCE - IMAGINE_PRICE

    manual.control("POST", "/reset", {"key": "a"})

    assert journal(manual, "?key=a")["items"] == []
    assert a.get(f"/mj/task/{a_task}/fetch").status_code == 404
    assert a.get("/mj/task/list").json() == []
    assert manual.control("GET", "/keys/a")["balance"] == DEFAULT_BALANCE
    assert manual.control("GET", f"/callbacks?taskId={a_task}")["items"] == []
    assert manual.control("GET", "/rules")[0]["match"] == {**a_rule, "key": "…"}, "rules are not a tenant's state"

    assert b.fetch(b_task) == b_before
    assert [t["id"] for t in b.get("/mj/task/list").json()] == [b_task]
    assert manual.control("GET", "/keys/b")["balance"] == b_balance
    assert [e["operationId"] for e in journal(manual, "?key=b")["items"]][:2] == ["submitImagine", "fetchTask"]
    assert len(manual.control("GET", f"/callbacks?taskId={b_task}")["items"]) == 9


def test_full_reset_starts_over(manual: Client, receiver: Receiver) -> None:
    first_id = submit_imagine(manual, notifyHook=receiver.url)
    manual.control("POST", "/rules", {"respond": {"latencyMs": 1}})
    manual.control("PATCH", "/accounts/" + ACCOUNT, {"remix": True})
    manual.control("PATCH", "/keys/test-key", {"balance": 3})
    manual.advance(60)

    ack = manual.control("POST", "/reset")
    assert ack["ok"] is True

    assert manual.control("GET", "/clock")["now"] == VIRTUAL_EPOCH_MS
    assert manual.control("GET", "/rules") == []
    assert manual.control("GET", "/accounts")[0]["remix"] is False
    assert manual.control("GET", "/keys") == []
    assert manual.control("GET", "/callbacks") == {"total": 0, "capacity": 1000, "items": []}
    assert manual.control("GET", "/health")["tasks"] == 0
    assert journal(manual)["items"] == []
    assert manual.get(f"/mj/task/{first_id}/fetch").status_code == 404
    assert submit_imagine(manual) == first_id, "the seed restarts: the same first id again"
