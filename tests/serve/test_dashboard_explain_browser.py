"""The dashboard explains every request, checked in a real Chromium against a real mock on loopback: a journal
entry opens to its request (key masked), response and rule with a link to its task; refused submissions and rule
hits are marked and filtered; findings are listed; rules, the journal or everything are cleared from the page;
a banner shows while rules are active; a stalled task is marked; emoji buttons read as words; and the screenshots
show no horizontal overflow and every control inside the viewport."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageStat

from mockmj.serve.inprocess import MockServer
from tests.browser import chromium_path, launched_chromium, page_in
from tests.helpers import Client, running_mock, submit

if chromium_path() is None and not os.environ.get("CI"):
    pytest.skip("no chromium on this machine (.ci/run installs it; CI fails instead of skipping)",
                allow_module_level=True)

VIEWPORT = {"width": 1280, "height": 800}
KEY = "sk-rich-0123456789"


browser = pytest.fixture(scope="module", name="browser")(launched_chromium)


@pytest.fixture(scope="module")
def shared() -> Iterator[MockServer]:
    yield from running_mock(timing="manual", seed=12)


@pytest.fixture
def c(shared: MockServer) -> Client:
    client = Client(shared, key=KEY)
    client.control("POST", "/reset", {})
    client.control("DELETE", "/rules")
    return client


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with page_in(browser, VIEWPORT) as opened:
        yield opened


def shot(page: Any) -> Image.Image:
    picture = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    assert picture.size == (VIEWPORT["width"], VIEWPORT["height"])
    return picture


def assert_laid_out(page: Any, selectors: list[str]) -> None:
    """No horizontal scrolling, and each element shown, with a size, inside the viewport's width."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    for selector in selectors:
        element = page.locator(selector).first
        assert element.is_visible(), selector
        box = element.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"], (selector, box)


def crop(picture: Image.Image, box: dict[str, float]) -> Image.Image:
    return picture.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"])))


def test_a_journal_entry_opens_to_its_request_response_rule_and_task(c: Client, page: Any) -> None:
    rule = c.control("POST", "/rules", {"match": {"prompt": "forbidden"}, "respond": {"code": 24, "httpStatus": 429},
                                        "times": 1})
    accepted = submit(c, "/mj/submit/imagine", {"prompt": "a quiet harbour"})["result"]
    forced = c.imagine("a forbidden fruit").json()
    assert forced["code"] == 24
    page.goto(c.base + "/_mockmj/ui#journal")
    rows = page.locator("[data-testid=journal-row]")
    rows.first.wait_for()
    assert rows.count() == 2
    newest = rows.first  # newest first: the forced one
    assert newest.locator("[data-testid=mark-refused]").is_visible()
    assert newest.locator("[data-testid=mark-rule]").inner_text() == f"rule {rule['id']}"
    newest.click()
    detail = page.locator("[data-testid=entry-detail]")
    detail.wait_for()
    text = detail.inner_text()
    assert "Bearer sk-r…6789" in text and KEY not in text  # the key, masked
    assert '"prompt": "a forbidden fruit"' in page.inner_text("[data-testid=entry-request-body]")
    assert page.inner_text("[data-testid=entry-status]") == "HTTP 429"
    assert '"code": 24' in page.inner_text("[data-testid=entry-response-body]")
    assert "Retry-After" in text
    rule_text = page.inner_text("[data-testid=entry-rule]")
    assert rule["id"] in rule_text and '"forbidden"' in rule_text
    picture = shot(page)
    assert_laid_out(page, ["[data-testid=entry-detail]", "[data-testid=journal]", "[data-testid=reset-all]",
                           "[data-testid=clear-journal]"])
    assert max(ImageStat.Stat(crop(picture, detail.bounding_box())).stddev) > 20  # text drawn, not a blank panel
    list_box, detail_box = page.locator(".journal-list").bounding_box(), detail.bounding_box()
    assert list_box["x"] + list_box["width"] <= detail_box["x"]  # side by side, not overlapping
    table_box = page.locator("[data-testid=journal]").bounding_box()
    assert table_box["x"] + table_box["width"] <= list_box["x"] + list_box["width"] + 1  # the table fits its column

    rows.nth(1).click()  # the accepted submission: no rule, a task to open
    page.wait_for_selector(f"[data-testid=entry-detail][data-seq='{rows.nth(1).get_attribute('data-seq')}']")
    assert "No rule matched" in page.inner_text("[data-testid=entry-rule]")
    page.click("[data-testid=entry-task]")
    page.wait_for_selector(f"[data-testid=task-page] >> text={accepted}")
    assert page.url.endswith(f"#task/{accepted}")


def test_refused_submissions_and_rule_hits_are_filtered(c: Client, page: Any) -> None:
    c.control("POST", "/rules", {"match": {"prompt": "ruled"}, "respond": {"outcome": "fail"}})
    submit(c, "/mj/submit/imagine", {"prompt": "ruled but accepted"})
    submit(c, "/mj/submit/imagine", {"prompt": "plain"})
    assert c.post("/mj/submit/imagine", {"prompt": ""}).json()["code"] != 1  # refused: no prompt
    page.goto(c.base + "/_mockmj/ui#journal")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=journal-row]').length === 3")
    only = """([mark, other]) => {
        const rows = [...document.querySelectorAll('[data-testid=journal-row]')];
        return rows.length === 1 && rows[0].querySelector(`[data-testid=${mark}]`) !== null
          && rows[0].querySelector(`[data-testid=${other}]`) === null;
      }"""
    page.select_option("[data-testid=journal-show]", "refused")
    page.wait_for_function(only, arg=["mark-refused", "mark-rule"])  # the empty prompt, which no rule answered
    page.select_option("[data-testid=journal-show]", "rules")
    page.wait_for_function(only, arg=["mark-rule", "mark-refused"])  # the outcome rule's hit, accepted
    page.select_option("[data-testid=journal-show]", "all")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=journal-row]').length === 3")


