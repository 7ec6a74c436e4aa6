"""A fetch answered from kept bytes (the hot path's `observe_fetch`) never waits for the findings' lock: it is
queued and judged by whichever thread holds the lock next, and every reading judges the queue first, so nothing
is lost or judged out of order."""

from __future__ import annotations

import threading

from mockmj.engine.findings import Findings, Seen, Thresholds

KEY = "queued-key"


def submitted(findings: Findings, task_id: str) -> None:
    findings.observe(Seen(key=KEY, kind="submit", method="POST", path="/mj/submit/imagine", status=200, code=1,
                          created=task_id))


def kinds(findings: Findings) -> list[str]:
    return sorted(f["kind"] for f in findings.of(KEY))


def test_a_fetch_made_while_the_lock_is_held_does_not_wait_and_is_judged_by_the_next_reading() -> None:
    findings = Findings(Thresholds(terminal_polls=2, polls_per_second=1000.0))
    submitted(findings, "t1")
    done = threading.Event()

    def fetch_five_times() -> None:
        for _ in range(5):
            findings.observe_fetch(KEY, "/mj/task/t1/fetch", "t1", "SUCCESS")
        done.set()

    with findings._lock:  # another thread in the middle of a judgement
        fetcher = threading.Thread(target=fetch_five_times)
        fetcher.start()
        fetcher.join(timeout=30)  # a bound only for a fetch that blocked (the failure this test looks for)
        assert done.is_set(), "a fetch waited for the findings' lock"
    # the first SUCCESS marks the task finished; the next four are fetches after it, two of them allowed
    (finding,) = findings.of(KEY)
    assert finding["kind"] == "polling-after-terminal"
    assert finding["evidence"]["fetchesAfterTerminal"] == 4


def test_fetches_from_many_threads_are_all_counted() -> None:
    findings = Findings(Thresholds(terminal_polls=10**6, polls_per_second=10**6))
    submitted(findings, "t2")
    threads = [threading.Thread(target=lambda: [findings.observe_fetch(KEY, "/mj/task/t2/fetch", "t2", "IN_PROGRESS")
                                                for _ in range(500)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kinds(findings) == []  # no finding crosses these thresholds
    findings.observe_fetch(KEY, "/mj/task/t2/fetch", "t2", "SUCCESS")
    for _ in range(3):
        findings.observe_fetch(KEY, "/mj/task/t2/fetch", "t2", "SUCCESS")
    assert findings._keys[KEY].tasks["t2"].fetch_count == 8 * 500 + 4
    assert not findings._fetches


def test_clearing_judges_the_fetches_before_it_and_keeps_none() -> None:
    findings = Findings(Thresholds(terminal_polls=0))
    submitted(findings, "t3")
    with findings._lock:
        thread = threading.Thread(target=lambda: [findings.observe_fetch(KEY, "/p", "t3", "SUCCESS") for _ in range(3)])
        thread.start()
        thread.join(timeout=30)
    findings.clear(KEY)
    assert findings.of(KEY) == [] and not findings._fetches
