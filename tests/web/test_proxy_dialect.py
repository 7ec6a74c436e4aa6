"""The proxy dialect over HTTP: every upstream message reached through its real trigger."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Client, png_data_url


@pytest.fixture
def proxy(make_server: Any) -> Client:
    return Client(make_server(dialect="proxy", timing="manual", seed=3), key=None)


def submit(c: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = c.post(path, body)
    assert r.status_code == 200, r.text
    return r.json()


def finished_imagine(c: Client, prompt: str = "a cat") -> dict[str, Any]:
    answer = submit(c, "/mj/submit/imagine", {"prompt": prompt})
    assert answer["code"] == 1, answer
    return c.finish(answer["result"])


def test_accepted_submission_speaks_upstream(proxy: Client) -> None:
    answer = submit(proxy, "/mj/submit/imagine", {"prompt": "a cat"})
    assert answer["code"] == 1
    assert answer["description"] == "提交成功"
    assert isinstance(answer["result"], str) and len(answer["result"]) == 16
    assert answer["properties"]["discordInstanceId"] == answer["properties"]["discordChannelId"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/mj/submit/imagine", {"prompt": "  "}, "prompt不能为空"),
        ("/mj/submit/imagine", {}, "prompt不能为空"),
        ("/mj/submit/imagine", {"prompt": "cat", "base64Array": ["aGVsbG8="]}, "base64格式错误"),
        ("/mj/submit/describe", {"base64": ""}, "base64或link不能为空"),  # trueai: base64 or link
        ("/mj/submit/describe", {"base64": "not a data url"}, "base64格式错误"),
        ("/mj/submit/blend", {"base64Array": []}, "base64List参数错误"),
        ("/mj/submit/blend", {"base64Array": [png_data_url()] * 6}, "base64List参数错误"),
        ("/mj/submit/blend", {"base64Array": [png_data_url(), png_data_url()], "dimensions": None},
         "dimensions参数错误"),
        ("/mj/submit/change", {"taskId": "", "action": "UPSCALE", "index": 1}, "taskId不能为空"),
        ("/mj/submit/change", {"taskId": "1717200000000001", "action": "DESCRIBE"}, "action参数错误"),
        ("/mj/submit/simple-change", {"content": "1717200000000001 X1"}, "content参数错误"),
        ("/mj/submit/simple-change", {"content": "1717200000000001  U1"}, "content参数错误"),
        ("/mj/submit/simple-change", {"content": "1717200000000001 U5"}, "content参数错误"),
        ("/mj/insight-face/swap", {"targetBase64": png_data_url()}, "人脸图片不能为空"),
        ("/mj/insight-face/swap", {"sourceBase64": png_data_url(), "targetBase64": ""}, "目标图片不能为空"),
        ("/mj/insight-face/swap", {"sourceBase64": png_data_url(), "targetBase64": png_data_url()},
         "人脸图片和目标图片不能相同"),
    ],
)
def test_validation_errors_are_code_4_with_exact_messages(proxy: Client, path: str, body: dict[str, Any],
                                                         message: str) -> None:
    answer = submit(proxy, path, body)
    assert (answer["code"], answer["description"], answer["result"]) == (4, message, None)
    assert proxy.get("/mj/task/list").json() == []


def test_unknown_parent_is_code_3(proxy: Client) -> None:
    answer = submit(proxy, "/mj/submit/change", {"taskId": "1717200000000001", "action": "UPSCALE", "index": 1})
    assert (answer["code"], answer["description"]) == (3, "关联任务不存在或已失效")


def test_parent_not_finished_is_task_status_error(proxy: Client) -> None:
    task_id = submit(proxy, "/mj/submit/imagine", {"prompt": "cat"})["result"]
    answer = submit(proxy, "/mj/submit/change", {"taskId": task_id, "action": "UPSCALE", "index": 2})
    assert (answer["code"], answer["description"]) == (4, "关联任务状态错误")


def test_upscaled_parent_may_not_change(proxy: Client) -> None:
    grid = finished_imagine(proxy)
    upscale = submit(proxy, "/mj/submit/change", {"taskId": grid["id"], "action": "UPSCALE", "index": 2})
    assert upscale["code"] == 1
    assert proxy.finish(upscale["result"])["description"] == f"/up {grid['id']} U2"
    again = submit(proxy, "/mj/submit/change", {"taskId": upscale["result"], "action": "VARIATION", "index": 1})
    assert (again["code"], again["description"]) == (4, "关联任务不允许执行变化")


def test_no_enabled_account_is_code_3(proxy: Client) -> None:
    account = proxy.control("GET", "/accounts")[0]["instanceId"]
    proxy.control("PATCH", f"/accounts/{account}", {"enabled": False})
    answer = submit(proxy, "/mj/submit/imagine", {"prompt": "cat"})
    assert (answer["code"], answer["description"]) == (3, "无可用的账号实例")


def test_disabled_account_of_parent_is_named(proxy: Client) -> None:
    grid = finished_imagine(proxy)
    account = grid["properties"]["discordInstanceId"]
    proxy.control("PATCH", f"/accounts/{account}", {"enabled": False})
    answer = submit(proxy, "/mj/submit/change", {"taskId": grid["id"], "action": "REROLL"})
    assert (answer["code"], answer["description"]) == (3, f"账号不可用: {account}")


def test_queue_codes_follow_the_executor(proxy: Client) -> None:
    codes = [submit(proxy, "/mj/submit/imagine", {"prompt": f"cat {i}"}) for i in range(13)]
    # 3 run, the 4th is the first to wait (upstream still answers 1: nobody was waiting before it)
    assert [a["code"] for a in codes[:4]] == [1, 1, 1, 1]
    for ahead, answer in enumerate(codes[4:], start=1):
        assert answer["code"] == 22
        assert answer["description"] == f"排队中，前面还有{ahead}个任务"
        assert answer["properties"]["numberOfQueues"] == ahead
    full = submit(proxy, "/mj/submit/imagine", {"prompt": "one too many"})
    assert (full["code"], full["description"], full["result"]) == (23, "队列已满，请稍后尝试", None)
    assert full["properties"]["discordInstanceId"]
    assert len(proxy.get("/mj/task/list").json()) == 13  # the refused task is not kept


def test_system_error_code_9(proxy: Client) -> None:
    proxy.control("POST", "/rules", {"match": {"operation": "submitImagine"}, "respond": {"code": 9}, "times": 1})
    answer = submit(proxy, "/mj/submit/imagine", {"prompt": "cat"})
    assert (answer["code"], answer["description"]) == (9, "提交失败，系统异常")


def test_banned_word_refused_at_submit(proxy: Client) -> None:
    answer = submit(proxy, "/mj/submit/imagine", {"prompt": "A Bloody battlefield --ar 16:9"})
    assert (answer["code"], answer["description"], answer["result"]) == (24, "可能包含敏感词", None)
    assert answer["properties"] == {"promptEn": "A Bloody battlefield --ar 16:9", "bannedWord": "Bloody"}


def test_chinese_prompt_is_translated_and_checked_in_english(proxy: Client) -> None:
    task = finished_imagine(proxy, "一只可爱的猫在花园 --ar 3:2")
    assert task["prompt"] == "一只可爱的猫在花园 --ar 3:2"
    assert task["promptEn"] == "a cute cat on garden --ar 3:2"
    banned = submit(proxy, "/mj/submit/imagine", {"prompt": "血腥的战场"})
    assert banned["code"] == 24
    assert banned["properties"]["bannedWord"] == "gore"


def test_modal_is_code_21(proxy: Client) -> None:
    grid = finished_imagine(proxy)
    up = submit(proxy, "/mj/submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    upscaled = proxy.finish(up["result"])
    region = next(b for b in upscaled["buttons"] if b["label"] == "Vary (Region)")  # a window in every version
    answer = submit(proxy, "/mj/submit/action", {"taskId": upscaled["id"], "customId": region["customId"]})
    assert (answer["code"], answer["description"]) == (21, "Waiting for window confirm")
    assert answer["properties"]["remix"] is True
    assert proxy.fetch(answer["result"])["status"] == "MODAL"
    assert proxy.post(f"/mj/task/{answer['result']}/cancel").json()["code"] == 1
    cancelled = proxy.fetch(answer["result"])
    assert (cancelled["status"], cancelled["failReason"]) == ("CANCEL", "取消任务")


def test_http_400_is_springs_error_json(proxy: Client) -> None:
    bad_json = proxy.http.post(proxy.base + "/mj/submit/imagine", data=b"{oops",
                               headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert set(bad_json.json()) == {"timestamp", "status", "error", "path"}
    assert bad_json.json()["error"] == "Bad Request"
    bad_enum = proxy.post("/mj/submit/blend", {"base64Array": [png_data_url()] * 2, "dimensions": "WIDE"})
    assert bad_enum.status_code == 400 and bad_enum.json()["path"] == "/mj/submit/blend"


def test_unknown_task_fetch_is_200_with_empty_body(proxy: Client) -> None:
    r = proxy.get("/mj/task/1717200000000999/fetch")
    assert (r.status_code, r.content) == (200, b"")


def test_auth_only_when_a_secret_is_configured(make_server: Any) -> None:
    open_proxy = Client(make_server(dialect="proxy"), key=None)
    assert open_proxy.post("/mj/submit/imagine", {"prompt": "cat"}).json()["code"] == 1
    locked = make_server(dialect="proxy", api_keys=["s3cret"])
    anonymous = Client(locked, key=None)
    r = anonymous.post("/mj/submit/imagine", {"prompt": "cat"})
    assert (r.status_code, r.content) == (401, b"")
    wrong = anonymous.post("/mj/submit/imagine", {"prompt": "cat"}, headers={"mj-api-secret": "nope"})
    assert (wrong.status_code, wrong.content) == (401, b"")
    right = anonymous.post("/mj/submit/imagine", {"prompt": "cat"}, headers={"mj-api-secret": "s3cret"})
    assert right.json()["code"] == 1
    bearer = Client(locked, key="s3cret").post("/mj/submit/imagine", {"prompt": "cat"})
    assert bearer.json()["code"] == 1


def test_failure_reasons(proxy: Client) -> None:
    timeout = submit(proxy, "/mj/submit/imagine", {"prompt": "cat --mockmj timeout"})["result"]
    proxy.advance(400)
    task = proxy.fetch(timeout)
    assert (task["status"], task["failReason"], task["progress"]) == ("FAILURE", "任务超时", "")
    prompt = "cat --mockmj fail:[Invalid parameter] Unknown parameter zz"
    refused = submit(proxy, "/mj/submit/imagine", {"prompt": prompt})
    proxy.advance(60)
    assert proxy.fetch(refused["result"])["failReason"] == "[Invalid parameter] Unknown parameter zz"


def test_simple_change_parses_like_upstream(proxy: Client) -> None:
    grid = finished_imagine(proxy)
    # only the character after U/V counts: "U12" is U1
    answer = submit(proxy, "/mj/submit/simple-change", {"content": f"{grid['id']} U12"})
    assert answer["code"] == 1
    assert proxy.fetch(answer["result"])["description"] == f"/up {grid['id']} U1"
    reroll = submit(proxy, "/mj/submit/simple-change", {"content": f"{grid['id']} r"})
    child = proxy.finish(reroll["result"])
    assert (child["action"], child["description"]) == ("REROLL", f"/up {grid['id']} R")
    assert child["properties"]["referencedMessageId"] == grid["properties"]["messageId"]


def test_shorten_lists_and_prefixes(proxy: Client) -> None:
    shorten = submit(proxy, "/mj/submit/shorten", {"prompt": "a very beautiful detailed portrait of a red fox"})
    task = proxy.finish(shorten["result"])
    assert task["action"] == "SHORTEN"
    assert task["description"] == "/shorten a very beautiful detailed portrait of a red fox"
    assert "## Shortened prompts" in task["properties"]["finalPrompt"]
    assert "5️⃣" in task["properties"]["finalPrompt"]
    fast = submit(proxy, "/mj-fast/mj/submit/imagine", {"prompt": "fast cat"})["result"]
    relax = submit(proxy, "/mj-relax/mj/submit/imagine", {"prompt": "relaxed cat"})["result"]
    assert proxy.get(f"/mj-turbo/mj/task/{fast}/fetch").json()["properties"]["mode"] == "FAST"
    assert proxy.fetch(relax)["properties"]["mode"] == "RELAX"
    listed = proxy.get("/mj/task/list").json()
    times = [t["submitTime"] for t in listed]
    assert times == sorted(times, reverse=True) and {fast, relax} <= {t["id"] for t in listed}
    queue = proxy.get("/mj/task/queue").json()
    assert [t["submitTime"] for t in queue] == sorted(t["submitTime"] for t in queue)
    assert {fast, relax} <= {t["id"] for t in queue}
    by_ids = proxy.post("/mj/task/list-by-ids", {"ids": [fast, int(relax)]}).json()
    assert {t["id"] for t in by_ids} == {fast, relax}


def test_image_seed_is_a_string(proxy: Client) -> None:
    grid = finished_imagine(proxy)
    answer = proxy.get(f"/mj/task/{grid['id']}/image-seed").json()
    assert (answer["code"], answer["description"]) == (1, "成功")
    assert isinstance(answer["result"], str) and answer["result"].isdigit()


def test_button_errors_speak_upstream(proxy: Client) -> None:
    grid = finished_imagine(proxy)
    other = finished_imagine(proxy, "a dog")
    foreign = other["buttons"][0]["customId"]
    answer = submit(proxy, "/mj/submit/action", {"taskId": grid["id"], "customId": foreign})
    assert (answer["code"], answer["description"]) == (4, "未知的 Action 类型")
    describe = submit(proxy, "/mj/submit/describe", {"base64": png_data_url()})
    described = proxy.finish(describe["result"])
    reroll = submit(proxy, "/mj/submit/change", {"taskId": described["id"], "action": "REROLL"})
    assert (reroll["code"], reroll["description"]) == (4, "关联任务不允许执行变化")
    no_index = submit(proxy, "/mj/submit/change", {"taskId": grid["id"], "action": "UPSCALE", "index": None})
    assert (no_index["code"], no_index["description"]) == (4, "参数错误")


def test_forbidden_and_rate_limited_answers_are_springs_json(make_server: Any) -> None:
    locked = Client(make_server(dialect="proxy", api_keys=["k1"]), key="k1")  # strict: answers match the spec
    locked.control("PATCH", "/keys/k1", {"allowedOperations": ["fetchTask"]})
    forbidden = locked.post("/mj/submit/imagine", {"prompt": "cat"})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "Forbidden" and forbidden.json()["path"] == "/mj/submit/imagine"
    locked.control("PATCH", "/keys/k1", {"allowedOperations": None, "rateLimit": 0.001})
    assert locked.post("/mj/submit/imagine", {"prompt": "cat"}).json()["code"] == 1
    limited = locked.post("/mj/submit/imagine", {"prompt": "cat"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["status"] == 429
