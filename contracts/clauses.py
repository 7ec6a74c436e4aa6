"""The clauses of the contract, and the recorder that turns checks into a clause-by-clause verdict.

A clause is one promise of the documentation, small enough to be checked by one kind of assertion.
Its `source` and `quote` are a short note for readers of this file (`88API l.N`: a line of the 88API
page as kept beside the repository; `upstream §N`: a section of the midjourney-proxy notes; `relay`:
what relays such as new-api need). What a report shows is in sources.py: the exact sentences each
clause checks, their section and the public address of the document.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    source: str  # where the promise is written
    quote: str  # the words of the documentation it checks (short)
    billable: bool = False  # needs at least one billable request


def _c(cid: str, title: str, source: str, quote: str, billable: bool = False) -> Clause:
    return Clause(cid, title, source, quote, billable)


CLAUSES: dict[str, Clause] = {
    c.id: c
    for c in (
        # -- schema conformance (schemathesis over openapi.yaml) --------------------------------------
        _c("SCHEMA-1", "Every response of every read-only operation conforms to openapi.yaml",
           "openapi.yaml; 88API l.318-406", "Query Tasks by ID List / Get Task by Specific ID / Image Seed"),
        _c("SCHEMA-2", "Every response of every submit operation conforms to openapi.yaml",
           "openapi.yaml; 88API l.127-316", "Submit Imagine / Blend / Describe / Modal / Action / ...",
           True),
        # -- the envelope -----------------------------------------------------------------------------
        _c("ENV-1", "`code` is an integer", "88API l.618-620", "code • Type: Integer", True),
        _c("ENV-2", "`description` is a string", "88API l.628-630", "description • Type: String", True),
        _c("ENV-3", "An accepted submission returns the task id in `result` as a JSON string",
           "88API l.634-636; relay", "result • Type: String or array ... may be task ID", True),
        _c("ENV-4", "`properties` is an object", "88API l.631-633", "properties • Type: Object", True),
        _c("ENV-5", "JSON bodies are compact (no whitespace between tokens)", "relay",
           "relays rewrite `\"code\":22` by literal string replace"),
        _c("ENV-6", "Error responses carry the dialect's error body",
           "88API l.744-750; upstream §1-§2", "{\"code\": <error_code>, \"description\": ..., \"result\": null}"),
        _c("ENV-7", "An accepted submission says so in `description`",
           "88API l.622, l.155; upstream §3.2", "1 Submitted successfully / 提交成功", True),
        # -- the task object --------------------------------------------------------------------------
        _c("TASK-1", "A task carries every documented key", "88API l.367-391; relay",
           "action, buttons, description, failReason, finishTime, id, imageUrl, progress, ...", True),
        _c("TASK-2", "`status` is one of the documented values", "88API l.708-719",
           "NOT_START SUBMITTED MODAL IN_PROGRESS FAILURE SUCCESS CANCEL", True),
        _c("TASK-3", "`action` is one of the documented values (plus upstream REROLL, trueai VIDEO, EDIT, RETEXTURE)",
           "88API l.642-655; upstream §5.1; midjourney-2025 §2",
           "IMAGINE UPSCALE VARIATION ZOOM PAN DESCRIBE BLEND SHORTEN SWAP_FACE", True),
        _c("TASK-4", "Fetch returns the task asked for, with `state` echoed verbatim",
           "88API l.683-686, l.519-522", "id • Task unique identifier; state • Custom state parameter", True),
        # -- lifecycle ----------------------------------------------------------------------------------
        _c("LIFE-1", "Status only moves forward along the documented graph",
           "88API l.708-719; upstream §5.2", "NOT_START → SUBMITTED → IN_PROGRESS → SUCCESS | FAILURE", True),
        _c("LIFE-2", "A terminal status (SUCCESS, FAILURE, CANCEL) never changes", "upstream §5.2",
           "Terminal states: SUCCESS and FAILURE", True),
        _c("LIFE-3", "`progress` is \"NN%\" (empty before start or after failure); SUCCESS is \"100%\"",
           "88API l.693-696; upstream §5.3", "There is always a % suffix, with no decimals", True),
        _c("LIFE-4", "`progress` never decreases", "upstream §5.3, §7", "\"0%\", \"15%\", \"31%\" ... \"100%\"",
           True),
        _c("LIFE-5", "submitTime ≤ startTime ≤ finishTime, and finishTime is set once terminal",
           "88API l.678-681, l.721-729; upstream §5.1", "submitTime / startTime / finishTime • Integer", True),
        _c("LIFE-6", "SUCCESS has an imageUrl that downloads without a key as a decodable image",
           "88API l.688-691; relay", "imageUrl • URL of the generated image", True),
        _c("LIFE-7", "SUCCESS buttons' customIds parse in the Discord grammar and reference the task's hash",
           "88API l.587, l.657-666; upstream §11", "Format: ... such as \"MJ::JOB::upsample::1::xxx\"", True),
        _c("LIFE-8", "A finished grid (IMAGINE, VARIATION, REROLL, BLEND) offers U1-U4, V1-V4 and 🔄",
           "88API l.113-114; upstream §11", "U1-U4: Upscale operations; V1-V4: Variation generation", True),
        _c("LIFE-9", "Every button accepted by /mj/submit/action produces a task of the matching action",
           "88API l.442-446; upstream §10.2", "Perform subsequent operations on generated images", True),
        _c("LIFE-10", "list-by-condition answers a bare array of the asked tasks that agrees with fetch",
           "88API l.318-356; relay", "Query task details based on specified task ID list", True),
        _c("LIFE-11", "A FAILURE carries a non-empty failReason", "88API l.673-676; relay",
           "failReason • Task failure reason", True),
        _c("LIFE-12", "A modal button answers code 21 and a MODAL task that /submit/modal continues",
           "88API l.80, l.224-243; upstream §10.2-10.3", "K -->|Modal Required| L[Submit Modal]", True),
        # -- bad input ------------------------------------------------------------------------------------
        _c("BAD-1", "No request, however malformed, is answered with a 5xx", "88API l.742",
           "500 Internal Server Error: Internal server error"),
        _c("BAD-2", "A body that breaks the documented schema is rejected and creates no task",
           "88API l.621-627, l.737", "21 Parameter error; 400 Bad Request: Invalid request parameters", True),
        _c("BAD-3", "Bad images (not a data URL, wrong count, undecodable) are rejected and create no task",
           "88API l.500-504, l.526-530, l.542-546, l.768-780", "Must include 2-5 base64 image strings", True),
        _c("BAD-4", "An unknown task id on fetch / image-seed gets the dialect's not-found answer",
           "88API l.740; upstream §1, §4.6", "404 Not Found: Resource not found"),
        _c("BAD-5", "Action / modal on an unknown task or with a customId the task does not offer is rejected"
           " and creates no task", "88API l.583-591, l.740; upstream §10.2",
           "customId • Action identifier; taskId • Task ID for the action to be executed", True),
        _c("BAD-6", "Parameter errors carry the dialect's message", "88API l.624; upstream §4.1, §15",
           "21 Parameter error / prompt不能为空", True),
        # -- auth -----------------------------------------------------------------------------------------
        _c("AUTH-1", "A request without a key is refused with 401", "88API l.474-478, l.739; upstream §2",
           "401 Unauthorized: Invalid or missing API key"),
        _c("AUTH-2", "A request with a wrong key is refused with 401", "88API l.739; upstream §2",
           "401 Unauthorized: Invalid or missing API key"),
        _c("AUTH-3", "One key cannot read another key's task (fetch and list-by-condition)", "88API l.738; relay",
           "403 Forbidden: Insufficient permissions; the relay answers only the caller's tasks", True),
        _c("AUTH-4", "The dialect's documented auth header is accepted", "88API l.474-478; upstream §2",
           "Authorization: Bearer $API_KEY / mj-api-secret"),
        # -- callbacks -----------------------------------------------------------------------------------
        _c("CB-1", "Callbacks POST the task JSON of the submitted task to its notifyHook",
           "88API l.515-518; upstream §7", "notifyHook • Callback address after task completion", True),
        _c("CB-2", "Callback statuses and progress never go backwards", "upstream §7",
           "A notification with a lower order than the last one sent is dropped", True),
        _c("CB-3", "The last callback carries the terminal state that fetch shows", "88API l.518; upstream §7",
           "the terminal SUCCESS / \"100%\" or FAILURE", True),
        # -- today's Midjourney: true sizes and video (contracts/test_video.py) -------------------------
        _c("IMG-2", "A U result is its grid cell at the cell's own size, pixel for pixel",
           "midjourney-2025 §1", "a 1792×2688 grid gives an 896×1344 U result ... the sizes must agree exactly",
           True),
        _c("VID-1", "Animate on an upscaled image makes a VIDEO task whose videos download as MP4 that decode",
           "midjourney-2025 §1-2", "videoUrl (the first video), videoUrls and imageUrls as lists of {url, thumbnail}",
           True),
        _c("VID-2", "A finished video extends through /mj/submit/video (action extend, taskId, index)",
           "midjourney-2025 §2-3", "Through a relay, video follow-ups go only through /mj/submit/video", True),
        _c("VID-3", "/mj/submit/video refuses a blank prompt, a taskId without extend and an unknown parent, "
                    "creating no task", "midjourney-2025 §2",
           "4 \"Prompt 不能为空\" ... taskId without action:\"extend\" → 4 \"任务类型错误\"; unknown parent "
           "→ HTTP 404", True),
    )
}


class ClauseFailure(AssertionError):
    """An assertion of one or more clauses failed; the message starts with their ids."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__("\n".join(f"[{cid}] {evidence}" for cid, evidence in failures))


