"""Helpers for the tests: a real server process, parties, a webhook receiver, an in-process
platform built the way ``saoma serve`` builds one, and waiting on a condition."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from saoma import signing
from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform, build
from saoma.client import ConsumerClient, MerchantClient
from saoma.config import get_settings
from saoma.db import make_engine
from saoma.funding.bank import BankConnector
from saoma.kyc.service import approve_directly
from saoma.ledger import Transfer, TransferCode
from saoma.ledger.check import check_ledger
from saoma.ledger.tx import Tx
from saoma.merchants.service import Merchant
from saoma.messaging.connector import SandboxMessenger
from saoma.wallets.service import Consumer

POSTGRES_SERVER_URL = os.environ.get(
    "SAOMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("SAOMA_REQUIRE_POSTGRES") == "1"

PASSWORD = "correct horse battery"
PIN = "246810"


def fresh_key() -> dict[str, str]:
    """An Idempotency-Key header with a new key: every request that moves or reserves money needs
    one (tests that are not about idempotency send a fresh one per request)."""
    return {"idempotency-key": secrets.token_hex(16)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    database_url: str
    log: Path
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "saoma.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, timeout_s=90, what="the server to start")
        except AssertionError:
            raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}") from None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'saoma.db'}"
        return
    server = make_url(POSTGRES_SERVER_URL)
    name = f"saoma_api_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
        pytest.skip("PostgreSQL unreachable")
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def start_server(database_url: str, tmp: Path, name: str = "server", **env: str) -> Server:
    """A `saoma serve` process over ``database_url``, with settings in ``env`` over the tests'."""
    port = free_port()
    environ = dict(os.environ)
    environ.update(
        SAOMA_DATABASE_URL=database_url, SAOMA_SANDBOX_BANK_DELAY_S="0.01", SAOMA_POOL_SIZE="4"
    )
    # The race tests send 50 requests at once to see a rule hold, not the server's limits of work
    # under way (tests/api/test_overload.py sees those, with limits of its own).
    environ.update(SAOMA_MAX_IN_FLIGHT="200", SAOMA_WORKING_MAX="200")
    # The operators' key and the audit head file of this server's database, not the project's.
    environ.update(
        SAOMA_OPS_KEY_FILE=str(tmp / f"{name}-ops.key"),
        SAOMA_AUDIT_HEAD_FILE=str(tmp / f"{name}-audit-head.log"),
        SAOMA_KYC_KEY_FILE=str(tmp / f"{name}-kyc.key"),
    )
    environ.update(env)
    srv = Server(f"http://127.0.0.1:{port}", database_url, tmp / f"{name}.log", environ, port)
    srv.start()
    return srv


def assert_books_hold(database_url: str, *, authorisations: bool = True) -> None:
    """The books add up and (unless told otherwise) every wallet debit rests on the payer's
    authorisation."""
    engine = make_engine(database_url)
    try:
        report = check_ledger(engine)
        assert report.ok, report.problems
        if authorisations:
            problems = check_authorisations(engine)
            assert not problems, problems
    finally:
        engine.dispose()


