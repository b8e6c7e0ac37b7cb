"""Mini-programs over HTTP: a server process that allows services on this machine (as the demo
does), merchants with their signing keys, payers, and the operator's approval by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from saoma import signing
from saoma.demo_apps.launch import BIKE
from support import (
    Server,
    Shop,
    _database,
    assert_books_hold,
    free_port,
    wait_until,
)

ICON_SVG = BIKE.icon_svg  # the demo bike's, as the wallet's Services list shows it
ICON = BIKE.icon


EXPECT_MS, EXPECT_DEFAULT_MS = 30_000, 5_000
START_S_MAX = 120  # a machine shared by many test runs starts a server slowly, not wrongly


class PatientServer(Server):
    """``saoma serve`` given the time a loaded machine needs to import and migrate."""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "saoma.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            try:
                return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout_s=START_S_MAX, what=f"the server to start ({self.log})")


def start_local_server(database_url: str, tmp: Path, name: str = "server") -> Server:
    """A server process like ``support.start_server``'s that lets a service on this machine
    register (SAOMA_ALLOW_PRIVATE_WEBHOOKS, as the demo does)."""
    port = free_port()
    environ = dict(os.environ) | {
        "SAOMA_DATABASE_URL": database_url,
        "SAOMA_SANDBOX_BANK_DELAY_S": "0.01",
        "SAOMA_POOL_SIZE": "4",
        "SAOMA_MAX_IN_FLIGHT": "200",
        "SAOMA_WORKING_MAX": "200",
        "SAOMA_OPS_KEY_FILE": str(tmp / f"{name}-ops.key"),
        "SAOMA_AUDIT_HEAD_FILE": str(tmp / f"{name}-audit-head.log"),
        "SAOMA_KYC_KEY_FILE": str(tmp / f"{name}-kyc.key"),
        "SAOMA_DATA_DIR": str(tmp / f"{name}-data"),
        "SAOMA_ALLOW_PRIVATE_WEBHOOKS": "1",
    }
    url = f"http://127.0.0.1:{port}"
    srv = PatientServer(url, database_url, tmp / f"{name}.log", environ, port)
    srv.start()
    return srv


def serve_local(kind: str, tmp: Path) -> Iterator[Server]:
    for database_url in _database(kind, tmp):
        srv = start_local_server(database_url, tmp)
        try:
            yield srv
        finally:
            srv.stop()
        assert_books_hold(database_url)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def local_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server over a fresh database of each kind; the books are checked when it stops."""
    yield from serve_local(request.param, tmp_path_factory.mktemp(f"mini-{request.param}"))


def register(shop: Shop, origin: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Shekou Bikes",
        "name_zh": "蛇口共享单车",
        "icon": ICON,
        "origin": origin,
        "scopes": ["profile.masked_name"],
    } | fields
    result: dict[str, Any] = shop.client.request("POST", "/v1/mini-programs", body)
    return result


def approve(server: Server, mini_program_id: str) -> subprocess.CompletedProcess[str]:
    """What the operator types: ``saoma approve-mini-program <id>``."""
    return subprocess.run(
        [sys.executable, "-m", "saoma.cli", "approve-mini-program", mini_program_id],
        env=server.env | {"SAOMA_DATABASE_URL": server.database_url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=os.getcwd(),
    )


def start_demo_app(
    name: str, saoma: Server, shop: Shop, port: int, tmp: Path, **key_fields: str
) -> subprocess.Popen[bytes]:
    """``python -m saoma.demo_apps.<name>`` on ``port``, signing with ``shop``'s key."""
    key_file = tmp / f"{name}-key.json"
    key = {
        "key_id": shop.client.key_id,
        "private_key": signing.private_key_to_b64(shop.client.private_key),
    } | key_fields
    key_file.write_text(json.dumps(key))
    service = subprocess.Popen(
        [
            *(sys.executable, "-m", f"saoma.demo_apps.{name}", "--port", str(port)),
            *("--saoma-url", saoma.url, "--key-file", str(key_file)),
        ],
        stdout=(tmp / f"{name}.log").open("ab"),
        stderr=subprocess.STDOUT,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout_s=START_S_MAX, what=f"the {name} server to start")
    return service


@pytest.fixture
def wallet(browser: Any) -> Iterator[Any]:
    """A payer's phone: its own browser context, closed after the test."""
    from support_web import new_page, phone

    context, page = new_page(browser, **phone())
    yield page
    context.close()


@pytest.fixture
def patient() -> Iterator[None]:
    """A machine shared by many test runs answers slowly: wait longer, assert the same things."""
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_MS)
    try:
        yield
    finally:
        expect.set_options(timeout=EXPECT_DEFAULT_MS)