# The verdicts of a clause. "not verified": the clause, or a test of it, could not run (budget, a
# precondition the target did not meet, no receiver...): the promise went unchecked, which is never a
# pass, and a strict run (the default against a local target) fails on it. "not applicable": the target
# said of itself that the promise does not apply there (no auth, any key, a route the dialect lacks).
PASSED, FAILED, NOT_VERIFIED, NOT_APPLICABLE = "passed", "failed", "not verified", "not applicable"
STATUSES = (PASSED, FAILED, NOT_VERIFIED, NOT_APPLICABLE)


@dataclass
class ClauseResult:
    observations: int = 0
    failures: int = 0
    evidence: list[str] = field(default_factory=list)  # first few failure evidences
    readings: Counter[str] = field(default_factory=Counter)  # which documented reading was seen
    not_run: list[str] = field(default_factory=list)  # reasons a test of it could not check it
    not_applicable: list[str] = field(default_factory=list)  # reasons the target gave for it not to apply
    tests: set[str] = field(default_factory=set)

    @property
    def status(self) -> str:
        if self.failures:
            return FAILED
        if self.not_run:
            return NOT_VERIFIED  # even with observations: a part of the promise went unchecked
        if self.observations:
            return PASSED
        if self.not_applicable:
            return NOT_APPLICABLE
        return NOT_VERIFIED


