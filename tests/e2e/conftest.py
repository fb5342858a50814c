"""Browser fixtures: Debian's Chromium driven by Playwright, a phone-sized page, a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_process import ServerProcess

# Playwright is imported only inside the fixtures and `expect` below: every pytest run collects this
# folder, and `pytest -m "not e2e"` must collect (then deselect) it on a machine without Playwright.
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Without these, Chromium keeps calling home through this machine's closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect as playwright_expect
    from playwright.sync_api import sync_playwright

    # Assertions wait as long as locators do: a sync on a loaded 2-core machine can take seconds.
    # Set here, not at import, for the reason above; every page and so every assertion needs this.
    playwright_expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "server").start()
    yield process
    process.stop()


PHONE = {
    "viewport": {"width": 360, "height": 640},
    "locale": "vi-VN",
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def phone_context(browser: Any, **options: Any) -> Any:
    """A new 360×640 phone (its own storage: IndexedDB, service worker), with ``options`` on top
    of the phone's (a time zone, say)."""
    return browser.new_context(**{**PHONE, **options})


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A 360×640 phone screen with its own storage (IndexedDB, service worker)."""
    context = phone_context(browser)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def expect(actual: Any, message: str | None = None) -> Any:
    """Playwright's `expect`, imported on first use (see the note at the top of this file)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual, message)


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
