"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

The browser is required in CI (SAOMA_REQUIRE_BROWSER=1): a missing Chromium fails the run.
Screenshots of the main screens go to build/screenshots (or SAOMA_SCREENSHOT_DIR).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import receiver, server
from support_web import CHROMIUM, CHROMIUM_ARGS, new_page, phone

SHOTS = Path(
    os.environ.get(
        "SAOMA_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "build/screenshots"
    )
)

__all__ = ["browser", "playwright", "receiver", "server", "shots", "till", "wallet"]


@pytest.fixture(scope="session")
def playwright() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("SAOMA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium is required but missing at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: object) -> Iterator[object]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # type: ignore[attr-defined]
    yield b
    b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def till(browser: object) -> Iterator[object]:
    """A merchant's tablet at the till: its own browser context, closed after the test."""
    context, page = new_page(browser, **phone("tablet"))
    yield page
    context.close()


@pytest.fixture
def wallet(browser: object) -> Iterator[object]:
    """A consumer's phone: its own browser context, closed after the test."""
    context, page = new_page(browser, **phone())
    yield page
    context.close()