MAX_EVIDENCE = 3
NOT_SELECTED = "not selected (--mj-clauses)"


class Recorder:
    """Collects every clause check of a run. Thread-safe: callbacks arrive on other threads."""

    def __init__(self) -> None:
        self.results: dict[str, ClauseResult] = {cid: ClauseResult() for cid in CLAUSES}
        self.selected: set[str] = set(CLAUSES)
        self._lock = threading.Lock()
        self._pending: threading.local = threading.local()
        self.current_test: str = ""
        self.failure_count = 0

    # -- checks ------------------------------------------------------------------------------------
    def record(self, cid: str, ok: bool, evidence: str | Callable[[], str] = "") -> str:
        """Record one observation of clause `cid` without raising; returns the failure text ('' if ok)."""
        if cid not in CLAUSES:
            raise KeyError(f"unknown clause {cid}")
        with self._lock:
            res = self.results[cid]
            res.observations += 1
            if self.current_test:
                res.tests.add(self.current_test)
            if ok:
                return ""
            text = evidence() if callable(evidence) else evidence
            text = text or "(no evidence)"
            res.failures += 1
            self.failure_count += 1
            if len(res.evidence) < MAX_EVIDENCE and text not in res.evidence:
                res.evidence.append(text)
            return text

    def check(self, cid: str, ok: bool, evidence: str | Callable[[], str] = "") -> bool:
        """Record one observation of clause `cid`; a failure raises unless inside `soft()`."""
        text = self.record(cid, ok, evidence)
        if not text:
            return True
        pending = getattr(self._pending, "items", None)
        if pending is not None:
            pending.append((cid, text))
            return False
        raise ClauseFailure([(cid, text)])

    def fail(self, cid: str, evidence: str) -> None:
        self.check(cid, False, evidence)

    def ok(self, cid: str) -> None:
        self.check(cid, True)

    @contextlib.contextmanager
    def soft(self) -> Iterator[None]:
        """Check several clauses on one observation; raise once, at the end, naming every failure."""
        outer = getattr(self._pending, "items", None)
        self._pending.items = [] if outer is None else outer
        try:
            yield
        finally:
            items = self._pending.items
            if outer is None:
                self._pending.items = None
        if outer is None and items:
            raise ClauseFailure(items)

    def reading(self, cid: str, reading: str) -> None:
        """Note which of several documented readings the target showed."""
        with self._lock:
            self.results[cid].readings[reading] += 1

    def not_run(self, cid: str, reason: str) -> None:
        """A check of `cid` could not be made: the clause is at best *not verified*."""
        with self._lock:
            res = self.results[cid]
            if reason not in res.not_run:
                res.not_run.append(reason)

    def not_applicable(self, cid: str, reason: str) -> None:
        """The target said of itself that this promise does not apply to it."""
        with self._lock:
            res = self.results[cid]
            if reason not in res.not_applicable:
                res.not_applicable.append(reason)

    # -- verdict -----------------------------------------------------------------------------------
    def status(self, cid: str) -> str:
        """Observations count even for a clause --mj-clauses did not select (they are evidence too)."""
        return self.results[cid].status

    def reason(self, cid: str) -> str:
        res = self.results[cid]
        status = res.status
        if cid not in self.selected and status == NOT_VERIFIED and not res.not_run and not res.observations:
            return NOT_SELECTED
        if status == FAILED:
            return " | ".join(res.evidence)
        if status == NOT_VERIFIED:
            return "; ".join(res.not_run) or "no test observed it"
        if status == NOT_APPLICABLE:
            return "; ".join(res.not_applicable)
        return ""

    def unverified(self) -> list[str]:
        """Selected clauses whose promise went (partly) unchecked."""
        return [cid for cid in CLAUSES if cid in self.selected and self.status(cid) == NOT_VERIFIED]


