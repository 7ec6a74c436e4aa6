"""The access-log line one request writes (logs.RequestLog, used by Flask's hook and the hot path alike),
and the logging switches `mockmj serve` turns off because neither of its formats prints what they gather."""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Iterator
from unittest import mock

import pytest

from mockmj.web.logs import (
    DeferredLines,
    JsonLines,
    RequestLog,
    ServeHandler,
    _line_of,
    _write_lines,
    access_log,
    skip_unused_record_fields,
)
from mockmj.web.render import Reply, envelope


class Lines(logging.Handler):
    """The access lines this test writes: those logged by its own thread, or by threads it allows (its own
    access-log thread). A mock of an earlier test in this process may still be answering a slow request (an
    image a browser asked for), and logs its line from that request's thread meanwhile."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.threads = {threading.current_thread()}

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() in self.threads:
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


# The lines the test below records: a task id of one or two digits, no time taken. A mock of an earlier test in
# this process may still be answering (and logging) a request; its lines name real, 16-digit task ids.
OURS = re.compile(r"GET /mj/task/\d{1,2}/fetch 200 0\.0ms task=\d{1,2}")


class Held(logging.Handler):
    """Writes nothing until let go: lines pile up in the queue, as behind a slow stderr. Keeps only this test's
    lines (`OURS`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.go = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not OURS.fullmatch(record.getMessage()):
            return
        self.go.wait(30)
        self.messages.append(record.getMessage())


def test_deferred_lines_are_all_written_by_the_stop() -> None:
    held, before = Held(), access_log.level
    access_log.addHandler(held)
    access_log.setLevel(logging.INFO)
    deferred = DeferredLines()
    try:
        deferred.start()
        log = RequestLog()
        with mock.patch("mockmj.web.logs.DEFERRED", deferred):
            for n in range(50):
                log.record("GET", f"/mj/task/{n}/fetch", 200, None, None, None, str(n))
        assert held.messages == []  # queued, not written by the requests
        stopper = threading.Thread(target=deferred.stop)
        stopper.start()
        held.go.set()
        stopper.join(30)
        assert not stopper.is_alive()
        assert held.messages == [f"GET /mj/task/{n}/fetch 200 0.0ms task={n}" for n in range(50)]
        assert not deferred.running
    finally:
        held.go.set()
        access_log.removeHandler(held)
        access_log.setLevel(before)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_batched_line_is_what_the_formatter_writes(log_format: str) -> None:
    """The access-log thread writes lines through `mockmj serve`'s handler without a LogRecord each: the
    very text its formatter gives for the record `logging` would have made (time included), whether one line
    (`access_line`) or a whole batch (`_write_lines`, which makes the text format's lines in a loop of its own)."""
    handler = ServeHandler(log_format)
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)  # type: ignore[attr-defined]
    submitted = Reply(200, envelope(1, "Submitted successfully", "1717200000000001"))
    try:
        skip_unused_record_fields()
        for created in (1717200000.0, 1717200000.123, 1717200059.9996, 1717203600.5):
            for reply, task_id in ((None, "1"), (submitted, None)):
                line = ("GET", "/mj/task/1/fetch", 200, reply, "sk-secret-key-123456", 3.25, task_id)
                text, fields = _line_of(*line, {"client": "127.0.0.1", "userAgent": "my-app/1.0"})
                record = access_log.makeRecord(access_log.name, logging.INFO, "(unknown file)", 0, text, (), None,
                                               func="(unknown function)", extra={"fields": fields})
                record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
                expected = handler.format(record) + "\n"
                assert handler.access_line(created, text, fields) == expected
                handler.setStream(io.StringIO())
                with mock.patch("mockmj.web.logs._direct_handler", return_value=handler):
                    _write_lines([(created, *line, ("127.0.0.1", "my-app/1.0"))] * 2)
                assert handler.stream.getvalue() == expected * 2
    finally:
        (logging._srcfile, logging.logThreads, logging.logProcesses,  # type: ignore[attr-defined]
         logging.logMultiprocessing) = saved


def test_batches_go_through_logging_when_someone_else_listens(lines: Lines) -> None:
    """A handler of the access logger's own (a test's, an embedding app's) gets every line as a record."""
    deferred = DeferredLines()
    deferred.start()
    assert deferred._thread is not None
    lines.threads.add(deferred._thread)
    with mock.patch("mockmj.web.logs.DEFERRED", deferred):  # a line another thread logs meanwhile joins it too
        for n in range(20):
            RequestLog().record("GET", f"/mj/task/{n}/fetch", 200, None, None, None, str(n))
    deferred.stop()
    ours = [r.getMessage() for r in lines.records if OURS.fullmatch(r.getMessage())]
    assert ours == [f"GET /mj/task/{n}/fetch 200 0.0ms task={n}" for n in range(20)]
