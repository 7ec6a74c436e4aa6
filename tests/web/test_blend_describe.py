"""Blend, describe and shorten over HTTP: the task each makes, the images and prompts they
really derive from their inputs, and the buttons they lead on to (PicReader, PromptAnalyzer, retry)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from PIL import ImageStat

from tests.helpers import (
    Client,
    balance,
    download,
    encoded,
    image_of,
    png_data_url,
    run,
    submit,
    task_count,
)

PER_POLL = {"seed": 13}  # the `pc` fixture's mock (conftest.py)

NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")
ASPECT = {"PORTRAIT": (2, 3), "SQUARE": (1, 1), "LANDSCAPE": (3, 2)}
URL_IN_PROMPT = re.compile(r"<(http://[^>]+)>")


# ------------------------------------------------------------------------------------------- helpers
def finished(c: Client, answer: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    assert answer["code"] == 1, answer
    seen, task = run(c, answer["result"])
    assert task["status"] == "SUCCESS", task
    return seen, task


def grid_labels(task: dict[str, Any]) -> list[str]:
    h = task["properties"]["messageHash"]
    expected = [f"MJ::JOB::upsample::{i}::{h}" for i in range(1, 5)] + [f"MJ::JOB::reroll::0::{h}::SOLO"]
    expected += [f"MJ::JOB::variation::{i}::{h}" for i in range(1, 5)]
    assert [b["customId"] for b in task["buttons"]] == expected
    return [b["label"] or b["emoji"] for b in task["buttons"]]


def four_prompts(text: str) -> list[str]:
    """'1️⃣ a\\n\\n2️⃣ b\\n\\n3️⃣ c\\n\\n4️⃣ d' → [a, b, c, d], checking the layout on the way."""
    parts = text.split("\n\n")
    assert len(parts) == 4, text
    prompts = []
    for number, part in zip(NUMBERS, parts, strict=False):
        assert part.startswith(number + " "), part
        body = part[len(number) + 1:]
        assert body.strip() == body and body and "\n" not in body, part
        prompts.append(body)
    return prompts


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def described(pc: Client) -> tuple[bytes, dict[str, Any]]:
    data, url = encoded((64, 48), (200, 30, 30))
    seen, task = finished(pc, submit(pc, "/mj/submit/describe", {"base64": url}))
    assert seen == ["SUBMITTED", "SUCCESS"]  # describe reports no progress steps
    return data, task


@pytest.fixture(scope="module")
def shortened(pc: Client) -> dict[str, Any]:
    prompt = "a beautiful highly detailed painting of a red fox sleeping in the snowy forest at dawn --ar 3:2"
    _, task = finished(pc, submit(pc, "/mj/submit/shorten", {"prompt": prompt}))
    return task


# ------------------------------------------------------------------------------------------- blend
@pytest.mark.parametrize("dimensions", ["PORTRAIT", "SQUARE", "LANDSCAPE", None])
def test_blend_of_two_makes_a_grid_of_the_asked_aspect(pc: Client, dimensions: str | None) -> None:
    body: dict[str, Any] = {"base64Array": [png_data_url(colour=(250, 120, 0)), png_data_url(colour=(20, 40, 200))]}
    if dimensions is not None:
        body["dimensions"] = dimensions
    seen, task = finished(pc, submit(pc, "/mj/submit/blend", body))
    assert "IN_PROGRESS" in seen
    assert task["action"] == "BLEND"
    assert task["description"] == f"/blend {task['id']} 2"
    assert grid_labels(task) == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
    w, h = ASPECT[dimensions or "SQUARE"]
    assert task["prompt"].endswith(f"--ar {w}:{h}")
    assert len(URL_IN_PROMPT.findall(task["prompt"])) == 2
    image = image_of(pc, task)
    assert image.width / image.height == pytest.approx(w / h, rel=0.02)
    cells = {"PORTRAIT": (1792, 2688), "SQUARE": (2048, 2048), "LANDSCAPE": (2688, 1792)}
    assert image.size == cells[dimensions or "SQUARE"]


def test_blend_of_five_uses_every_image(pc: Client) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    inputs = [encoded((40 + 8 * i, 40), colour) for i, colour in enumerate(colours)]
    _, task = finished(pc, submit(pc, "/mj/submit/blend", {"base64Array": [url for _, url in inputs],
                                                           "dimensions": "LANDSCAPE"}))
    assert task["description"] == f"/blend {task['id']} 5"
    urls = URL_IN_PROMPT.findall(task["prompt"])
    assert len(urls) == 5
    for (data, _), url in zip(inputs, urls, strict=True):
        assert download(pc, url) == (data, "image/png")  # the blended images are served back as sent
    image = image_of(pc, task)
    assert image.width / image.height == pytest.approx(3 / 2, rel=0.02)


def test_blend_really_mixes_its_inputs(pc: Client) -> None:
    means = {}
    for name, pair in {"red+blue": [(255, 0, 0), (0, 0, 255)], "green+yellow": [(0, 255, 0), (255, 255, 0)]}.items():
        body = {"base64Array": [png_data_url(colour=colour) for colour in pair]}
        _, task = finished(pc, submit(pc, "/mj/submit/blend", body))
        means[name] = ImageStat.Stat(image_of(pc, task)).mean
    r, g, b = means["red+blue"]
    assert g < 20 and r > 60 and b > 60, means  # purple-ish: no green in either input
    r, g, b = means["green+yellow"]
    assert b < 20 and g > 200 and r > 60, means  # green-yellow: no blue in either input


@pytest.mark.parametrize("count", [0, 1, 6])
def test_blend_needs_two_to_five_images(pc: Client, count: int) -> None:
    before, money = task_count(pc), balance(pc)
    r = pc.post("/mj/submit/blend", {"base64Array": [png_data_url(colour=(10 * i, 0, 0)) for i in range(count)]})
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["code"] == 21, answer
    assert "base64Array" in answer["description"]
    assert (task_count(pc), balance(pc)) == (before, money)


def test_blend_count_refusal_does_not_echo_the_images(pc: Client) -> None:
    big = png_data_url((400, 400), (1, 2, 3))
    r = pc.post("/mj/submit/blend", {"base64Array": [big] * 6})
    assert r.status_code == 400
    description = r.json()["description"]
    assert "base64Array" in description
    assert len(description) < 300, len(description)  # names the problem; the images are the client's own


def test_blend_dimensions_must_be_known(pc: Client) -> None:
    r = pc.post("/mj/submit/blend", {"base64Array": [png_data_url(), png_data_url(colour=(0, 0, 9))],
                                     "dimensions": "WIDE"})
    assert r.status_code == 400
    assert r.json()["code"] == 21
    assert "dimensions" in r.json()["description"]


# ------------------------------------------------------------------------------------------- describe
def test_describe_gives_four_prompts_for_the_image(pc: Client, described: tuple[bytes, dict[str, Any]]) -> None:
    data, task = described
    assert task["action"] == "DESCRIBE"
    assert task["description"] == f"/describe {task['id']}.png"
    assert task["prompt"] == task["promptEn"] == task["properties"]["finalPrompt"]
    prompts = four_prompts(task["prompt"])
    assert len(set(prompts)) == 4
    assert all(p.endswith("--ar 4:3") for p in prompts), prompts  # 64×48
    assert any("crimson" in p or "red" in p or "scarlet" in p for p in prompts), prompts  # it saw the colour
    assert download(pc, task["imageUrl"]) == (data, "image/png")  # the described image itself
    assert [(b["customId"], b["emoji"]) for b in task["buttons"]] == [
        ("MJ::Job::PicReader::1", "1️⃣"), ("MJ::Job::PicReader::2", "2️⃣"), ("MJ::Job::PicReader::3", "3️⃣"),
        ("MJ::Job::PicReader::4", "4️⃣"), ("MJ::Picread::Retry", "🔄"),
    ]


def test_describe_of_a_jpeg_names_it_jpg(pc: Client) -> None:
    data, url = encoded((90, 160), (30, 160, 60), "JPEG")
    _, task = finished(pc, submit(pc, "/mj/submit/describe", {"base64": url}))
    assert task["description"] == f"/describe {task['id']}.jpg"
    assert all(p.endswith("--ar 9:16") for p in four_prompts(task["prompt"]))
    assert download(pc, task["imageUrl"]) == (data, "image/jpeg")


def test_two_different_images_get_different_prompts(pc: Client, described: tuple[bytes, dict[str, Any]]) -> None:
    _, first = described
    _, url = encoded((48, 96), (20, 60, 220))
    _, second = finished(pc, submit(pc, "/mj/submit/describe", {"base64": url}))
    a, b = four_prompts(first["prompt"]), four_prompts(second["prompt"])
    assert all(p.endswith("--ar 1:2") for p in b), b
    assert not set(a) & set(b)
    assert any("blue" in p or "navy" in p or "indigo" in p for p in b), b


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_picreader_opens_an_imagine_window_with_prompt_n(
    pc: Client, described: tuple[bytes, dict[str, Any]], n: int
) -> None:
    _, task = described
    chosen = four_prompts(task["prompt"])[n - 1]
    answer = submit(pc, "/mj/submit/action", {"taskId": task["id"], "customId": f"MJ::Job::PicReader::{n}"})
    assert answer["code"] == 21, answer
    assert answer["description"] == "Waiting for window confirm"
    assert answer["properties"]["finalPrompt"] == chosen
    assert answer["properties"]["remix"] is True
    window = pc.fetch(answer["result"])
    assert (window["status"], window["action"]) == ("MODAL", "IMAGINE")

    assert submit(pc, "/mj/submit/modal", {"taskId": answer["result"]})["code"] == 1
    _, made = run(pc, answer["result"])
    assert made["status"] == "SUCCESS"
    assert made["prompt"] == chosen
    assert len(made["buttons"]) == 9


def test_describe_retry_describes_the_same_image_again(pc: Client, described: tuple[bytes, dict[str, Any]]) -> None:
    data, task = described
    seen, again = finished(pc, submit(pc, "/mj/submit/action", {"taskId": task["id"],
                                                                "customId": "MJ::Picread::Retry"}))
    assert seen == ["SUBMITTED", "SUCCESS"]
    assert again["id"] != task["id"]
    assert again["action"] == "DESCRIBE"
    assert again["description"] == f"/describe {again['id']}.png"
    assert all(p.endswith("--ar 4:3") for p in four_prompts(again["prompt"]))
    assert download(pc, again["imageUrl"]) == (data, "image/png")
    assert [b["customId"] for b in again["buttons"]] == [b["customId"] for b in task["buttons"]]


# ------------------------------------------------------------------------------------------- shorten
def test_shorten_lists_important_tokens_and_five_prompts(shortened: dict[str, Any]) -> None:
    task = shortened
    assert task["action"] == "SHORTEN"
    assert task["description"] == f"/shorten {task['prompt']}"
    assert not task["imageUrl"]
    text = task["properties"]["finalPrompt"]
    assert text.startswith("## Important tokens\n")
    head, _, tail = text.partition("\n## Shortened prompts\n")
    assert tail, text
    assert re.search(r"\*\*\w+\*\*", head), head
    parts = tail.split("\n\n")
    assert len(parts) == 5
    for number, part in zip(NUMBERS, parts, strict=True):
        assert part.startswith(number + " ") and len(part) > len(number) + 1, part
    assert "fox" in parts[-1]
    h = task["properties"]["messageHash"]
    assert [b["customId"] for b in task["buttons"]] == [
        *(f"MJ::Job::PromptAnalyzer::{h}::{i}" for i in range(1, 6)), f"MJ::Job::PromptAnalyzer::{h}::SHOW_DETAILS"]
    assert task["buttons"][-1]["label"] == "Show Details"


@pytest.mark.parametrize("n", [1, 5])
def test_prompt_analyzer_opens_an_imagine_window(pc: Client, shortened: dict[str, Any], n: int) -> None:
    tail = shortened["properties"]["finalPrompt"].partition("\n## Shortened prompts\n")[2]
    chosen = tail.split("\n\n")[n - 1].split(" ", 1)[1]
    h = shortened["properties"]["messageHash"]
    answer = submit(pc, "/mj/submit/action", {"taskId": shortened["id"],
                                              "customId": f"MJ::Job::PromptAnalyzer::{h}::{n}"})
    assert answer["code"] == 21, answer
    assert answer["properties"]["finalPrompt"] == chosen
    assert pc.fetch(answer["result"])["status"] == "MODAL"


def test_show_details_adds_weights(pc: Client, shortened: dict[str, Any]) -> None:
    h = shortened["properties"]["messageHash"]
    _, task = finished(pc, submit(pc, "/mj/submit/action", {
        "taskId": shortened["id"], "customId": f"MJ::Job::PromptAnalyzer::{h}::SHOW_DETAILS"}))
    assert task["action"] == "SHORTEN"
    assert task["description"] == f"/up {shortened['id']} Show Details"
    text = task["properties"]["finalPrompt"]
    assert "## Shortened prompts" in text
    assert re.search(r"█+ \w+ \(1\.00\)", text), text
