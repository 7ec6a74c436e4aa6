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
from contracts.report import build, junit_xml, markdown, verdict

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
    assert rec.status("LIFE-4") == "failed" and rec.status("LIFE-6") == "not verified"


def test_soft_checks_report_every_failure_at_once() -> None:
    rec = Recorder()
    with pytest.raises(ClauseFailure) as info, rec.soft():
        rec.check("ENV-1", False, "one")
        rec.check("ENV-2", True)
        rec.check("ENV-4", False, "two")
    assert [cid for cid, _ in info.value.failures] == ["ENV-1", "ENV-4"]
    report = build(rec, {"target": {}, "budget": {}})
    assert report["summary"] == {"passed": 1, "failed": 2, "not verified": len(CLAUSES) - 3, "not applicable": 0,
                                 "not selected": 0}
    assert "| ENV-1 | failed |" in markdown(report)


def test_a_clause_that_could_not_run_is_never_passed() -> None:
    rec = Recorder()
    rec.check("ENV-1", True)
    rec.not_run("ENV-1", "needs 1 billable request(s)")  # one of its tests was skipped: partly unchecked
    rec.not_applicable("AUTH-2", "the target accepts any key")
    rec.not_applicable("AUTH-1", "no auth")
    rec.check("AUTH-1", True)  # observed after all: passed, with the note
    assert [rec.status(c) for c in ("ENV-1", "AUTH-2", "AUTH-1", "ENV-2")] == [
        "not verified", "not applicable", "passed", "not verified"]
    rec.selected = {"ENV-1", "AUTH-2", "AUTH-1"}
    report = build(rec, {"target": {}, "budget": {}})
    lax, strict = verdict(report, strict=False, min_coverage=None), verdict(report, strict=True, min_coverage=None)
    assert lax["ok"] and not strict["ok"] and strict["unverified"] == ["ENV-1"]  # ENV-2 is not selected
    report["coverage"] = {"percent": 40.0}
    assert not verdict(report, strict=False, min_coverage=50)["ok"]
    assert verdict(report, strict=False, min_coverage=40)["ok"]


def test_junit_xml_has_one_case_per_selected_clause() -> None:
    from xml.etree import ElementTree as ET

    rec = Recorder()
    rec.selected = {"ENV-1", "ENV-2", "AUTH-2"}
    rec.check("ENV-1", True)
    rec.record("ENV-2", False, "description is 5")
    rec.not_applicable("AUTH-2", "any key")
    report = build(rec, {"target": {"base_url": "http://x"}, "budget": {}})
    for strict, failures in ((True, "1"), (False, "1")):
        report["verdict"] = verdict(report, strict=strict, min_coverage=None)
        suite = ET.fromstring(junit_xml(report))
        assert suite.get("tests") == "3" and suite.get("failures") == failures and suite.get("skipped") == "1"
        case = {c.get("name"): c for c in suite.iter("testcase")}
        assert case["ENV-2"].find("failure") is not None and "description is 5" in case["ENV-2"].find("failure").text
        assert case["AUTH-2"].find("skipped") is not None and case["ENV-1"].find("failure") is None


def test_error_envelopes_are_checked_on_every_answer() -> None:
    from contracts.checks import check_error_envelope
    from contracts.dialects import EIGHTY_EIGHT, PROXY
    from contracts.exchange import Exchange

    def ex(status: int, body: str, path: str = "/mj/submit/imagine") -> Exchange:
        return Exchange("POST", path, status, body.encode(), {})

    rec = Recorder()
    check_error_envelope(rec, ex(400, '{"code":21,"description":"x","result":null}'), EIGHTY_EIGHT)
    check_error_envelope(rec, ex(200, '{"code":21,"description":"modal","result":"123"}'), EIGHTY_EIGHT)
    check_error_envelope(rec, ex(404, '{"code":3,"description":"x","result":null}'), PROXY)
    check_error_envelope(rec, ex(200, "", "/mj/task/1/fetch"), PROXY)  # no envelope: nothing to check
    assert rec.status("ERR-1") == "passed" and rec.results["ERR-1"].observations == 2
    for bad, expect in (('{"code":1,"description":"x","result":null}', EIGHTY_EIGHT),  # code 1 on an error
                        ('{"code":23,"description":"x","result":null}', EIGHTY_EIGHT),  # 400 is code 21
                        ('{"code":4,"description":"x","result":"123"}', PROXY)):  # result on an error
        rec = Recorder()
        check_error_envelope(rec, ex(400, bad), expect)
        assert rec.status("ERR-1") == "failed", bad


def test_versions_read_from_the_task_or_its_prompt() -> None:
    from contracts.versions import BUTTONS_BY_VERSION, normalise, version_of

    assert [normalise(v) for v in ("v 8.1", "7", "niji 6", "7.0", "V 6.1", "banana")] == [
        "8.1", "7", "niji 6", "7", "6.1", None]
    assert version_of({"version": "v 7"})[0] == "7"
    assert version_of({"version": None, "prompt": "a cat --v 6.1 --ar 2:3"})[0] == "6.1"
    assert version_of({"prompt": "a cat --niji 6"})[0] == "niji 6"
    assert version_of({"prompt": "a cat"})[0] is None  # the deployment's default decides: not verified
    assert not BUTTONS_BY_VERSION["8.1"].upscalers and not BUTTONS_BY_VERSION["8.1"].zoom
    assert BUTTONS_BY_VERSION["7"].upscalers == {"upsample_v7_2x_subtle", "upsample_v7_2x_creative"}


def test_the_downloader_never_resolves_a_relative_url() -> None:
    from contracts.client import Client, Counters, RelativeUrl

    client = Client("http://127.0.0.1:9", None, "88api", Budget(None), Spacer(None), Counters())
    with pytest.raises(RelativeUrl):
        client.download("/attachments/1/2/a.png")


def test_coverage_counts_operation_templates() -> None:
    from contracts.coverage import template

    assert template("/mj-fast/mj/task/123/fetch?x=1") == "/mj/task/{id}/fetch"
    assert template("/mj/submit/imagine") == "/mj/submit/imagine"
