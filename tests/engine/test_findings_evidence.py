"""A task's findings are updated in place at every poll that repeats them: the evidence must still say what a
fresh judgement would (the peak rate is the highest seen, the counts the latest), and a view already handed out
must not change afterwards."""

from __future__ import annotations

from mockmj.engine.findings import Findings, Seen

KEY = "evidence-key"


def seen(kind: str, at: float, **fields: object) -> Seen:
    return Seen(key=KEY, kind=kind, method="GET" if kind == "fetch" else "POST", path="/mj/task/t1/fetch",
                status=200, at=at, **fields)  # type: ignore[arg-type]


def by_kind(findings: Findings) -> dict[str, dict[str, object]]:
    return {f["kind"]: f for f in findings.of(KEY)}


def test_fast_polling_keeps_the_highest_rate_and_the_latest_count() -> None:
    findings = Findings()  # 2 polls a second over 2 s; judged from the fifth poll in the window
    findings.observe(seen("submit", 0.0, created="t1"))
    for at in (1.0, 1.1, 1.2, 1.3, 1.4):  # 5 polls in 0.4 s: 10 a second
        findings.observe(seen("fetch", at, task_id="t1", task_status="IN_PROGRESS"))
    first = by_kind(findings)["fast-polling"]
    assert first["evidence"] == {"peakPerSecond": 10.0, "fetches": 5, "limitPerSecond": 2.0}
    findings.observe(seen("fetch", 1.6, task_id="t1", task_status="IN_PROGRESS"))  # 6 in 0.6 s: 8.33 a second
    again = by_kind(findings)["fast-polling"]
    assert again["evidence"] == {"peakPerSecond": 10.0, "fetches": 6, "limitPerSecond": 2.0}
    assert again["count"] == 2
    assert first["evidence"]["fetches"] == 5 and first["count"] == 1, "a view handed out changed afterwards"


def test_polling_after_terminal_counts_every_poll_past_the_allowed_ones() -> None:
    findings = Findings()  # 3 polls allowed after the first terminal answer
    findings.observe(seen("submit", 0.0, created="t1"))
    for n in range(6):  # one terminal answer, then five more polls, 10 s apart (never too fast)
        findings.observe(seen("fetch", 10.0 * (n + 1), task_id="t1", task_status="FAILURE"))
    found = by_kind(findings)
    assert set(found) == {"polling-after-terminal"}
    assert found["polling-after-terminal"]["evidence"] == {"status": "FAILURE", "fetchesAfterTerminal": 5,
                                                            "allowed": 3}
    assert found["polling-after-terminal"]["count"] == 2