# Clauses added for sentences the list above left out; kept apart so that clauses added inside
# the list elsewhere merge without touching these lines.
CLAUSES.update({
    c.id: c
    for c in (
        _c("TASK-5", "Every button carries customId, emoji, label, style (2 or 3) and type", "88API l.657-666",
           "customId Action identifier; emoji Button icon; label Button text; style (2=Primary, 3=Green); type",
           True),
        _c("TASK-6", "A task keeps the submitted prompt in `prompt`; a SUCCESS Imagine has its `promptEn`",
           "88API l.698-706", "prompt • Original prompt; promptEn • English prompt", True),
        _c("LIFE-13", "Blend `dimensions` shapes the image: PORTRAIT 2:3, SQUARE 1:1, LANDSCAPE 3:2",
           "88API l.532-538", "PORTRAIT: 2:3 ratio; SQUARE: 1:1 ratio; LANDSCAPE: 3:2 ratio", True),
        _c("LIFE-14", "A finished DESCRIBE carries the generated description in `prompt`", "88API l.424-428",
           "Generate text descriptions based on input images", True),
        _c("ENV-8", "Upload to Discord answers code 1 and the uploaded images' URLs as an array in `result`",
           "88API l.448-452, l.634-636", "Upload images to the Discord platform; result • String or array", True),
        _c("IMG-1", "Images in every documented format (JPEG, PNG, GIF, WEBP) are accepted", "88API l.768-774",
           "Supported image formats: JPEG/JPG, PNG, GIF (static), WEBP", True),
        _c("BAD-7", "A face swap without sourceBase64 or without targetBase64 is refused and creates no task",
           "88API l.563-574", "sourceBase64 • Required: Yes; targetBase64 • Required: Yes", True),
        _c("BAD-8", "An Imagine image without its MIME type prefix is refused and creates no task",
           "88API l.500-504; upstream §4.1", "Each element should be a complete base64 image string with MIME type "
           "prefix", True),
        _c("LIFE-15", "An Imagine with a reference image succeeds, its promptEn led by the image's URL",
           "88API l.500-504; upstream §4.1", "base64Array • Base64 encoded array for image padding", True),
        _c("LIFE-16", "Cancelling an unfinished task ends it CANCEL (or FAILURE with a reason), with a finishTime",
           "88API l.37, l.719; upstream §10.8", "Task cancellation function; CANCEL Cancelled", True),
    )
})


