"""Unit tests of the contract suite's building blocks (no target, no subprocess)."""

from __future__ import annotations

import threading
import time

import pytest

from contracts.checks import check_progress, check_step, check_times, whitespace_outside_strings
from contracts.clauses import CLAUSES, ClauseFailure, Recorder
from contracts.client import Budget, Spacer, is_billable, operation_of
from contracts.grammar import parse
from contracts.options import is_local_url, parse_rate
from contracts.report import build, markdown

HASH = "82c51c9d-bc33-4c07-a471-36c3dcb1a6f0"


@pytest.mark.parametrize(("custom_id", "kind", "index", "hashed"), [
    (f"MJ::JOB::upsample::1::{HASH}", "upsample", 1, True),
    (f"MJ::JOB::variation::4::{HASH}", "variation", 4, True),
    (f"MJ::JOB::reroll::0::{HASH}::SOLO", "reroll", 0, True),
    (f"MJ::JOB::upsample_v6_2x_subtle::1::{HASH}::SOLO", "upscale_more", 1, True),
    (f"MJ::JOB::upsample_v6r1_2x_creative::1::{HASH}::SOLO", "upscale_more", 1, True),
    (f"MJ::JOB::low_variation::1::{HASH}::SOLO", "vary", 1, True),
    (f"MJ::JOB::pan_left::1::{HASH}::SOLO", "pan", 1, True),
    (f"MJ::Outpaint::50::1::{HASH}::SOLO", "outpaint", 1, True),
    (f"MJ::CustomZoom::{HASH}", "custom_zoom", None, True),
    (f"MJ::Inpaint::1::{HASH}::SOLO", "inpaint", 1, True),
    (f"MJ::BOOKMARK::{HASH}", "bookmark", None, True),
    ("MJ::Job::PicReader::3", "picreader", None, False),
    ("MJ::Picread::Retry", "picread_retry", None, False),
    (f"MJ::Job::PromptAnalyzer::{HASH}::2", "prompt_analyzer", None, True),
])
def test_grammar_reads_midjourney_buttons(custom_id: str, kind: str, index: int | None, hashed: bool) -> None:
    b = parse(custom_id)
    assert b is not None and b.kind == kind and b.index == index
    assert (b.hash == HASH) is hashed


@pytest.mark.parametrize("custom_id", ["U1", "MJ::JOB::upsample::5::" + HASH, "MJ::JOB::upsample::1::", "",
                                       "MJ::JOB::reroll::0::" + HASH])
def test_grammar_rejects_what_is_not_a_button(custom_id: str) -> None:
    assert parse(custom_id) is None


def test_compact_json_detection() -> None:
    assert whitespace_outside_strings('{"code":1,"description":"a: b, c","result":"1"}\n') is None
    assert whitespace_outside_strings('{"code": 1}') == 8
    assert whitespace_outside_strings('{"a":"x\\" ,y"}') is None
    assert whitespace_outside_strings('[ ]') == 1


def test_billable_requests() -> None:
    assert is_billable("POST", "/mj/submit/imagine")
    assert is_billable("post", "/mj-fast/mj/submit/action")
    assert is_billable("POST", "/mj/insight-face/swap")
    assert not is_billable("GET", "/mj/submit/imagine")
    assert not is_billable("POST", "/mj/task/list-by-condition")
    assert not is_billable("POST", "/mj/task/1/cancel")
    assert operation_of("/mj/task/123/fetch") == "/mj/task/{id}/fetch"


def test_budget_never_goes_past_its_limit() -> None:
    budget = Budget(3)
    results = []

    def spend() -> None:
        for _ in range(10):
            results.append(budget.take())

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 3 and budget.used == 3 and budget.refused == 37
    assert Budget(None).take() and Budget(None).remaining() == float("inf")


def test_spacer_spaces_requests_evenly() -> None:
    spacer = Spacer(20.0)  # one request every 50 ms
    start = time.monotonic()
    for _ in range(5):
        spacer.wait()
    assert time.monotonic() - start >= 0.19


@pytest.mark.parametrize(("text", "rate"), [("2/s", 2.0), ("30/m", 0.5), ("0.5", 0.5), ("3600/h", 1.0)])
def test_rate_parsing(text: str, rate: float) -> None:
    assert parse_rate(text) == pytest.approx(rate)


def test_local_urls() -> None:
    assert is_local_url("http://127.0.0.1:8080")
    assert is_local_url("http://localhost:1")
    assert not is_local_url("https://api.example.com")


def test_checks_name_the_clause() -> None:
    rec = Recorder()
    prev = {"id": "1", "status": "IN_PROGRESS", "progress": "46%"}
    with pytest.raises(ClauseFailure) as info:
        check_step(rec, prev, {"id": "1", "status": "IN_PROGRESS", "progress": "31%"}, "test")
    assert "[LIFE-4]" in str(info.value)
    with pytest.raises(ClauseFailure, match=r"\[LIFE-2\]"):
        check_step(rec, {"id": "1", "status": "SUCCESS"}, {"id": "1", "status": "IN_PROGRESS"}, "test")
    with pytest.raises(ClauseFailure, match=r"\[LIFE-5\]"):
        check_times(rec, {"id": "1", "status": "SUCCESS", "submitTime": 5, "startTime": 6, "finishTime": 4}, "t")
    with pytest.raises(ClauseFailure, match=r"\[LIFE-3\]"):
        check_progress(rec, {"status": "SUCCESS", "progress": "93%"}, "t")
    assert rec.status("LIFE-4") == "failed" and rec.status("LIFE-6") == "not run"


def test_soft_checks_report_every_failure_at_once() -> None:
    rec = Recorder()
    with pytest.raises(ClauseFailure) as info, rec.soft():
        rec.check("ENV-1", False, "one")
        rec.check("ENV-2", True)
        rec.check("ENV-4", False, "two")
    assert [cid for cid, _ in info.value.failures] == ["ENV-1", "ENV-4"]
    report = build(rec, {"target": {}, "budget": {}})
    assert report["summary"] == {"passed": 1, "failed": 2, "not run": len(CLAUSES) - 3}
    assert "| ENV-1 | failed |" in markdown(report)
