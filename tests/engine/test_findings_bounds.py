"""The findings tracker holds no more tasks than the mock itself keeps (`max_tasks`), however many keys submit."""

from __future__ import annotations

from mockmj.engine.findings import Findings, Seen


def submit(findings: Findings, key: str, task_id: str) -> None:
    findings.observe(Seen(key=key, kind="submit", method="POST", path="/mj/submit/imagine", status=200, code=1,
                          created=task_id))


def abandoned(findings: Findings) -> list[str]:
    return [f["taskId"] for f in findings.of(final=True) if f["kind"] == "abandoned-task"]


def test_tracked_tasks_are_bounded_by_max_tasks_across_keys() -> None:
    findings = Findings(max_tasks=100)
    for n in range(2000):
        submit(findings, f"key-{n % 50}", f"t{n}")
    tracked = abandoned(findings)
    assert len(tracked) == 100
    assert set(tracked) == {f"t{n}" for n in range(1900, 2000)}  # the newest are the ones kept


def test_a_key_forgotten_frees_its_place() -> None:
    findings = Findings(max_tasks=10)
    for n in range(10):
        submit(findings, "a", f"a{n}")
    findings.clear("a")
    for n in range(10):
        submit(findings, "b", f"b{n}")
    assert sorted(abandoned(findings)) == sorted(f"b{n}" for n in range(10))