def test_a_banner_shows_while_rules_are_active_and_the_page_clears_rules_journal_and_everything(
        c: Client, page: Any) -> None:
    task_id = submit(c, "/mj/submit/imagine", {"prompt": "kept until the reset"})["result"]
    page.goto(c.base + "/_mockmj/ui")
    page.locator(f"[data-task-id='{task_id}']").wait_for()
    assert page.locator("[data-testid=rules-banner]").is_hidden()
    c.control("POST", "/rules", {"respond": {"latencyMs": 1}})
    page.locator("[data-testid=rules-banner]").wait_for(state="visible")
    assert "1 control rule is active" in page.inner_text("[data-testid=rules-banner]")
    assert_laid_out(page, ["[data-testid=rules-banner]", "[data-testid=banner-clear-rules]", "[data-testid=reset-all]"])
    page.click("[data-testid=banner-clear-rules]")
    page.locator("[data-testid=rules-banner]").wait_for(state="hidden")
    assert c.control("GET", "/rules") == []

    page.click("[data-testid=clear-journal-nav]")
    page.wait_for_function("async () => (await (await fetch('/_mockmj/requests')).json()).items.length === 0")
    assert c.fetch(task_id)["id"] == task_id  # the journal only: the task stays

    page.click("[data-testid=reset-all]")  # the first click only asks
    assert "Click again" in page.inner_text("[data-testid=reset-all]")
    assert c.control("GET", "/health")["tasks"] == 1
    page.click("[data-testid=reset-all]")
    page.wait_for_selector(f"[data-task-id='{task_id}']", state="detached")
    assert c.control("GET", "/health")["tasks"] == 0


def test_findings_are_listed(c: Client, page: Any) -> None:
    for _ in range(3):  # the same refused body, sent again unchanged
        assert c.post("/mj/submit/imagine", {"prompt": ""}).json()["code"] != 1
    page.goto(c.base + "/_mockmj/ui#findings")
    page.wait_for_selector("[data-testid=findings]")
    text = page.inner_text("[data-testid=findings]")
    assert "repeated-refused-submission" in text and "POST /mj/submit/imagine" in text
    assert_laid_out(page, ["[data-testid=findings]"])
    c.control("POST", "/reset", {})
    page.wait_for_selector("[data-testid=findings-empty]")


def test_a_stalled_task_is_marked(c: Client, page: Any) -> None:
    stuck = submit(c, "/mj/submit/imagine", {"prompt": "stops half way --mockmj stuck"})["result"]
    fine = submit(c, "/mj/submit/imagine", {"prompt": "finishes"})["result"]
    page.goto(c.base + "/_mockmj/ui")
    page.locator(f"[data-task-id='{stuck}']").wait_for()
    assert page.locator("[data-stalled]").count() == 0
    c.advance(120)
    page.wait_for_selector(f"[data-task-id='{stuck}'][data-stalled]")
    page.wait_for_selector(f"[data-task-id='{fine}'][data-status=SUCCESS]")
    assert page.locator(f"[data-task-id='{fine}'][data-stalled]").count() == 0
    assert "plans no further step" in page.locator(f"[data-task-id='{stuck}'] [data-testid=stalled]").inner_text()
    page.locator(f"[data-task-id='{stuck}']").click()
    page.wait_for_selector("[data-testid=task-page] [data-testid=stalled]")


def test_emoji_buttons_read_as_words_and_the_grid_fits(c: Client, page: Any) -> None:
    task_id = submit(c, "/mj/submit/imagine", {"prompt": "a lighthouse"})["result"]
    c.advance(120)
    running = submit(c, "/mj/submit/imagine", {"prompt": "half way"})["result"]
    c.advance(5)
    assert c.fetch(running)["status"] == "IN_PROGRESS"  # the longest status badge
    assert any(b["emoji"] == "🔄" for b in c.fetch(task_id)["buttons"])
    page.goto(c.base + "/_mockmj/ui")
    chips = page.locator(f"[data-task-id='{task_id}'] .chip")
    page.wait_for_function(f"() => document.querySelectorAll(\"[data-task-id='{task_id}'] .chip\").length >= 9")
    labels = chips.all_inner_texts()
    assert "Reroll" in labels
    assert all(label.isascii() and label.strip() for label in labels), labels  # no glyph left to draw as a box
    picture = shot(page)
    reroll = chips.nth(labels.index("Reroll")).bounding_box()
    drawn = crop(picture, reroll).convert("L")
    assert drawn.getextrema()[0] < 120  # dark text pixels inside the chip: the word was drawn
    assert_laid_out(page, [f"[data-task-id='{task_id}']", "[data-testid=clear-rules]", "[data-testid=reset-all]"])
    card = page.locator(f"[data-task-id='{running}']").bounding_box()
    status = page.locator(f"[data-task-id='{running}'] [data-testid=status]").bounding_box()
    assert status["x"] + status["width"] <= card["x"] + card["width"]  # the status badge is not cut by its card
