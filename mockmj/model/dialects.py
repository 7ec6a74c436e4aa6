"""The two languages the mock speaks, as data.

`88api` follows the 88API documentation (our primary contract); `proxy` follows the upstream
midjourney-proxy (open source v2.6.3 and its "plus" edition) that relays such as 88API sit in front of.
Every difference between them lives in these two tables; the web layer only looks things up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mockmj.model.errors import Refusal


@dataclass(frozen=True)
class Dialect:
    name: str
    # business code per outcome kind
    codes: dict[str, int]
    # description per outcome kind; `{…}` fields come from Refusal.params / accept data
    messages: dict[str, str]
    # HTTP status per refusal kind (absent: 200, business errors travel in the body)
    http_status: dict[str, int] = field(default_factory=dict)
    # exact upstream texts for parameter errors, per rule (absent: the generic param message)
    param_messages: dict[str, str] = field(default_factory=dict)
    # queued_rule: "must_wait" answers 22 whenever the task has to wait for a slot; "others_waiting"
    # answers 22 only when other tasks already wait (upstream counts the executor queue only).
    queued_rule: str = "must_wait"
    # banned prompts: "fail_task" accepts and fails the task as Midjourney does; "reject" answers 24.
    banned: str = "fail_task"
    # unknown task on fetch: "not_found" (404 + envelope) or "empty" (200, no body, like Spring).
    unknown_fetch: str = "not_found"
    # refused auth: "envelope" (JSON error) or "empty" (401 with no body, like the proxy).
    auth_body: str = "envelope"
    # a body that breaks the schema: "envelope" (400, code 21, names the field) or "lenient" (only
    # malformed JSON and unknown enum values get Spring's 400; the rest reach the semantic checks).
    schema_errors: str = "envelope"
    timeout_reason: str = "任务超时"
    # HTTP-level errors (bad JSON, unknown path, 405, 413): "envelope" ({code, description, …}, code 21
    # for a 400) or "spring" (Spring Boot's {timestamp, status, error, path}).
    error_body: str = "envelope"
    # a body over a limit or not valid Unicode: "http" (HTTP 400 with the error body) or "param" (HTTP
    # 200 and the parameter-error code, as trueai's proxy answers `State参数过长，最大255字符`).
    limit_errors: str = "http"
    # Content-Type of a JSON body: "lenient" (relays parse the body whatever it says) or "json" (Spring's
    # @RequestBody answers 415 Unsupported Media Type unless it is application/json).
    content_type: str = "lenient"
    # without configured keys: True asks every request for some key (88API), False asks for none
    # (upstream checks mj-api-secret only when a secret is configured).
    auth_without_keys: bool = True
    # an unknown /attachments/... path: "refusal" (the not-found envelope) or "http" (a plain 404).
    missing_attachment: str = "refusal"
    # task fields a relay serves as strings (Go `string` fields of new-api's task, never null), with what it
    # serves where the task has no value yet; empty: nulls stay null, as the proxy's Jackson writes them.
    null_strings: dict[str, str] = field(default_factory=dict)
    # a task's `version`: "proxy" as trueai writes it ("v 8.1", "v 7", "niji 7"); "short" the mock's own
    # "8.1", "7", "niji 7" where no relay carries the field (new-api re-serves no version), as before.
    version_label: str = "short"

    def model_label(self, name: str | None) -> str | None:
        """A task's model version as this dialect writes it (None: a task that used no image model)."""
        if name is None or self.version_label == "short" or name.startswith("niji"):
            return name
        return f"v {name}"

    def strings_for_nulls(self, task: dict[str, Any]) -> dict[str, Any]:
        """The task JSON with the relay's string in place of each null its relay serves as a string."""
        for name, empty in self.null_strings.items():
            if task.get(name) is None:
                task[name] = empty
        return task

    def code(self, kind: str) -> int:
        return self.codes[kind]

    def describe(self, refusal: Refusal) -> str:
        if refusal.kind == "param" and refusal.rule in self.param_messages:
            template = self.param_messages[refusal.rule]
        else:
            template = self.messages.get(refusal.kind, self.messages["param"])
        values: dict[str, Any] = {"detail": refusal.detail, **refusal.params}
        return template.format(**values)

    def status_for(self, refusal: Refusal) -> int:
        return self.http_status.get(refusal.kind, 200)


