"""The dashboard in a real browser (Chromium through Playwright) against a real mock on loopback: a task
watched from submitted to SUCCESS with its image shown, the clock advanced from the page, a rule added
and deleted, the control token sent, 1,000 tasks paged, and a screenshot that is not blank."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageStat

from mockmj.config import AccountConfig
from mockmj.model.masking import masked
from mockmj.serve.inprocess import MockServer
from tests.browser import chromium, chromium_path, images_loaded, page_in
from tests.helpers import Client, reset_client, running_mock, submit

if chromium_path() is None and not os.environ.get("CI"):
    pytest.skip("no chromium on this machine (.ci/run installs it; CI fails instead of skipping)",
                allow_module_level=True)

VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shared() -> Iterator[MockServer]:
    yield from running_mock(timing="manual", seed=11)


@pytest.fixture
def c(shared: MockServer) -> Client:
    return reset_client(shared)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with page_in(browser, VIEWPORT) as opened:
        yield opened


def card(page: Any, task_id: str) -> Any:
    return page.locator(f"[data-task-id='{task_id}']")


def test_a_task_goes_from_submitted_to_success_with_its_image_shown(c: Client, page: Any) -> None:
    page.goto(c.base + "/_mockmj/ui")
    page.locator("#advance").wait_for(state="visible")  # manual timing: the advance buttons are shown
    task_id = submit(c, "/mj/submit/imagine", {"prompt": "a red fox in the snow --ar 3:2"})["result"]
    card(page, task_id).wait_for()
    assert card(page, task_id).get_attribute("data-status") == "NOT_START"
    before = c.control("GET", "/clock")["now"]
    page.click("[data-testid=advance-1]")
    page.wait_for_selector(f"[data-task-id='{task_id}'][data-status=SUBMITTED]")
    page.click("[data-testid=advance-5]")
    page.wait_for_selector(f"[data-task-id='{task_id}'][data-status=IN_PROGRESS]")
    page.click("[data-testid=advance-60]")
    page.wait_for_selector(f"[data-task-id='{task_id}'][data-status=SUCCESS]")
    assert c.control("GET", "/clock")["now"] == before + 66_000  # three clicks, three advances
    images_loaded(page, f"[data-task-id='{task_id}'] img", 1)
    image_url = card(page, task_id).locator("img").get_attribute("src")
    assert image_url == c.fetch(task_id)["imageUrl"]

    card(page, task_id).click()
    page.wait_for_selector("[data-testid=task-page][data-status=SUCCESS]")
    images_loaded(page, "[data-testid=task-image]", 1)
    width = page.eval_on_selector("[data-testid=task-image]", "img => img.naturalWidth / img.naturalHeight")
    assert abs(width - 3 / 2) < 0.02
    assert f'"id": "{task_id}"' in page.inner_text("[data-testid=raw-json]")
    assert page.locator("[data-testid=timeline] tr").count() >= 10  # header, transitions, a poll
    u1 = next(b["customId"] for b in c.fetch(task_id)["buttons"] if b["label"] == "U1")
    child = submit(c, "/mj/submit/action", {"taskId": task_id, "customId": u1})["result"]
    page.wait_for_selector(f"[data-testid=children] a[href='#task/{child}']")


def test_a_rule_is_added_and_deleted_from_the_page(c: Client, page: Any) -> None:
    page.goto(c.base + "/_mockmj/ui#rules")
    page.select_option("[data-testid=rule-operation]", "submitImagine")
    page.fill("[data-testid=rule-prompt]", "forbidden fruit")
    page.fill("[data-testid=rule-code]", "24")
    page.fill("[data-testid=rule-description]", "queue full (forced)")
    page.fill("[data-testid=rule-times]", "2")
    page.click("[data-testid=rule-add]")
    page.wait_for_selector("[data-testid=rules] [data-testid=rule-delete]")
    (rule,) = c.control("GET", "/rules")
    assert rule["match"] == {"operation": "submitImagine", "prompt": "forbidden fruit"}
    assert rule["respond"] == {"code": 24, "description": "queue full (forced)"} and rule["remaining"] == 2
    forced = c.post("/mj/submit/imagine", {"prompt": "a forbidden fruit"}).json()
    assert (forced["code"], forced["description"]) == (24, "queue full (forced)")
    page.wait_for_function("() => document.querySelector('[data-testid=rules]').innerText.includes('\\t1\\t1')")
    page.click("[data-testid=rule-add]")  # the form was emptied after the add: a rule that says nothing
    page.wait_for_function("() => document.querySelector('[data-testid=rule-error]').textContent.length > 0")
    assert "respond must say what to do" in page.inner_text("[data-testid=rule-error]")
    assert len(c.control("GET", "/rules")) == 1  # refused, not added
    page.click("[data-testid=rule-delete]")
    page.wait_for_selector("[data-testid=rules]", state="detached")
    assert c.control("GET", "/rules") == []


def test_a_balance_is_set_and_an_account_disabled_from_the_page(c: Client, page: Any) -> None:
    c.imagine("a key comes into being")  # any-key mode: the key exists once used
    page.goto(c.base + "/_mockmj/ui#keys")
    page.wait_for_selector("[data-testid=keys]")
    page.fill("[data-testid=balance-key]", "test-key")
    page.fill("[data-testid=balance-value]", "0")
    page.click("[data-testid=balance-set]")
    page.wait_for_function("() => document.querySelector('[data-testid=keys]').innerText.includes('\\t0\\t')")
    assert c.control("GET", "/keys/test-key")["balance"] == 0
    assert c.imagine("no credit left").json()["code"] == 25  # the balance set in the page is the mock's
    with page.expect_response(lambda r: "/_mockmj/accounts/" in r.url and r.request.method == "PATCH") as sent:
        page.uncheck("[data-testid=account-enabled]")
    assert sent.value.status == 200
    (account,) = c.control("GET", "/accounts")
    assert account["enabled"] is False


def test_the_control_token_is_sent_and_asked_for(c: Client, page: Any) -> None:
    sent: list[tuple[str, str | None]] = []

    def record(route: Any) -> None:
        # read where the request is held (a route), not from the page's "request" event: that event's headers
        # once came without the token, for requests the page had sent with it, just after a route was removed
        request = route.request
        if "/_mockmj/ui" not in request.url:
            sent.append((request.url, request.headers.get("x-mockmj-control-token")))
        route.continue_()

    page.route("**/_mockmj/**", record)
    page.goto(c.base + "/_mockmj/ui?token=first-token")
    page.wait_for_selector("[data-testid=task-count]")
    page.wait_for_timeout(1200)  # one poll more
    assert sent and all(token == "first-token" for _, token in sent), sent
    assert "token" not in page.url  # not left in the address bar

    def refuse_the_old_token(route: Any) -> None:
        # every poll until the new token is in use is refused, so the bar stays up until it is saved (a poll
        # let through with the old token meanwhile would hide it again)
        if route.request.headers.get("x-mockmj-control-token") == "second-token":
            route.continue_()
        else:
            route.fulfill(status=401, content_type="application/json",
                          body='{"error": "X-MockMJ-Control-Token required"}')

    page.route("**/_mockmj/tasks?*", refuse_the_old_token)
    page.locator("#token-bar").wait_for(state="visible")
    page.fill("[data-testid=token-input]", "second-token")
    page.click("[data-testid=token-save]")
    page.locator("#token-bar").wait_for(state="hidden")
    page.unroute("**/_mockmj/tasks?*")
    sent.clear()
    page.wait_for_timeout(1200)
    assert sent and all(token == "second-token" for _, token in sent), sent


def test_a_mock_with_a_control_token_loads_the_page_and_asks_for_the_token(make_server: Any, page: Any) -> None:
    # the real thing: the page and its files load without the token, every data call needs it
    c = Client(make_server(timing="manual", seed=5, control_token="real-token"))
    c.imagine("a guarded cat")
    page.goto(c.base + "/_mockmj/ui")
    page.locator("#token-bar").wait_for(state="visible")  # the mock answered 401: the page asks
    page.fill("[data-testid=token-input]", "real-token")
    page.click("[data-testid=token-save]")
    page.locator("#token-bar").wait_for(state="hidden")
    page.wait_for_function("() => document.body.innerText.includes('a guarded cat')")


def test_a_thousand_tasks_are_paged_and_filtered(make_server: Any, page: Any) -> None:
    # one account that runs a thousand jobs at once: no task waits in a queue
    c = Client(make_server(timing="manual", seed=5, accounts=[AccountConfig(core_size=1000, queue_size=0)]))
    other = Client(c.server, key="the-other-key")
    for n in range(1000):
        who = other if n % 10 == 0 else c
        assert who.imagine(f"prompt number {n}").json()["code"] == 1
    page.goto(c.base + "/_mockmj/ui")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=task-card]').length === 100")
    assert page.inner_text("[data-testid=task-count]") == "100 shown of 1000"
    assert "prompt number 999" in page.locator("[data-testid=task-card]").first.inner_text()
    page.click("[data-testid=more]")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=task-card]').length === 200")
    page.select_option("[data-testid=filter-key]", masked("the-other-key"))  # keys are listed masked
    page.wait_for_function("() => document.querySelector('[data-testid=task-count]').innerText === '100 shown of 100'")
    assert page.locator("[data-testid=more]").is_hidden()
    page.fill("[data-testid=filter-q]", "number 990")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=task-card]').length === 1")
    # one task more than a read looks at (once the others are done: the account runs a thousand at most): the
    # count line says that only the latest were
    c.advance(600)
    assert c.imagine("prompt number 1000").json()["code"] == 1
    page.fill("[data-testid=filter-q]", "")
    page.select_option("[data-testid=filter-key]", "")
    page.wait_for_function("() => document.querySelector('[data-testid=task-count]').innerText === "
                           "'100 shown of 1000 (the latest 1,000 of 1,001 tasks looked at)'")


def test_screenshot_of_a_grid_an_upscale_and_a_failure_is_not_blank(c: Client, page: Any) -> None:
    grid = submit(c, "/mj/submit/imagine", {"prompt": "a lighthouse at dusk --ar 3:2"})["result"]
    c.post("/mj/submit/imagine", {"prompt": "a castle in the clouds"}, headers={"X-MockMJ-Outcome": "fail"})
    c.advance(60)
    u2 = next(b["customId"] for b in c.fetch(grid)["buttons"] if b["label"] == "U2")
    submit(c, "/mj/submit/action", {"taskId": grid, "customId": u2})
    c.advance(60)
    page.goto(c.base + "/_mockmj/ui")
    images_loaded(page, "[data-testid=thumb]", 2)
    assert page.locator("[data-status=FAILURE]").count() == 1
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    assert shot.size == (VIEWPORT["width"], VIEWPORT["height"])
    colours = shot.resize((320, 200)).getcolors(maxcolors=64_000) or []
    assert len(colours) > 200  # pictures and text, not one flat colour
    box = page.locator("[data-testid=thumb]").first.bounding_box()
    thumb = shot.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"])))
    assert max(ImageStat.Stat(thumb).stddev) > 20  # the thumbnail shows a picture, not a blank box