# Clauses for what the API promises today (model versions, true sizes, video, edits, limits, error envelopes,
# progress, media URLs, callbacks), beyond the 88API page: each quotes its source in sources.py, and has a
# corruption in tests/contract_selftest/corruptions.py that it must catch.
CLAUSES.update({
    c.id: c
    for c in (
        _c("BTN-1", "The buttons of a finished task are those of its model version and task kind, and the "
                    "upscaler customIds name that version", "midjourney-2025 §1; midjourney-2026 §2; upstream §11",
           "V7: upsample_v7_2x_subtle / _creative; V6.1: v6r1; V6 and niji 6: v6; V8/V8.1: no Upscale, Zoom or Pan",
           True),
        _c("BTN-2", "Every button a task offers is accepted when pressed on the same server, for every button kind",
           "88API l.442-446; upstream §10.2, §11", "Perform subsequent operations on generated images", True),
        _c("SIZE-1", "A grid is 2×2 cells of the --ar aspect; a U image is one cell; Upscale (Subtle/Creative) is "
                     "twice the U image", "midjourney-2025 §1",
           "a 1792×2688 grid gives an 896×1344 U result; only Upscale (Subtle/Creative) double the size", True),
        _c("VID-4", "A finished video has as many videos, thumbnails and U buttons as its batch, every URL serving "
                    "an MP4 or an image", "midjourney-2025 §2",
           "videoUrls and imageUrls as lists of {url, thumbnail}, one per video of the batch; buttons U1..Un", True),
        _c("EDIT-1", "Edits and retexture make EDIT and RETEXTURE tasks, reported as themselves, with a grid",
           "midjourney-2025 §2", "action EDIT, description /edit <prompt>; action RETEXTURE, /retexture <prompt>",
           True),
        _c("DESC-2", "Describe takes an image by link instead of base64", "midjourney-2025 §2",
           "POST /mj/submit/describe: base64 or link (an http(s):// URL)", True),
        _c("LIM-1", "A prompt, state or notifyHook over its documented length is refused and creates no task; "
                    "a prompt at the limit is accepted", "README limits; midjourney-2025 §2",
           "prompt 6,000 characters; state over 255 characters → 4 \"State参数过长，最大255字符\"", True),
        _c("LIM-2", "A body over the documented size is refused with HTTP 413 and creates no task", "README limits",
           "request body max_body_bytes, 32 MiB: HTTP 413", True),
        _c("LIM-3", "GET /mj/task/list answers the latest 100 tasks, newest first", "midjourney-2025 §2",
           "GET /mj/task/list: the latest 100 tasks", True),
        _c("ERR-1", "An error never says code 1: its result is null and its HTTP status and code agree",
           "88API l.744-750, l.621-627; upstream §3", "{\"code\": <error_code>, ..., \"result\": null}"),
        _c("LIFE-17", "`progress` says \"100%\" only once the task is finished", "upstream §5.2-5.3",
           "success() sets status SUCCESS and progress \"100%\"", True),
        _c("URL-1", "Every media URL of a task (imageUrl, imageUrls, videoUrl, videoUrls) is absolute", "relay",
           "clients and relays download the URL as given", True),
        _c("CB-4", "Every callback equals, field by field, what fetch answers at the same moment", "upstream §7",
           "Each change of a task is POSTed as the task JSON (the shape of /task/{id}/fetch)", True),
    )
})