EIGHTY_EIGHT = Dialect(
    name="88api",
    codes={
        "ok": 1,
        "modal": 21,
        "param": 21,
        "not_found": 21,
        "queued": 22,
        "system": 23,
        "queue_full": 23,
        "account_unavailable": 24,
        "account_disabled": 24,
        "insufficient_balance": 25,
        "banned": 24,
        "seed": 1,
        "parent_missing": 21,
        "mode_forbidden": 403,
    },
    messages={
        "ok": "Submitted successfully",
        "modal": "Waiting for window confirm",
        "param": "Parameter error: {detail}",
        "not_found": "Parameter error: {detail}",
        "queued": "Task queued: {ahead} task(s) ahead",
        "system": "System error: {detail}",
        "queue_full": "System error: the queue is full ({running} running, {waiting} waiting), try again later",
        "account_unavailable": "Account unavailable: {detail}",
        "account_disabled": "Account unavailable: {detail}",
        "insufficient_balance": "Insufficient balance: {detail}",
        "banned": "Banned prompt: {detail}",
        "seed": "Success",
        "cancelled": "Task cancelled",
        "parent_missing": "Parameter error: {detail}",
        "mode_forbidden": "Forbidden: {detail}",
    },
    http_status={"not_found": 404, "parent_missing": 404, "mode_forbidden": 403},
    # A relay answers fetches from its database, whose task fields are Go strings: "0%" before the task
    # starts (its starting value, relay-compatibility reference), "" for a prompt, state, image or reason
    # not known yet. A client that does progress.rstrip("%") works against a relay and must here too.
    null_strings={"progress": "0%", "prompt": "", "promptEn": "", "description": "", "state": "",
                  "imageUrl": "", "failReason": "", "videoUrl": ""},
)

PROXY = Dialect(
    name="proxy",
    codes={
        "ok": 1,
        "modal": 21,
        "param": 4,
        "not_found": 3,
        "queued": 22,
        "system": 9,
        "queue_full": 23,
        "account_unavailable": 3,
        "account_disabled": 3,
        "insufficient_balance": 25,
        "banned": 24,
        "seed": 1,
        "parent_missing": 3,
        "mode_forbidden": 403,
    },
    messages={
        "ok": "提交成功",
        "modal": "Waiting for window confirm",
        "param": "参数错误",
        "not_found": "关联任务不存在或已失效",
        "queued": "排队中，前面还有{ahead}个任务",
        "system": "提交失败，系统异常",
        "queue_full": "队列已满，请稍后尝试",
        "account_unavailable": "无可用的账号实例",
        "account_disabled": "账号不可用: {instance_id}",
        "insufficient_balance": "余额不足",
        "banned": "可能包含敏感词",
        "seed": "成功",
        "cancelled": "取消任务",
        "parent_missing": "关联任务不存在或已失效",
        "mode_forbidden": "Forbidden: {detail}",
    },
    # trueai's /submit/video answers an unknown parent with HTTP 404; a relay refuses a forbidden mode with 403
    http_status={"parent_missing": 404, "mode_forbidden": 403},
    param_messages={
        "prompt_blank": "prompt不能为空",
        "base64_format": "base64格式错误",
        "base64_blank": "base64不能为空",
        "base64_list": "base64List参数错误",
        "dimensions": "dimensions参数错误",
        "task_id_blank": "taskId不能为空",
        "action_invalid": "action参数错误",
        "content_invalid": "content参数错误",
        "task_status": "关联任务状态错误",
        "task_not_changeable": "关联任务不允许执行变化",
        "custom_id_unknown": "未知的 Action 类型",
        "reroll_unsupported": "该任务不支持重新生成",
        "face_blank": "人脸图片不能为空",
        "target_blank": "目标图片不能为空",
        "face_same": "人脸图片和目标图片不能相同",
        # trueai's wording for its length limits, extended to every limited field
        "too_long": "{Field}参数过长，最大{limit}字符",
        "not_unicode": "{Field}参数错误，不是有效的Unicode文本",
        "bad_url": "{Field}参数错误，须为不含空白的http(s)链接",
        # 2025 submissions (trueai 11.x): video, edits, retexture, describe by link
        "video_prompt_blank": "Prompt 不能为空",
        "video_task_type": "任务类型错误",
        "edit_blank": "image或prompt不能为空",
        "describe_blank": "base64或link不能为空",
        "link_format": "链接格式错误",
    },
    queued_rule="others_waiting",
    banned="reject",
    unknown_fetch="empty",
    auth_body="empty",
    schema_errors="lenient",
    error_body="spring",
    limit_errors="param",
    content_type="json",
    missing_attachment="http",
    auth_without_keys=False,
    version_label="proxy",
)

DIALECTS = {d.name: d for d in (EIGHTY_EIGHT, PROXY)}
