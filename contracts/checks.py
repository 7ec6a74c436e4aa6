"""The assertions of the clauses, as functions of what was observed (no HTTP here, except images)."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from .clauses import Recorder
from .client import Client, Exchange, RelativeUrl, is_absolute
from .dialects import Expectations, Reading, body_code, first_reading
from .grammar import GRID_ACTIONS, parse
from .versions import expected_upscaled, kind_problems, upscaled_problems, version_of

TASK_KEYS = ("id", "action", "status", "progress", "prompt", "promptEn", "description", "state", "submitTime",
             "startTime", "finishTime", "imageUrl", "failReason", "properties", "buttons")
STATUSES = ("NOT_START", "SUBMITTED", "MODAL", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCEL")
ACTIONS = ("IMAGINE", "UPSCALE", "VARIATION", "ZOOM", "PAN", "DESCRIBE", "BLEND", "SHORTEN", "SWAP_FACE",
           "REROLL", "VIDEO", "EDIT", "RETEXTURE")  # the 88API list, upstream's REROLL, trueai's video and edits
TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCEL"})
# Position along the documented graph; equal rank is only allowed for the same status.
RANK = {"MODAL": 0, "NOT_START": 1, "SUBMITTED": 2, "IN_PROGRESS": 3, "SUCCESS": 4, "FAILURE": 4, "CANCEL": 4}
PROGRESS = re.compile(r"^(\d{1,3})%$")
# Tasks whose SUCCESS is an image of their own (DESCRIBE shows the described image, SHORTEN none).
IMAGE_ACTIONS = frozenset({"IMAGINE", "UPSCALE", "VARIATION", "REROLL", "ZOOM", "PAN", "BLEND", "SWAP_FACE", "EDIT",
                           "RETEXTURE"})


def whitespace_outside_strings(text: str) -> int | None:
    """Offset of the first whitespace between JSON tokens (trailing whitespace is allowed), else None. The suite
    keeps its own: it speaks HTTP only and imports nothing of the mock it may be checking."""
    inside, skip_next = False, False
    body = text.rstrip()
    for at, ch in enumerate(body):
        if skip_next:
            skip_next = False
        elif inside:
            skip_next = ch == "\\"
            inside = ch != '"' or skip_next
        elif ch == '"':
            inside = True
        elif ch in " \t\r\n":
            return at
    return None


def short(value: Any, limit: int = 240) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def percent(progress: Any) -> int | None:
    if isinstance(progress, str):
        m = PROGRESS.match(progress)
        if m:
            return int(m.group(1))
    return None


# -- raw JSON text --------------------------------------------------------------------------------
def check_compact(rec: Recorder, ex: Exchange) -> None:
    """ENV-5 on any JSON body."""
    if not ex.body or not ex.is_json():
        return
    text = ex.text
    at = whitespace_outside_strings(text)
    rec.check("ENV-5", at is None,
              lambda: f"whitespace at offset {at}: …{text[max(0, (at or 0) - 30):(at or 0) + 30]!r}… in "
                      f"{ex.method} {ex.path}")


# -- envelopes ----------------------------------------------------------------------------------------
def check_submit_envelope(rec: Recorder, ex: Exchange, expect: Expectations) -> str | None:
    """ENV-1..4, ENV-7 on the answer of a submission; returns the task id when a task was created."""
    check_compact(rec, ex)
    data = ex.json_or_none()
    if ex.status != 200:
        return None
    if not isinstance(data, dict):
        rec.fail("ENV-1", f"HTTP 200 answer is not a JSON object: {ex.brief()}")
        return None
    code = data.get("code")
    rec.check("ENV-1", isinstance(code, int) and not isinstance(code, bool),
              lambda: f"code is {short(code)} ({type(code).__name__}): {ex.brief()}")
    rec.check("ENV-2", isinstance(data.get("description"), str),
              lambda: f"description is {short(data.get('description'))}: {ex.brief()}")
    rec.check("ENV-4", isinstance(data.get("properties"), dict),
              lambda: f"properties is {short(data.get('properties'))}: {ex.brief()}")
    result = data.get("result")
    creates = code in expect.accepted_codes or (code == expect.modal_code and result not in (None, "", []))
    if creates:
        rec.check("ENV-3", isinstance(result, str) and result.strip() != "",
                  lambda: f"accepted (code {code}) but result is {short(result)} "
                          f"({type(result).__name__}), not a string task id: {ex.brief()}")
    if code == 1:
        desc = data.get("description")
        rec.check("ENV-7", desc in expect.ok_descriptions,
                  lambda: f"code 1 with description {short(desc)}; documented: "
                          f"{' / '.join(expect.ok_descriptions)}")
        if desc in expect.ok_descriptions:
            rec.reading("ENV-7", f"description {desc!r}")
    if creates and result not in (None, ""):
        return str(result)
    return None


def check_error_body(rec: Recorder, ex: Exchange, expect: Expectations) -> None:
    """ENV-6 on a 4xx answer."""
    if not 400 <= ex.status < 500:
        return
    if ex.status == 401 and expect.unauthorized_body == "empty":
        ok = ex.body.strip() == b""
        rec.check("ENV-6", ok, lambda: f"401 should have an empty body (midjourney-proxy): {ex.brief()}")
        if ok:
            rec.reading("ENV-6", "401 with empty body (midjourney-proxy)")
        return
    if ex.status == 429:  # rate limiting is the deployment's, not the contract's
        return
    data = ex.json_or_none()
    if expect.spring_errors and isinstance(data, dict) and {"status", "error"} <= data.keys():
        rec.reading("ENV-6", "Spring error JSON {timestamp,status,error,path} (midjourney-proxy, Spring Boot)")
        rec.ok("ENV-6")
        return
    check_compact(rec, ex)
    problems = []
    if not isinstance(data, dict):
        problems.append("body is not a JSON object")
    else:
        code = data.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            problems.append(f"code is {short(code)}")
        if not isinstance(data.get("description"), str):
            problems.append(f"description is {short(data.get('description'))}")
        if "result" in data and data["result"] is not None:
            problems.append(f"result is {short(data['result'])}, documented null")
        if "result" not in data:
            problems.append("result is missing (documented: null)")
    rec.check("ENV-6", not problems, lambda: f"{'; '.join(problems)}: {ex.brief()}")
    if not problems:
        rec.reading("ENV-6", "{code, description, result:null} (88API Error Response Format)")


def check_error_envelope(rec: Recorder, ex: Exchange, expect: Expectations) -> None:
    """ERR-1 on every answer of the run that carries an envelope: an error never says code 1 (or 22), its
    `result` is null, and where the dialect ties an HTTP status to a code the two agree. Never raises: it
    runs inside the client, under whichever test made the request."""
    if not ex.path.startswith(("/mj/", "/mj-")) or not ex.body:
        return
    data = ex.json_or_none()
    if not isinstance(data, dict) or "code" not in data:
        return
    code, result = data.get("code"), data.get("result")
    if ex.status >= 400:
        problems = []
        if code in expect.accepted_codes:
            problems.append(f"HTTP {ex.status} with code {code}, the code of an accepted submission")
        if result is not None:
            problems.append(f"result {short(result)} on an error (documented: null)")
        allowed = expect.status_codes.get(ex.status)
        if allowed is not None and code not in allowed:
            problems.append(f"HTTP {ex.status} with code {short(code)}; the dialect pairs it with "
                            f"{' or '.join(map(str, sorted(allowed)))}")
        rec.record("ERR-1", not problems, lambda: f"{'; '.join(problems)}: {ex.brief()}")
    elif ex.status == 200 and code not in expect.accepted_codes and not (code == expect.modal_code and result):
        rec.record("ERR-1", result is None, lambda: f"refused with code {short(code)} but result is "
                                                    f"{short(result)} (documented: null): {ex.brief()}")


def check_reading(rec: Recorder, cid: str, readings: tuple[Reading, ...], ex: Exchange, what: str) -> bool:
    """The answer must match one documented reading; note which."""
    found = first_reading(readings, ex)
    if found:
        rec.reading(cid, found.name)
    rec.check(cid, found is not None,
              lambda: f"{what}: expected {' or '.join(r.name for r in readings)}; got {ex.brief()}")
    return found is not None


def check_no_server_error(rec: Recorder, ex: Exchange) -> None:
    rec.check("BAD-1", ex.status < 500, lambda: f"server error: {ex.brief()}")


# -- tasks -----------------------------------------------------------------------------------------
def check_task(rec: Recorder, task: Any, where: str, expected_id: str | None = None) -> bool:
    """TASK-1..3 (and TASK-4 on id) on one task object; LIFE-3/5/11 on its own fields."""
    if not isinstance(task, dict):
        rec.fail("TASK-1", f"{where}: task is not a JSON object: {short(task)}")
        return False
    missing = [k for k in TASK_KEYS if k not in task]
    rec.check("TASK-1", not missing, lambda: f"{where}: task {task.get('id')} lacks {missing}: {short(task)}")
    status = task.get("status")
    rec.check("TASK-2", status in STATUSES, lambda: f"{where}: status {short(status)} is not documented "
                                                    f"({', '.join(STATUSES)})")
    action = task.get("action")
    rec.check("TASK-3", action in ACTIONS, lambda: f"{where}: action {short(action)} is not documented")
    if expected_id is not None:
        rec.check("TASK-4", task.get("id") == expected_id,
                  lambda: f"{where}: asked for {expected_id}, got id {short(task.get('id'))}")
    check_progress(rec, task, where)
    check_times(rec, task, where)
    check_absolute_urls(rec, task, where)
    if status == "FAILURE":
        reason = task.get("failReason")
        rec.check("LIFE-11", isinstance(reason, str) and reason.strip() != "",
                  lambda: f"{where}: FAILURE with failReason {short(reason)}")
    return True


def check_progress(rec: Recorder, task: dict[str, Any], where: str) -> None:
    progress, status = task.get("progress"), task.get("status")
    if status == "SUCCESS":
        ok = progress == "100%"
    elif status in ("NOT_START", "MODAL", "FAILURE", "CANCEL"):
        ok = progress in (None, "") or (percent(progress) is not None and percent(progress) <= 100)
    else:
        ok = percent(progress) is not None and percent(progress) <= 100
    rec.check("LIFE-3", ok, lambda: f"{where}: {status} with progress {short(progress)}")
    if status not in TERMINAL and percent(progress) is not None:
        rec.check("LIFE-17", percent(progress) != 100,
                  lambda: f"{where}: task {task.get('id')} says {progress} while {status} (not finished)")


MEDIA_FIELDS = ("imageUrl", "videoUrl")
MEDIA_LISTS = ("imageUrls", "videoUrls")


def media_urls(task: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every media URL a task carries, with the field it is in."""
    out = [(name, task.get(name)) for name in MEDIA_FIELDS if task.get(name) not in (None, "")]
    for name in MEDIA_LISTS:
        items = task.get(name)
        if isinstance(items, list):
            for i, item in enumerate(items):
                for key in ("url", "thumbnail"):
                    value = item.get(key) if isinstance(item, dict) else item
                    if value not in (None, ""):
                        out.append((f"{name}[{i}].{key}", value))
    return out


