"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

The browser is required in CI (SAOMA_REQUIRE_BROWSER=1): a missing Chromium fails the run.
Screenshots of the main screens go to build/screenshots (or SAOMA_SCREENSHOT_DIR).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import receiver, server
from support_web import new_page, phone

__all__ = ["receiver", "server", "till", "wallet"]


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
