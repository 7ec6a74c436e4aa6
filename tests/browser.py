"""A real Chromium for the dashboard's tests and its screenshot in the docs: Debian's `chromium` (Playwright's
own browser download is not used), driven by Playwright for Python."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """MOCKMJ_CHROMIUM, else `chromium` on PATH (Debian's package installs /usr/bin/chromium)."""
    return os.environ.get("MOCKMJ_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium found: install Debian's chromium or set MOCKMJ_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def images_loaded(page: Any, selector: str, count: int, timeout_ms: int = 20_000) -> None:
    """Wait until `count` images matching `selector` have loaded real pixels."""
    page.wait_for_function(
        """([selector, count]) => {
             const images = [...document.querySelectorAll(selector)];
             return images.filter((i) => i.complete && i.naturalWidth > 0).length >= count;
           }""",
        arg=[selector, count], timeout=timeout_ms)


@contextmanager
def page_in(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    """A page in a fresh context; a script error on it fails the test that used it."""
    context = browser.new_context(viewport=viewport)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    context.close()
    assert errors == [], errors  # no script error on any page of the test


def launched_chromium() -> Iterator[Any]:
    """A module's browser, as a fixture: `browser = pytest.fixture(scope="module")(launched_chromium)`."""
    with chromium() as launched:
        yield launched
