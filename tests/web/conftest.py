"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

The browser is required in CI (SAOMA_REQUIRE_BROWSER=1): a missing Chromium fails the run.
Screenshots of the main screens go to build/screenshots (or SAOMA_SCREENSHOT_DIR).

The pages' server runs over SQLite: a page calls the same API whichever database is behind it,
and that API's own tests (tests/api and the packages' tests) run on both databases. The main
tour of the pages (test_pages.py) runs on PostgreSQL as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Server, receiver, serve_module
from support_web import new_page, phone

__all__ = ["receiver", "server", "till", "wallet"]


@pytest.fixture(scope="module", params=["sqlite"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server process over a fresh SQLite database; books and authorisations are checked at
    the end."""
    yield from serve_module(request, tmp_path_factory.mktemp(f"server-{request.param}"))


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
