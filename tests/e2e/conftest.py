"""Browser fixtures: Debian's Chromium driven by Playwright, a phone-sized page, a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.server_process import ServerProcess

CHROMIUM = "/usr/bin/chromium"
# Assertions wait as long as locators do: a sync on a loaded 2-core machine can take seconds.
expect.set_options(timeout=15_000)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Without these, Chromium keeps calling home through this machine's closed network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "server").start()
    yield process
    process.stop()


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A 360×640 phone screen with its own storage (IndexedDB, service worker)."""
    context = browser.new_context(viewport={"width": 360, "height": 640}, locale="vi-VN",
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
