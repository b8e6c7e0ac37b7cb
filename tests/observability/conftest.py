"""A server that writes JSON log lines, on SQLite and PostgreSQL, and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Server, receiver, serve_module

__all__ = ["receiver"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"observed-{request.param}")
    yield from serve_module(request, tmp, SAOMA_LOG_FORMAT="json")
