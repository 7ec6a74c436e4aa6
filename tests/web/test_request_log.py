"""The access-log line one request writes (logs.RequestLog, used by Flask's hook and the hot path alike),
and the logging switches `mockmj serve` turns off because neither of its formats prints what they gather."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mockmj.web.logs import JsonLines, RequestLog, access_log, skip_unused_record_fields
from mockmj.web.render import Reply, envelope


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler, before = Lines(), access_log.level
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    yield handler
    access_log.removeHandler(handler)
    access_log.setLevel(before)


def test_a_submit_and_a_fetch(lines: Lines) -> None:
    log = RequestLog()
    submitted = Reply(200, envelope(1, "Submitted successfully", "1717200000000001"))
    log.record("POST", "/mj/submit/imagine", 200, submitted, "sk-secret-key-123456", None, None)
    task = {"id": "1717200000000001", "action": "IMAGINE", "status": "SUCCESS", "progress": "100%"}
    log.record("GET", "/mj/task/1717200000000001/fetch", 200, Reply(200, task), None, None, "1717200000000001")
    log.record("GET", "/_mockmj/health", 200, None, None, None, None)
    texts = [r.getMessage() for r in lines.records]
    assert texts == ["POST /mj/submit/imagine 200 code=1 key=sk-s…3456 0.0ms task=1717200000000001",
                     "GET /mj/task/1717200000000001/fetch 200 0.0ms task=1717200000000001",
                     "GET /_mockmj/health 200 0.0ms"]
    assert lines.records[0].fields == {"method": "POST", "path": "/mj/submit/imagine", "status": 200,  # type: ignore[attr-defined]
                                       "code": 1, "key": "sk-s…3456", "ms": 0.0, "taskId": "1717200000000001"}


def test_serve_skips_what_its_formats_never_print(lines: Lines) -> None:
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)  # type: ignore[attr-defined]
    try:
        skip_unused_record_fields()
        RequestLog().record("GET", "/mj/task/1/fetch", 404, None, "k", None, "1")
        record = lines.records[-1]
        assert record.funcName == "(unknown function)" and record.threadName is None and record.process is None
        text = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
        assert text.endswith("INFO mockmj.access: GET /mj/task/1/fetch 404 key=… 0.0ms task=1")
        assert '"path": "/mj/task/1/fetch"' in JsonLines().format(record)
    finally:
        (logging._srcfile, logging.logThreads, logging.logProcesses,  # type: ignore[attr-defined]
         logging.logMultiprocessing) = saved