def serve_module(
    request: pytest.FixtureRequest, tmp: Path, kind: str = "", **env: str
) -> Iterator[Server]:
    """A server process over a fresh database of the fixture's kind (or ``kind``), for a
    module; books and authorisations are checked when it stops."""
    for database_url in _database(kind or request.param, tmp):
        srv = start_server(database_url, tmp, **env)
        try:
            yield srv
        finally:
            srv.stop()
        assert_books_hold(database_url)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server process over a fresh database; books and authorisations are checked at the end."""
    yield from serve_module(request, tmp_path_factory.mktemp(f"server-{request.param}"))


def server_with(name: str, **env: str) -> Any:
    """A module's ``server`` fixture on both databases, with settings ``env`` of its own."""

    @pytest.fixture(scope="module", params=["sqlite", "postgres"])
    def server(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Server]:
        yield from serve_module(request, tmp_path_factory.mktemp(f"{name}-{request.param}"), **env)

    return server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def sandbox_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose sandboxes answer over the API as in demo mode (the messenger's codes, the
    bank's statements, settling on demand)."""
    tmp = tmp_path_factory.mktemp(f"sandbox-{request.param}")
    yield from serve_module(request, tmp, SAOMA_SANDBOX_MESSAGES_VISIBLE="1")


@dataclass
class Shop:
    client: MerchantClient
    id: str
    webhook_secret: str
    token: str
    login: str


@dataclass
class Payer:
    client: ConsumerClient
    id: str
    login: str


_ENGINES: dict[str, Any] = {}


def engine_of(database_url: str) -> Any:
    """One engine per database for the helpers that reach into a server's database."""
    if database_url not in _ENGINES:
        _ENGINES[database_url] = make_engine(database_url, pool_size=2)
    return _ENGINES[database_url]


def approved(platform: Platform, merchant: Merchant) -> Merchant:
    """``merchant`` with its business details approved: the suites' shops take more than a
    merchant may before approval."""
    approve_directly(platform.engine, merchant.id)
    return merchant


def signed_headers(
    client: MerchantClient,
    method: str,
    path: str,
    content: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    key: Ed25519PrivateKey | None = None,
) -> dict[str, str]:
    """The headers that sign this request with the merchant's key id: now, a fresh nonce and
    the merchant's own private key unless told otherwise."""
    headers: dict[str, str] = signing.sign_request(
        key or client.private_key,
        client.key_id,
        method,
        path,
        content,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        nonce=nonce,
    )
    return headers


def new_merchant(server: Server, *, webhook_url: str = "", name: str = "Old Chen Noodles") -> Shop:
    key = signing.new_private_key()
    login = f"shop-{secrets.token_hex(4)}@example.cn"
    response = httpx.post(
        server.url + "/v1/merchants",
        json={
            "login": login,
            "password": PASSWORD,
            "name": name,
            "name_zh": "老陈面馆",
            "city": "Shenzhen",
            "category_code": "5814",
            "webhook_url": webhook_url,
            "public_key": base64.b64encode(signing.public_key_bytes(key)).decode(),
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    approve_directly(engine_of(server.database_url), body["merchant"]["id"])
    client = MerchantClient(server.url, key_id=body["key_id"], private_key=key)
    return Shop(client, body["merchant"]["id"], body["webhook_secret"], body["token"], login)


def new_consumer(server: Server, *, balance: int = 0, pin: str | None = PIN) -> Payer:
    client = ConsumerClient(server.url)
    login = f"+86139{secrets.randbelow(10**8):08d}"
    body = client.sign_up(login, PASSWORD, "Li Wei")
    if pin:
        client.set_pin(pin, password=PASSWORD)
    if balance:
        client.top_up(balance)
        wait_for(lambda: client.me()["balance"] == balance, what="the top-up to settle")
    return Payer(client, body["consumer"]["id"], login)


def code_sent_to(database_url: str, to: str) -> str:
    """The last one-time code the sandbox messenger sent to ``to``, as its owner reads it."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            body = conn.execute(
                text(
                    "SELECT body FROM sandbox_messages WHERE recipient = :to"
                    " ORDER BY created_at_us DESC LIMIT 1"
                ),
                {"to": to},
            ).scalar_one()
    finally:
        engine.dispose()
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def verify_login(server: Server, client: ConsumerClient, login: str) -> dict[str, Any]:
    """Type the code the sandbox sent to ``login`` into the wallet signed in with ``client``."""
    code = code_sent_to(server.database_url, login)
    result: dict[str, Any] = client.request(
        "POST", "/v1/me/identifiers/verify", {"identifier": login, "code": code}
    )
    return result


def wait_until(
    predicate: Callable[[], object], *, timeout_s: float = 10.0, what: str = "a condition"
) -> float:
    """Poll ``predicate`` until it is true and return the seconds that took; fail after
    ``timeout_s`` naming ``what``. A test waits on the thing it needs, never for a fixed time:
    a loaded machine is slower, not wrong."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def wait_for(
    check: Callable[[], object], *, timeout: float = 10.0, what: str = "a condition"
) -> None:
    """:func:`wait_until` under the name the HTTP tests call it by."""
    wait_until(check, timeout_s=timeout, what=what)


def funded_payer(platform: Platform, balance: int) -> Consumer:
    """A consumer with the PIN set and ``balance`` fen in the wallet, straight from the bank
    clearing account (no top-up instruction: the tests are about what the money does next)."""
    consumer = platform.wallets.sign_up(f"+86139{secrets.randbelow(10**8):08d}", PASSWORD)
    platform.wallets.set_pin(consumer.id, PIN, password=PASSWORD, old_pin=None)
    if balance:
        top_up = Transfer(
            f"fund-{consumer.id}",
            platform.payments.bank_account,
            consumer.account_id,
            balance,
            TransferCode.TOP_UP,
        )
        platform.ledger.create_transfers([top_up])
    return consumer


def lose_the_next_commit(
    platform: Platform, meanwhile: Callable[[], None] | None = None
) -> list[int]:
    """The next batch runs its hooks, then its COMMIT is lost (``meanwhile`` happens elsewhere
    before the ledger learns it): the ledger retries each request of it alone. Returns a list
    that counts the lost commits (one once it happened)."""
    store = platform.ledger.store
    original = store.apply_batch
    lost: list[int] = []

    def apply_batch(
        transfers: list[Transfer], raw: Any, before_commit: Any = None, *rest: Any
    ) -> Any:
        store.apply_batch = original  # type: ignore[method-assign]

        def hooks_then_lost(tx: Tx, results: Any) -> None:
            if before_commit is not None:
                before_commit(tx, results)
            lost.append(1)
            raise ConnectionError("the connection was lost at COMMIT")

        try:
            return original(transfers, raw, hooks_then_lost, *rest)
        finally:
            if meanwhile is not None:
                meanwhile()

    store.apply_batch = apply_batch  # type: ignore[method-assign]
    return lost


HELD_WAIT_S = 10.0


class Held:
    """The ledger held on a batch of its own: see :func:`one_batch`."""

    def __init__(self) -> None:
        self.queued = threading.Semaphore(0)
        self.sizes: list[int] = []  # the transfers of each batch applied, in turn

    def wait_for(self, n: int) -> None:
        for _ in range(n):
            assert self.queued.acquire(timeout=HELD_WAIT_S)


@contextmanager
def one_batch(platform: Platform) -> Iterator[Held]:
    """Hold the ledger on a batch of its own while the block queues requests behind it (wait for
    them with ``Held.wait_for``), so that they are taken as one batch when the block ends."""
    store, submit = platform.ledger.store, platform.ledger.submit
    original = store.apply_batch
    go, started = threading.Event(), threading.Event()
    held = Held()

    def apply_batch(transfers: list[Any], *args: Any, **kw: Any) -> Any:
        if not started.is_set():
            started.set()
            assert go.wait(HELD_WAIT_S)
        else:
            held.sizes.append(len(transfers))
        return original(transfers, *args, **kw)

    def counted(*args: Any, **kwargs: Any) -> Any:
        reply = submit(*args, **kwargs)
        held.queued.release()
        return reply

    store.apply_batch = apply_batch  # type: ignore[method-assign]
    platform.ledger.submit = counted  # type: ignore[method-assign]
    try:
        first = submit([a_fen_moved(platform, "warm")], hook=lambda tx, results: None)
        assert started.wait(HELD_WAIT_S)
        yield held
        go.set()
        first.result()
    finally:
        go.set()
        store.apply_batch = original  # type: ignore[method-assign]
        del platform.ledger.submit


def a_fen_moved(platform: Platform, tag: str) -> Transfer:
    """A transfer of 1 fen between the platform's own accounts (its id begins with ``tag``):
    a movement that touches nobody's money."""
    return Transfer(
        f"{tag}-{secrets.token_hex(6)}",
        platform.payments.bank_account,
        platform.payments.fees_account,
        1,
        TransferCode.TOP_UP,
    )


def lose_the_next_answer(platform: Platform) -> list[int]:
    """The next batch commits, then the answer to its COMMIT is lost (the connection breaks as
    the server replies): the ledger retries each request of it alone, and finds its transfers
    there. Returns a list that counts the lost answers (one once it happened)."""
    store = platform.ledger.store
    original = store.apply_batch
    lost: list[int] = []

    def apply_batch(*args: Any) -> Any:
        store.apply_batch = original  # type: ignore[method-assign]
        original(*args)
        lost.append(1)
        raise ConnectionError("the connection was lost as the COMMIT was answered")

    store.apply_batch = apply_batch  # type: ignore[method-assign]
    return lost


@dataclass
class Wiring:
    """What the ``platform`` fixture builds with besides the test's database: a test module
    that needs its own bank, messenger or settings overrides the ``wiring`` fixture."""

    bank: BankConnector | None = None
    messenger: SandboxMessenger | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    check_authorisations: bool = True  # at the end, as well as the books


def open_platform(database_url: str, wiring: Wiring | None = None) -> Platform:
    """The services over an already migrated database, wired as ``saoma serve`` wires them (the
    background threads are not started: a test drives maintenance itself)."""
    wiring = wiring or Wiring()
    # As start_server's: races of 50 requests at once see their rule, not the admission limits.
    settings = get_settings().model_copy(
        update={"max_in_flight": 200, "working_max": 200}
        | {"database_url": database_url, **wiring.settings}
    )
    return build(settings, bank=wiring.bank, messenger=wiring.messenger)


@dataclass
class Receiver:
    """A merchant's webhook endpoint: records every delivery; can be told to fail."""

    url: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, event_type: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = [json.loads(d["body"]) for d in self.deliveries if d["status"] == 200]
        return [i for i in items if event_type is None or i["type"] == event_type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    rec = Receiver(f"http://127.0.0.1:{port}/hooks")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with rec.lock:
                status = 500 if rec.fail_next > 0 else 200
                rec.fail_next = max(0, rec.fail_next - 1)
                rec.deliveries.append(
                    {
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "status": status,
                        "at": time.time(),
                    }
                )
            self.send_response(status)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    httpd = _Listening(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield rec
    httpd.shutdown()


class _Listening(ThreadingHTTPServer):
    """A receiver with a web server's backlog of connections waiting to be accepted, not
    socketserver's 5: sixteen delivery threads connecting at once overflowed that."""

    request_queue_size = 128


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: the browser tests' Playwright keeps an event loop
    running on the main thread for the whole session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