def check_absolute_urls(rec: Recorder, task: dict[str, Any], where: str) -> None:
    """URL-1: a client downloads what it is handed; it cannot guess what a relative URL is relative to."""
    urls = media_urls(task)
    bad = [f"{name}={short(url, 80)}" for name, url in urls if not is_absolute(url)]
    if urls:
        rec.check("URL-1", not bad, lambda: f"{where}: task {task.get('id')} has media URLs that are not absolute "
                                            f"http(s) URLs: {', '.join(bad[:3])}")


def check_times(rec: Recorder, task: dict[str, Any], where: str) -> None:
    sub, start, fin = task.get("submitTime"), task.get("startTime"), task.get("finishTime")
    status = task.get("status")
    problems = []
    for name, value in (("submitTime", sub), ("startTime", start), ("finishTime", fin)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append(f"{name} is {short(value)}, not an integer")
    if not isinstance(sub, int):
        problems.append("submitTime missing")
    ints = [v if isinstance(v, int) else None for v in (sub, start, fin)]
    known = [v for v in ints if v is not None]
    if known != sorted(known):
        problems.append(f"not ordered: submitTime={sub} startTime={start} finishTime={fin}")
    if status in TERMINAL and status != "CANCEL" and fin is None:
        problems.append(f"{status} without finishTime")
    if status not in TERMINAL and fin is not None:
        problems.append(f"{status} (not terminal) with finishTime {fin}")
    rec.check("LIFE-5", not problems, lambda: f"{where}: task {task.get('id')}: {'; '.join(problems)}")


def check_step(rec: Recorder, prev: dict[str, Any], cur: dict[str, Any], where: str) -> None:
    """LIFE-1, LIFE-2, LIFE-4 between two successive observations of one task."""
    a, b = prev.get("status"), cur.get("status")
    tid = cur.get("id")
    if a in TERMINAL:
        rec.check("LIFE-2", b == a, lambda: f"{where}: task {tid} left terminal {a} for {b}")
    elif a in RANK and b in RANK:
        ok = RANK[b] > RANK[a] or a == b
        rec.check("LIFE-1", ok, lambda: f"{where}: task {tid} moved {a} → {b}")
    pa, pb = percent(prev.get("progress")), percent(cur.get("progress"))
    if pa is not None and pb is not None:
        rec.check("LIFE-4", pb >= pa, lambda: f"{where}: task {tid} progress {prev.get('progress')} → "
                                              f"{cur.get('progress')} ({a} → {b})")


def check_image(rec: Recorder, client: Client, task: dict[str, Any], where: str, cache: dict[str, str]) -> None:
    """LIFE-6: the imageUrl of a SUCCESS downloads without a key and decodes."""
    if task.get("status") != "SUCCESS" or task.get("action") not in IMAGE_ACTIONS:
        return
    url = task.get("imageUrl")
    if not isinstance(url, str) or not url:
        rec.fail("LIFE-6", f"{where}: SUCCESS {task.get('action')} task {task.get('id')} has imageUrl {short(url)}")
        return
    if url in cache:
        verdict = cache[url]
    else:
        verdict = decode_image(client, url)
        cache[url] = verdict
    if verdict.startswith("ok"):
        rec.reading("LIFE-6", verdict.removeprefix("ok "))
    rec.check("LIFE-6", verdict.startswith("ok"), lambda: f"{where}: task {task.get('id')}: {verdict}")


def decode_image(client: Client, url: str) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        ex = client.download(url)
    except RelativeUrl as exc:
        return str(exc)
    except Exception as exc:  # network errors are evidence too
        return f"GET {url} failed: {exc}"
    if ex.status != 200:
        return f"GET {url} → HTTP {ex.status}"
    try:
        with Image.open(io.BytesIO(ex.body)) as img:
            img.load()
            return f"ok {img.format} image"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return (f"GET {url} → {len(ex.body)} bytes ({ex.headers.get('content-type')}) that do not decode "
                f"as an image: {exc}")


def task_hash(task: dict[str, Any]) -> tuple[str | None, str]:
    props = task.get("properties") if isinstance(task.get("properties"), dict) else {}
    h = props.get("messageHash")
    if isinstance(h, str) and h:
        return h, "hash from properties.messageHash (midjourney-proxy properties)"
    return None, "no properties.messageHash: buttons must agree on one hash"


def check_buttons(rec: Recorder, task: dict[str, Any], where: str) -> None:
    """LIFE-7 and LIFE-8 on a SUCCESS task."""
    if task.get("status") != "SUCCESS":
        return
    buttons = task.get("buttons")
    if not isinstance(buttons, list):
        rec.fail("LIFE-7", f"{where}: SUCCESS task {task.get('id')} has buttons {short(buttons)}")
        return
    expected_hash, reading = task_hash(task)
    seen_hashes: set[str] = set()
    problems = []
    for b in buttons:
        cid = b.get("customId") if isinstance(b, dict) else None
        parsed = parse(cid) if isinstance(cid, str) else None
        if parsed is None:
            problems.append(f"customId {short(cid)} is not in the Discord grammar")
            continue
        if parsed.hash is not None:
            seen_hashes.add(parsed.hash)
            if expected_hash is not None and parsed.hash != expected_hash:
                problems.append(f"{cid} references {parsed.hash}, the task's hash is {expected_hash}")
    if expected_hash is None and len(seen_hashes) > 1:
        problems.append(f"buttons reference several hashes {sorted(seen_hashes)}")
    if buttons:
        rec.reading("LIFE-7", reading)
    rec.check("LIFE-7", not problems, lambda: f"{where}: task {task.get('id')}: {'; '.join(problems[:3])}")
    if task.get("action") in GRID_ACTIONS:
        labels = {b.get("label"): b for b in buttons if isinstance(b, dict)}
        missing = []
        for i in range(1, 5):
            for prefix, kind in (("U", "upsample"), ("V", "variation")):
                btn = labels.get(f"{prefix}{i}")
                got = parse(btn.get("customId", "")) if btn else None
                if not got or got.kind != kind or got.index != i:
                    missing.append(f"{prefix}{i}")
        rerolls = [b for b in buttons if isinstance(b, dict) and (p := parse(str(b.get("customId")))) is not None
                   and p.kind == "reroll"]
        if not rerolls or rerolls[0].get("emoji") != "🔄":
            missing.append("🔄 reroll")
        rec.check("LIFE-8", not missing, lambda: f"{where}: {task.get('action')} task {task.get('id')} lacks "
                                                 f"{', '.join(missing)}; has {[b.get('label') for b in buttons]}")
    check_button_set(rec, task, where)


def is_video(task: dict[str, Any]) -> bool:
    return task.get("action") == "VIDEO" or task.get("contentType") == "video/mp4"


def check_button_set(rec: Recorder, task: dict[str, Any], where: str) -> None:
    """BTN-1 on a SUCCESS task: an upscaled image shows its version's buttons; a video, its batch's."""
    if task.get("status") != "SUCCESS":
        return
    problems = kind_problems(task)
    if problems is not None:
        rec.check("BTN-1", not problems, lambda: f"{where}: {task.get('action')} task {task.get('id')}: "
                                                 f"{'; '.join(problems)}")
        return
    if task.get("action") != "UPSCALE" or is_video(task):
        return
    version, how = version_of(task)
    table = expected_upscaled(version) if version else None
    if table is None:
        why = how if version is None else f"{how}: the suite's table (contracts/versions.py) has no row for it"
        rec.not_run("BTN-1", f"upscaled task {task.get('id')}: {why}")
        return
    rec.reading("BTN-1", f"{'' if version.startswith('niji') else 'V'}{version}")
    found = upscaled_problems(task, version, table)
    rec.check("BTN-1", not found, lambda: f"{where}: upscaled task {task.get('id')} ({how}): {'; '.join(found)}")


def rejected_without_task(ex: Exchange, expect: Expectations) -> bool:
    """Did the answer refuse (no task id created)?"""
    if ex.status != 200:
        return True
    code = body_code(ex)
    if code in expect.accepted_codes:
        return False
    data = ex.json_or_none()
    return not (code == expect.modal_code and isinstance(data, dict) and data.get("result"))
