"""An unexpected error is a 500 problem document, and the connection it came on keeps serving.

Starlette answers the error and raises it again; uvicorn then closed the connection, so a
client's next request on it was reset. A real uvicorn server in this process, with a route that
fails, on a fresh SQLite database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from saoma.bootstrap import Platform
from saoma.db import migrate
from saoma.server import create_app
from support import free_port, wait_until


@pytest.fixture
def failing_server(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'saoma.db'}"
    migrate(url)
    platform = Platform.open(url)
    app = create_app(platform, start=False)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout_s=10, what="the server to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    platform.close()


def test_an_unexpected_error_keeps_the_connection(failing_server: str) -> None:
    with httpx.Client(base_url=failing_server, timeout=10) as client:
        failed = client.get("/boom")
        assert failed.status_code == 500
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert failed.json()["type"] == "https://saoma.dev/problems/internal-error"
        fine = client.get("/healthz")
        assert fine.status_code == 200
        port = failed.extensions["network_stream"].get_extra_info("client_addr")[1]
        assert fine.extensions["network_stream"].get_extra_info("client_addr")[1] == port
