"""The engine through its facade: no server, no sockets, time moved only by `advance` (manual timing).

Each test builds an `Engine` from `Settings`, submits through `engine/submissions` as the web layer
does, and reads back through the facade's operations. The last tests run two engines on one SQLite
file to check that what a transaction changes reaches the other worker: the world notes every record
it hands out in a transaction, so no operation can change a record the store never hears of.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mockmj.engine.calls import Caller
from mockmj.engine.facade import Engine
from mockmj.engine.rules import RequestFacts
from mockmj.engine.submissions import submit
from mockmj.model.errors import Refusal
from mockmj.model.settings import AccountConfig, KeyConfig, Settings

KEY = "sk-test"
ORIGIN = "http://mock.test"
MINUTE = 60_000
OTHER = "sk-other"


def make(tmp: Path | None = None, **changes: object) -> Engine:
    options: dict[str, object] = {"timing": "manual", "seed": 7,
                                  "keys": [KeyConfig(KEY, balance=100), KeyConfig(OTHER, balance=100)],
                                  "prices": {"IMAGINE": 10}}
    if tmp is not None:
        options["store"] = f"sqlite:{tmp / 'world.db'}"
    options.update(changes)
    return Engine(Settings(**options))  # type: ignore[arg-type]


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = make()
    yield made
    made.close()


def caller(outcome: str | None = None, key: str = KEY) -> Caller:
    return Caller(key=key, origin=ORIGIN, outcome=outcome)


def imagine(engine: Engine, prompt: str = "a red fox", outcome: str | None = None) -> str:
    accepted = submit.imagine(engine, caller(outcome), {"prompt": prompt})
    assert accepted.kind == "ok"
    return str(accepted.result)


def status(engine: Engine, task_id: str) -> str:
    found = engine.fetch(caller(), task_id)
    assert found is not None
    return str(found["status"])


def test_a_task_moves_only_when_the_clock_is_advanced(engine: Engine) -> None:
    task_id = imagine(engine)
    assert status(engine, task_id) == "NOT_START"
    assert engine.advance(10 * MINUTE) == engine.now()
    done = engine.fetch(caller(), task_id)
    assert done is not None and done["status"] == "SUCCESS" and done["progress"] == "100%"
    assert done["imageUrl"].startswith(ORIGIN + "/attachments/")
    assert [b["customId"].split("::")[2] for b in done["buttons"]][:4] == ["upsample"] * 4


def test_a_submission_is_charged_and_a_failure_refunded_when_it_fails(engine: Engine) -> None:
    imagine(engine, outcome="fail:broken")
    assert engine.ledger.balance(KEY) == 90
    engine.advance(10 * MINUTE)
    assert engine.ledger.balance(KEY) == 100


def test_an_empty_balance_refuses_and_creates_nothing(engine: Engine) -> None:
    engine.ledger.update_key(KEY, {"balance": 5})
    with pytest.raises(Refusal) as refused:
        submit.imagine(engine, caller(), {"prompt": "a cat"})
    assert refused.value.kind == "insufficient_balance"
    assert refused.value.params == {"price": 10, "balance": 5}
    assert engine.task_count() == 0


def test_cancel_ends_a_running_task_and_gives_back_its_price(engine: Engine) -> None:
    task_id = imagine(engine)
    assert engine.cancel(caller(), task_id).kind == "ok"
    assert status(engine, task_id) == "CANCEL"
    assert engine.ledger.balance(KEY) == 100
    with pytest.raises(Refusal) as refused:
        engine.cancel(caller(), task_id)
    assert refused.value.rule == "task_status"


def test_another_key_sees_no_task(engine: Engine) -> None:
    task_id = imagine(engine)
    assert engine.fetch(caller(key=OTHER), task_id) is None
    assert engine.list_by_ids(caller(key=OTHER), [task_id]) == []
    assert [t["id"] for t in engine.list_by_ids(caller(), [task_id, task_id, "nope"])] == [task_id]
    assert engine.status_for(OTHER, task_id) is None
    assert engine.status_for(KEY, task_id) == "NOT_START"


def test_list_all_is_newest_first_and_queue_holds_only_unfinished_tasks(engine: Engine) -> None:
    first = imagine(engine, "one")
    engine.advance(10 * MINUTE)
    second = imagine(engine, "two")
    assert [t["id"] for t in engine.list_all(caller())] == [second, first]
    assert [t["id"] for t in engine.queue(caller())] == [second]
    assert [t.id for t in engine.newest_tasks(10)] == [second, first]
    assert [t.id for t in engine.newest_tasks(1)] == [second]
    assert [t.id for t in engine.newest_tasks(10, "nobody")] == []


def test_a_full_account_queues_then_refuses(engine: Engine) -> None:
    small = make(accounts=[AccountConfig(core_size=1, queue_size=1)])
    try:
        assert submit.imagine(small, caller(), {"prompt": "first"}).kind == "ok"
        queued = submit.imagine(small, caller(), {"prompt": "second"})
        assert queued.kind == "queued" and queued.properties["numberOfQueues"] == 0
        with pytest.raises(Refusal) as refused:
            submit.imagine(small, caller(), {"prompt": "third"})
        assert refused.value.kind == "queue_full"
        assert refused.value.params == {"running": 1, "waiting": 1}
        assert small.dispatch.views()[0]["running"] == 1
    finally:
        small.close()


def test_a_button_makes_a_child_task_and_the_seed_is_given_at_success(engine: Engine) -> None:
    parent = imagine(engine)
    with pytest.raises(Refusal):
        engine.image_seed(caller(), parent)  # not finished yet
    engine.advance(10 * MINUTE)
    assert engine.image_seed(caller(), parent).isdigit()
    found = engine.fetch(caller(), parent)
    assert found is not None
    u1 = found["buttons"][0]["customId"]
    child = submit.action(engine, caller(), {"taskId": parent, "customId": u1})
    assert child.kind == "ok"
    task = engine.task(str(child.result))
    assert task is not None and task.parent_id == parent and task.action.value == "UPSCALE"


def test_a_modal_task_waits_for_its_confirmation(engine: Engine) -> None:
    accepted = submit.imagine(engine, caller("modal"), {"prompt": "a boat"})
    assert accepted.kind == "modal"
    task_id = str(accepted.result)
    engine.advance(10 * MINUTE)
    assert status(engine, task_id) == "MODAL"
    assert submit.modal(engine, caller(), {"taskId": task_id, "prompt": "a green boat"}).kind == "ok"
    engine.advance(10 * MINUTE)
    done = engine.fetch(caller(), task_id)
    assert done is not None and done["status"] == "SUCCESS" and done["prompt"] == "a green boat"


def test_per_poll_timing_moves_a_task_one_step_per_fetch(engine: Engine) -> None:
    engine.set_timing("per-poll")
    assert engine.clock_view()["timing"] == "per-poll"
    task_id = imagine(engine)
    seen = [status(engine, task_id) for _ in range(12)]
    assert seen[0] != seen[-1] == "SUCCESS"
    polls = [e for e in engine.views.timeline(task_id) or [] if e["kind"] == "poll"]
    assert len(polls) == 12
    with pytest.raises(Refusal):
        engine.set_timing("no-such-profile")


def test_a_tenant_reset_forgets_only_that_tenant(engine: Engine) -> None:
    mine = imagine(engine)
    other = submit.imagine(engine, caller(key=OTHER), {"prompt": "hers"})
    engine.reset(KEY)
    assert engine.task(mine) is None and engine.task(str(other.result)) is not None
    assert engine.ledger.balance(KEY) == 100 and engine.ledger.balance(OTHER) == 90
    assert engine.ledger.api_key("sk-unknown") is None  # keys are configured: no other key joins
    engine.reset()
    assert engine.task_count() == 0


def test_an_upload_is_served_back_and_goes_with_its_tenant(engine: Engine) -> None:
    png = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
        "RU5ErkJggg=="
    )
    accepted = submit.upload(engine, caller(), {"base64Array": [png]})
    url = accepted.result[0]
    path = url.removeprefix(ORIGIN)
    assert engine.attachments.upload(path) is not None
    assert engine.gallery.attachment(path) is not None
    engine.reset(KEY)
    assert engine.attachments.upload(path) is None


def test_rules_count_their_uses(engine: Engine) -> None:
    rule = engine.rules.add({"operation": "submitImagine"}, {"code": 23}, times=1)
    assert engine.rules.any()
    facts = RequestFacts(operation="submitImagine", actions=set(), key=KEY, prompt="", account="")
    assert engine.rules.take(RequestFacts("fetchTask", set(), KEY, "", "")) is None
    assert engine.rules.take(facts) is not None
    assert engine.rules.take(facts) is None
    assert not engine.rules.delete(rule.id)  # used up: already gone
    engine.rules.add({}, {"code": 23}, times=None)
    engine.rules.clear()
    assert engine.rules.views() == []


def test_eviction_forgets_the_oldest_finished_tasks_and_says_so() -> None:
    small = make(max_tasks=3, prices={})
    told: list[list[str]] = []
    small.world.on_evict.append(lambda ids, cap: told.append(ids))
    try:
        first = imagine(small, "one")
        small.advance(10 * MINUTE)
        for prompt in ("two", "three", "four"):
            imagine(small, prompt)
        assert told == [[first]] and small.task(first) is None and small.task_count() == 3
    finally:
        small.close()


# ------------------------------------------------------------------------------------------- two workers
def test_what_one_worker_changes_the_other_sees(tmp_path: Path) -> None:
    one, two = make(tmp_path), make(tmp_path)
    try:
        task_id = imagine(one, outcome="fail:broken")
        assert two.fetch(caller(), task_id) is not None
        assert two.ledger.balance(KEY) == 90
        two.advance(10 * MINUTE)  # the clock is shared: the failure's refund falls due everywhere
        assert one.ledger.balance(KEY) == 100
        second = imagine(two)
        assert one.cancel(caller(), second).kind == "ok"
        assert status(two, second) == "CANCEL"
        assert two.dispatch.views()[0]["running"] == 0
        one.rules.add({}, {"code": 23}, times=2)
        assert two.rules.views()[0]["remaining"] == 2
        one.reset(KEY)
        assert two.task(task_id) is None
    finally:
        one.close()
        two.close()


def test_per_poll_steps_reach_the_other_worker(tmp_path: Path) -> None:
    one, two = make(tmp_path, timing="per-poll"), make(tmp_path, timing="per-poll")
    try:
        task_id = imagine(one)
        first = [status(one, task_id) for _ in range(3)]
        assert status(two, task_id) not in first[:1]  # two continues from where one's polls moved it
    finally:
        one.close()
        two.close()


def test_any_key_mode_lets_a_new_key_join_with_the_defaults() -> None:
    open_engine = make(keys=[], default_balance=50)
    try:
        record = open_engine.ledger.api_key("sk-new")
        assert record is not None and record.balance == 50
        assert open_engine.ledger.api_key("") is None
        assert open_engine.ledger.update_key("sk-new", {"balance": 7, "allowedOperations": ["submitImagine"]}) == {
            "key": record.describe()["key"], "balance": 7, "rateLimit": None, "allowedOperations": ["submitImagine"]}
        assert open_engine.ledger.update_key("sk-none", {"balance": 1}) is not None  # it joins too
    finally:
        open_engine.close()


def test_an_account_can_be_disabled_and_resized(engine: Engine) -> None:
    instance = engine.dispatch.views()[0]["instanceId"]
    assert engine.dispatch.update("no-such-account", {"enabled": False}, None) is None
    assert engine.dispatch.update(instance, {"enabled": False}, 5)["coreSize"] == 5  # type: ignore[index]
    with pytest.raises(Refusal) as refused:
        imagine(engine)
    assert refused.value.kind == "account_unavailable"


def test_an_adopted_task_keeps_its_id_and_new_ids_differ(engine: Engine) -> None:
    task = engine.task(imagine(engine))
    assert task is not None
    other = make(seed=8)
    try:
        other.adopt(task)
        assert other.task(task.id) is task and other.task_count() == 1
        assert other.fetch(caller(), task.id) is not None  # its owner sees it, served from the new engine
        assert len({other.new_task_id() for _ in range(50)} | {task.id}) == 51
        assert other.clock_view() == {"now": other.now(), "timing": "manual", "virtual": True}
    finally:
        other.close()


def test_a_transaction_names_what_it_hands_out_by_type(tmp_path: Path) -> None:
    shared = make(tmp_path)
    try:
        task_id = imagine(shared)
        world = shared.world
        with world.transaction():
            world.task(task_id)
            world.key(KEY)
            world.push_refund(0, task_id)
            noted = world.changes
            assert (noted.tasks, noted.keys, {s.value for s in noted.singletons}) == ({task_id}, {KEY}, {"refunds"})
        with world.reading():
            world.task(task_id)  # a read outside a transaction notes nothing
            assert not world.changes.names()
    finally:
        shared.close()
