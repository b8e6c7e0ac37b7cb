"""What the benchmarks share: percentiles, a free port, a `saoma serve` process to measure, a
merchant signed up over the API and its webhook endpoint."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from saoma import signing
from saoma.client import MerchantClient
from saoma.db import make_engine
from saoma.kyc.service import approve_directly

# Each server's database: the bench's shops are approved there (they take more than a merchant
# may before its business details are approved).
DATABASES: dict[str, str] = {}
QUIET = Path(__file__).with_name("quiet.py")


@contextmanager
def scratch_postgres(server_url: str, prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database on ``server_url`` for one run (its URL), dropped after it."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    database_url: str, log: Path, under: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``saoma serve`` on a free port over ``database_url``, once it answers /healthz. Run by
    the command ``under`` when one is given (valgrind's), with its pollers by the clock quiet
    (``bench/quiet.py``), so that what is measured is what requests cost."""
    port = free_port()
    # The bench's webhook receivers listen on 127.0.0.1.
    env = dict(
        os.environ,
        SAOMA_DATABASE_URL=database_url,
        SAOMA_SANDBOX_BANK_DELAY_S="0.01",
        SAOMA_ALLOW_PRIVATE_WEBHOOKS="1",
    )
    if under:
        env["PYTHONHASHSEED"] = "0"  # the same dictionaries' layouts, run after run
    proc = subprocess.Popen(
        [*under, sys.executable, str(QUIET), "serve", "--port", str(port)]
        if under
        else [sys.executable, "-m", "saoma.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(3000 if under else 600):
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                DATABASES[url] = database_url
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])


def sign_up_shop(
    url: str, name: str, webhook_url: str = "", timeout: float = 10.0
) -> MerchantClient:
    """A merchant signed up over the API, with a fresh key: its signing client."""
    key = signing.new_private_key()
    r = httpx.post(
        url + "/v1/merchants",
        json={
            "login": f"bench-{secrets.token_hex(4)}@example.cn",
            "password": "bench-password",
            "name": name,
            "city": "Shenzhen",
            "webhook_url": webhook_url,
            "public_key": base64.b64encode(signing.public_key_bytes(key)).decode(),
        },
        timeout=timeout,
    )
    r.raise_for_status()
    approve(DATABASES[url], r.json()["merchant"]["id"])
    return MerchantClient(url, key_id=r.json()["key_id"], private_key=key, timeout=timeout)


def approve(database_url: str, merchant_id: str) -> None:
    """Approve a bench shop's business details directly in its server's database."""
    engine = make_engine(database_url, pool_size=1)
    try:
        approve_directly(engine, merchant_id, by="bench")
    finally:
        engine.dispose()


class Receiver:
    """A merchant's webhook endpoint: stamps each ``payment.succeeded`` on CLOCK_MONOTONIC (one
    clock for every process on the machine) under the event's ``key`` field; keeps connections
    alive as a merchant's web server would."""

    def __init__(self, key: str = "merchant_order_no") -> None:
        self.arrived: dict[str, float] = {}
        self.other = 0
        self.lock = threading.Lock()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/hook"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                at = time.monotonic()
                event = json.loads(body)
                with receiver.lock:
                    if event["type"] == "payment.succeeded":
                        receiver.arrived[event["data"][key]] = at
                    else:
                        receiver.other += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
