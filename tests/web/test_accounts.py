"""Several simulated accounts: accountFilter picks one, actions follow their parent's account unless asked
otherwise, and a busy or disabled account is avoided."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mockmj.config import AccountConfig, Settings
from tests.helpers import Client, Start, button, finished, mock_client, submit

FAST_ONLY = "1200000000000000001"
RELAX_ONLY = "1200000000000000002"


@pytest.fixture
def two(starter: Start) -> Iterator[Client]:
    settings = Settings(timing="per-poll", seed=21, strict=True, accounts=[
        AccountConfig(instance_id=FAST_ONLY, modes=["FAST"], remark="fast lane"),
        AccountConfig(instance_id=RELAX_ONLY, modes=["RELAX"], remark="relax lane"),
    ])
    yield from mock_client(starter, settings=settings)


def account_of(c: Client, task_id: str) -> str:
    return c.fetch(task_id)["properties"]["discordInstanceId"]


def imagine_on(c: Client, flt: dict[str, Any], path: str = "/mj/submit/imagine") -> dict[str, Any]:
    return submit(c, path, {"prompt": "a kestrel", "accountFilter": flt})


@pytest.mark.parametrize(("flt", "expected"), [
    ({"instanceId": RELAX_ONLY}, RELAX_ONLY),
    ({"channelId": FAST_ONLY}, FAST_ONLY),
    ({"modes": ["RELAX"]}, RELAX_ONLY),
    ({"remark": "fast"}, FAST_ONLY),
    ({"modes": ["TURBO", "FAST"]}, FAST_ONLY),
])
def test_account_filter_picks_the_account(two: Client, flt: dict[str, Any], expected: str) -> None:
    answer = imagine_on(two, flt)
    assert answer["code"] == 1
    assert answer["properties"]["discordInstanceId"] == expected == account_of(two, answer["result"])


def test_mode_prefix_selects_an_account_with_that_mode(two: Client) -> None:
    answer = submit(two, "/mj-relax/mj/submit/imagine", {"prompt": "a heron"})
    assert account_of(two, answer["result"]) == RELAX_ONLY
    turbo = submit(two, "/mj-turbo/mj/submit/imagine", {"prompt": "a heron"})
    assert turbo["code"] == 24, "no account offers TURBO"


def test_actions_follow_the_parent_unless_another_account_is_asked_for(two: Client) -> None:
    parent = finished(two, imagine_on(two, {"instanceId": FAST_ONLY}))
    u1 = button(parent, "U1")
    same = submit(two, "/mj/submit/action", {"taskId": parent["id"], "customId": u1, "chooseSameChannel": True,
                                             "accountFilter": {"instanceId": RELAX_ONLY}})
    assert account_of(two, same["result"]) == FAST_ONLY, "chooseSameChannel keeps the parent's channel"
    default = submit(two, "/mj/submit/action", {"taskId": parent["id"], "customId": button(parent, "U2")})
    assert account_of(two, default["result"]) == FAST_ONLY, "without a filter the parent's account is used"
    moved = submit(two, "/mj/submit/action", {"taskId": parent["id"], "customId": button(parent, "U3"),
                                              "chooseSameChannel": False,
                                              "accountFilter": {"instanceId": RELAX_ONLY}})
    assert account_of(two, moved["result"]) == RELAX_ONLY


def test_a_disabled_account_is_avoided_and_its_children_refused(two: Client) -> None:
    parent = finished(two, imagine_on(two, {"instanceId": FAST_ONLY}))
    two.control("PATCH", f"/accounts/{FAST_ONLY}", {"enabled": False})
    assert account_of(two, imagine_on(two, {})["result"]) == RELAX_ONLY
    refused = submit(two, "/mj/submit/action", {"taskId": parent["id"], "customId": button(parent, "U1")})
    assert refused["code"] == 24 and FAST_ONLY in refused["description"]
    assert imagine_on(two, {"instanceId": FAST_ONLY})["code"] == 24


def test_the_least_busy_account_is_chosen(two: Client) -> None:
    two.control("PUT", "/timing", {"timing": "manual"})
    chosen = [imagine_on(two, {})["properties"]["discordInstanceId"] for _ in range(8)]
    # upstream's BestWaitIdle: the account with the most free slots, so the load alternates
    assert chosen == [FAST_ONLY, RELAX_ONLY] * 4
    loads = {a["instanceId"]: a["running"] + a["waiting"] for a in two.control("GET", "/accounts")}
    assert abs(loads[FAST_ONLY] - loads[RELAX_ONLY]) <= 1
