"""Callbacks on a shared store under real use: many threads submitting with a notifyHook to `mockmj serve
--workers 2` must all be answered (no deadlock between the store's write lock and the callbacks), and every task's
callbacks arrive in milestone order, whichever worker sends them, ending on the terminal one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from mockmj.engine.callbacks.delivery import ORDER
from mockmj.model.values import Status
from tests.helpers import Receiver
from tests.stores import Worker, roomy

KEY = {"Authorization": "Bearer tenant-a"}
THREADS, EACH = 8, 12  # 96 submissions


def order_of(payload: dict[str, Any]) -> float:
    value = float(ORDER[Status(payload["status"])])
    if payload["status"] == "IN_PROGRESS" and payload.get("progress"):
        value += int(str(payload["progress"]).rstrip("%")) / 100
    return value


@pytest.mark.timeout(240)  # a deadlock fails here instead of hanging the suite
def test_submissions_with_callbacks_from_many_threads_all_finish_in_order(shared_store: str) -> None:
    receiver = Receiver()
    server = Worker(shared_store, "--workers", "2", "--timing", "fast")
    try:
        roomy(server)

        def submit_several(n: int) -> list[dict[str, Any]]:
            answers = []
            for i in range(EACH):
                with requests.Session() as fresh:  # a new connection each time: either worker may take it
                    answer = fresh.post(server.base + "/mj/submit/imagine", headers=KEY, timeout=30,
                                        json={"prompt": f"gull {n}-{i}", "notifyHook": receiver.url})
                assert answer.status_code == 200, answer.text
                answers.append(answer.json())
            return answers

        with ThreadPoolExecutor(THREADS) as pool:
            answers = [a for batch in pool.map(submit_several, range(THREADS)) for a in batch]
        ids = {a["result"] for a in answers if a["code"] == 1}
        assert len(ids) == THREADS * EACH, [a for a in answers if a["code"] != 1][:3]

        def every_task_ended(payloads: list[dict[str, Any]]) -> bool:
            return {p["id"] for p in payloads if p["status"] == "SUCCESS"} >= ids

        receiver.wait_for(every_task_ended, timeout=60)
        by_task: dict[str, list[dict[str, Any]]] = {}
        for payload in receiver.payloads():
            by_task.setdefault(payload["id"], []).append(payload)
        assert set(by_task) == ids
        for task_id, payloads in by_task.items():
            orders = [order_of(p) for p in payloads]
            assert orders == sorted(orders), (task_id, [(p["status"], p["progress"]) for p in payloads])
            assert payloads[-1]["status"] == "SUCCESS"
            assert sum(p["status"] == "SUCCESS" for p in payloads) == 1
        # the server still answers at once afterwards
        assert requests.get(server.base + "/mj/task/list", headers=KEY, timeout=10).status_code == 200
    finally:
        server.stop()
        receiver.close()
