"""Images decoded within a memory budget: the largest accepted image is accepted over HTTP, one pixel
row more is refused from its header with a message naming the field and the limit (nothing created,
nothing charged), big JPEGs are decoded reduced, and the decode budget bounds what runs at once.
(Peak and after RSS are measured by benchmarks/bench_hostile.py, not asserted here.)"""

from __future__ import annotations

import io
import math
import struct
import threading
import time
import zlib
from collections.abc import Iterator

import pytest
from PIL import Image

from mockmj.media import image_input
from mockmj.media.image_input import MAX_PIXELS, TRIM_PIXELS, DecodeBudget, decode_data_url, decoded
from tests.helpers import Client, Start, balance, data_url, mock_client, task_count

SIDE = math.isqrt(MAX_PIXELS)  # the largest square accepted


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height (no pixels): what a bomb looks like to Image.open."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def client(starter: Start) -> Iterator[Client]:
    yield from mock_client(starter, timing="manual", seed=31)


@pytest.fixture(scope="module")
def largest_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (SIDE, SIDE), (40, 90, 160, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_largest_accepted_image_is_accepted(client: Client, largest_png: bytes) -> None:
    assert SIDE * SIDE <= MAX_PIXELS < (SIDE + 1) * (SIDE + 1)
    r = client.imagine("a lighthouse", base64Array=[data_url(largest_png)])
    assert r.status_code == 200 and r.json()["code"] == 1, r.text


def test_one_pixel_more_is_refused_naming_the_field_and_the_limit(client: Client) -> None:
    tasks, credit = task_count(client), balance(client)
    r = client.imagine("a lighthouse", base64Array=[data_url(png_header(SIDE, SIDE + 1000))])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["code"] != 1
    assert "base64Array[0]" in answer["description"]
    assert f"{SIDE}x{SIDE + 1000}" in answer["description"] and "40,000,000" in answer["description"]
    assert task_count(client) == tasks and balance(client) == credit, "nothing created, nothing charged"


def test_a_big_jpeg_is_verified_reduced_and_keeps_its_true_size() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 200, 30)).save(buffer, "JPEG", quality=70)
    picture = decode_data_url(data_url(buffer.getvalue(), "image/jpeg"), "base64")
    assert (picture.format, picture.width, picture.height) == ("JPEG", 4000, 3000)
    with decoded(picture.data, max_side=1000) as small:
        assert max(small.size) >= 1000 and small.size[0] < 4000, "decoded by DCT scaling, not whole"
        assert abs(small.size[0] / small.size[1] - 4 / 3) < 0.01
    with decoded(picture.data) as whole:
        assert whole.size == (4000, 3000)


def test_a_big_png_is_box_reduced_for_rendering() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 1500), (10, 200, 30)).save(buffer, "PNG")
    with decoded(buffer.getvalue(), max_side=1000) as small:
        assert small.size == (1000, 500)


# --------------------------------------------------------------------------- the decode budget
class Holder:
    """Runs `budget.slot(pixels)` in a thread and holds it until released."""

    def __init__(self, budget: DecodeBudget, pixels: int) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(budget, pixels), daemon=True)
        self.thread.start()

    def _run(self, budget: DecodeBudget, pixels: int) -> None:
        with budget.slot(pixels):
            self.entered.set()
            self.release.wait(5)

    def done(self) -> None:
        self.release.set()
        self.thread.join(5)


def settle() -> None:
    time.sleep(0.1)  # long enough for a thread that could enter to have entered


def test_no_more_decodes_than_slots_run_at_once() -> None:
    budget = DecodeBudget(slots=2, pixels=10**9, trim=lambda: None)
    first, second = Holder(budget, 10), Holder(budget, 10)
    assert first.entered.wait(5) and second.entered.wait(5)
    third = Holder(budget, 10)
    settle()
    assert not third.entered.is_set(), "a third decode waits for a free slot"
    first.done()
    assert third.entered.wait(5)
    second.done()
    third.done()
    assert budget.peak == 2 and budget.active == 0


def test_big_decodes_wait_for_pixels_and_small_ones_run_beside_them() -> None:
    big = TRIM_PIXELS
    budget = DecodeBudget(slots=4, pixels=big + big // 2, trim=lambda: None)
    first = Holder(budget, big)
    assert first.entered.wait(5)
    second, small = Holder(budget, big), Holder(budget, 100)
    assert small.entered.wait(5), "a small image is not held up by a big one"
    settle()
    assert not second.entered.is_set(), "two big images would hold more pixels than the budget"
    first.done()
    assert second.entered.wait(5)
    second.done()
    small.done()
    assert budget.peak_pixels == big


def test_an_image_bigger_than_the_whole_budget_runs_alone() -> None:
    budget = DecodeBudget(slots=4, pixels=TRIM_PIXELS, trim=lambda: None)
    with budget.slot(TRIM_PIXELS * 10):
        assert budget.active == 1


def test_a_round_with_a_big_decode_ends_with_one_trim() -> None:
    trims: list[int] = []
    firsts: list[int] = []
    budget = DecodeBudget(slots=4, pixels=10**9, trim=lambda: trims.append(1), on_first_big=lambda: firsts.append(1))
    with budget.slot(100):
        pass
    assert trims == [] and firsts == [], "small decodes alone never trim"
    first = Holder(budget, TRIM_PIXELS)
    assert first.entered.wait(5)
    with budget.slot(100):
        pass
    assert trims == [], "not while a decode still runs"
    first.done()
    assert trims == [1] and firsts == [1]
    with budget.slot(TRIM_PIXELS):
        pass
    assert trims == [1, 1] and firsts == [1], "the mmap threshold is set once"


def test_submissions_decode_through_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    budget = DecodeBudget(slots=1, pixels=10**9, trim=lambda: None)
    monkeypatch.setattr(image_input, "BUDGET", budget)
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), (1, 2, 3)).save(buffer, "PNG")
    url = data_url(buffer.getvalue())
    threads = [threading.Thread(target=decode_data_url, args=(url, "base64")) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert budget.decodes == 6 and budget.peak == 1 and budget.active == 0
