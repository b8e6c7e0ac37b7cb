"""Webhook targets: public addresses only, at registration and again when each delivery connects.

These tests run a server with SAOMA_ALLOW_PRIVATE_WEBHOOKS off (the other tests turn it on so
their receivers on 127.0.0.1 are reached). No traffic goes to any address but the loopback.
"""

from __future__ import annotations

import datetime
import http.client
import io
import ipaddress
import secrets
import socketserver
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from saoma import targets
from saoma.config import Settings
from saoma.core.errors import SaomaError
from saoma.merchants.service import check_webhook_url
from support import (
    PASSWORD,
    PIN,
    Receiver,
    Server,
    Shop,
    _database,
    free_port,
    new_consumer,
    new_merchant,
    receiver,
    start_server,
    wait_for,
)

__all__ = ["receiver"]

INTERNAL = [
    "http://127.0.0.1/",
    "http://10.0.0.1/hooks",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "https://192.168.1.20:8443/",
    "http://172.16.0.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/",
    "http://100.64.0.1/",
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def strict_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server that refuses internal webhook targets, as in production."""
    tmp = tmp_path_factory.mktemp(f"strict-{request.param}")
    for database_url in _database(request.param, tmp):
        srv = start_server(database_url, tmp, SAOMA_ALLOW_PRIVATE_WEBHOOKS="0")
        try:
            yield srv
        finally:
            srv.stop()


def test_the_address_rule() -> None:
    internal = "127.0.0.1 10.1.2.3 ::1 169.254.169.254 fc00::1 fe80::1 ff02::1 224.0.0.251"
    for text in (internal + " 0.0.0.0 :: ::ffff:10.0.0.1 100.64.0.1").split():
        assert targets.why_not_public(ipaddress.ip_address(text)), text
    for text in ("93.184.216.34", "2606:4700::1111", "8.8.8.8"):
        assert targets.why_not_public(ipaddress.ip_address(text)) == "", text


def test_registration_refuses_internal_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "private_allowed", lambda: False)
    for url in INTERNAL:
        with pytest.raises(SaomaError) as refused:
            check_webhook_url(url, "notify_url")
        assert refused.value.field == "notify_url", url
    assert check_webhook_url("https://shop.example.cn/hooks") == "https://shop.example.cn/hooks"
    monkeypatch.setattr(targets, "private_allowed", lambda: True)
    assert check_webhook_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/"


def refused_by_a_shops_routes(shop: Shop, url: str) -> None:
    """``url`` is refused as the shop's webhook and as an order's notify_url, naming the field."""
    for method, path, body, field in (
        ("PUT", "/v1/merchant/webhook", {"url": url}, "url"),
        (
            "POST",
            "/v1/orders",
            {"merchant_order_no": "N-1", "amount": 100, "notify_url": url},
            "notify_url",
        ),
    ):
        response = shop.client.http.request(
            method,
            path,
            json=body,
            headers={
                "authorization": f"Bearer {shop.token}",
                "idempotency-key": secrets.token_hex(8),
            },
        )
        assert response.status_code == 422, (url, path, response.text)
        assert response.json()["field"] == field


def test_every_way_to_register_a_url_refuses_internal_ones(strict_server: Server) -> None:
    shop = new_merchant(strict_server)
    for url in INTERNAL:
        signed_up = httpx.post(
            strict_server.url + "/v1/merchants",
            json={
                "login": f"shop-{secrets.token_hex(4)}@example.cn",
                "password": PASSWORD,
                "name": "Old Chen Noodles",
                "city": "Shenzhen",
                "webhook_url": url,
            },
        )
        assert signed_up.status_code == 422, (url, signed_up.text)
        assert signed_up.json()["field"] == "webhook_url"
        assert "public" in signed_up.json()["detail"]
        refused_by_a_shops_routes(shop, url)
    assert shop.client.me()["webhook_url"] == ""  # nothing changed
    # A public name is accepted (it is checked again when a delivery resolves it).
    shop.client.request("PUT", "/v1/merchant/webhook", {"url": "https://hooks.example.cn/in"})
    assert shop.client.me()["webhook_url"] == "https://hooks.example.cn/in"


UNREACHABLE = [
    "https://hooks.example.cn:99999/in",
    "https://hooks.example.cn:abc/in",
    "https://hooks.example.cn:0/in",
    "https://\u00e9" + "a" * 70 + ".example.cn/in",
]


def test_every_way_to_register_a_url_refuses_one_no_delivery_could_send(
    strict_server: Server,
) -> None:
    shop = new_merchant(strict_server)
    for url in UNREACHABLE:
        refused_by_a_shops_routes(shop, url)
    assert shop.client.me()["webhook_url"] == ""
    # An international name is fine: deliveries send it in its IDNA form.
    shop.client.request("PUT", "/v1/merchant/webhook", {"url": "https://\u4f8b\u5b50.cn/in"})
    assert shop.client.me()["webhook_url"] == "https://\u4f8b\u5b50.cn/in"


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    strict_server: Server, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    shop = new_merchant(strict_server, webhook_url=f"http://localhost:{port}/hooks")
    payer = new_consumer(strict_server, balance=1_000)
    order = shop.client.create_order("DNS-1", 100)
    payer.client.pay_order(order["id"], PIN, idempotency_key=secrets.token_hex(8))

    def refused_attempt() -> bool:
        events = shop.client.request("GET", "/v1/merchant/webhook-deliveries")["data"]
        return bool(events and events[0]["attempts"])

    wait_for(refused_attempt, what="the delivery attempt")
    (event,) = shop.client.request("GET", "/v1/merchant/webhook-deliveries")["data"]
    attempt = event["attempts"][0]
    assert attempt["status_code"] == 0 and event["state"] == "pending"
    assert attempt["error"].startswith("refused: localhost resolves to ")
    assert "loopback" in attempt["error"]
    assert receiver.deliveries == []  # nothing was sent


def test_the_connection_goes_to_the_address_checked(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once per connection; that answer is checked and connected to, with
    the URL's name kept in the Host header (and for TLS, the SNI and certificate check)."""
    port = int(receiver.url.split(":")[2].split("/")[0])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[targets.IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(targets, "resolve", rebinding)
    url = f"http://hooks.shop.example:{port}/hooks"
    strict = targets.Sender(5, allow_private=False)
    with pytest.raises(targets.TargetRefused, match=r"127\.0\.0\.1 \(loopback\)"):
        strict.post(url, b"{}", {})
    assert receiver.deliveries == []
    lenient = targets.Sender(5, allow_private=True)
    try:
        assert lenient.post(url, b"{}", {"content-type": "application/json"}) == 200
    finally:
        lenient.close()
    assert asked == ["hooks.shop.example", "hooks.shop.example"]
    assert receiver.deliveries[0]["headers"]["host"] == f"hooks.shop.example:{port}"


class _OneAnswerEach(socketserver.BaseRequestHandler):
    """Answers one request on each connection as if it were kept alive, then closes it: what a
    receiver does when it drops idle connections."""

    connections: ClassVar[list[int]] = []

    def handle(self) -> None:
        self.connections.append(1)
        received = b""
        while b"\r\n\r\n" not in received:
            received += self.request.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        lengths = [
            v
            for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
            if k.lower() == b"content-length"
        ]
        length = int(lengths[0])
        while len(body) < length:
            body += self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def test_a_kept_connection_the_receiver_closed_is_opened_again() -> None:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _OneAnswerEach) as closing:
        threading.Thread(target=closing.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{closing.server_address[1]}/hooks"
        sender = targets.Sender(5, allow_private=True)
        try:
            statuses = [sender.post(url, b'{"n": %d}' % n, {}) for n in range(3)]
            wait_for(lambda: len(_OneAnswerEach.connections) == 3, what="three connections")
        finally:
            sender.close()
            closing.shutdown()
    assert statuses == [204, 204, 204]


def test_a_receiver_that_is_not_there_is_an_error_not_a_crash() -> None:
    sender = targets.Sender(2, allow_private=True)
    port = free_port()
    with pytest.raises(OSError):
        sender.post(f"http://127.0.0.1:{port}/hooks", b"{}", {})
    with pytest.raises(OSError, match="not an http"):
        sender.post("ftp://127.0.0.1/hooks", b"{}", {})


def test_one_internal_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]
    monkeypatch.setattr(targets, "resolve", lambda host, port: answers)
    with pytest.raises(targets.TargetRefused, match=r"10\.0\.0\.7 \(private\)"):
        targets.checked_addresses("shop.example", 443, allow_private=False)


def test_demo_mode_and_the_setting_allow_internal_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    for demo, allow, allowed in ((False, False, False), (True, False, True), (False, True, True)):
        settings = Settings(demo=demo, allow_private_webhooks=allow)
        monkeypatch.setattr(targets, "get_settings", lambda s=settings: s)
        assert targets.private_allowed() is allowed


def _certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_a_tls_receiver_is_checked_against_the_urls_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over TLS the connection goes to the checked address, and the certificate must be the
    URL's name's: a receiver showing another name's certificate gets nothing."""
    cert_file, key_file = _certificate(tmp_path, "hooks.shop.example")
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert_file, key_file)
    seen: list[str] = []

    class Hooks(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            seen.append(self.headers["host"])
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    https = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    https.socket = served.wrap_socket(https.socket, server_side=True)
    threading.Thread(target=https.serve_forever, daemon=True).start()
    port = https.server_address[1]
    monkeypatch.setattr(targets, "resolve", lambda host, port: [ipaddress.ip_address("127.0.0.1")])
    trusting = ssl.create_default_context(cafile=str(cert_file))
    sender = targets.Sender(5, allow_private=True, ssl_context=trusting)
    try:
        assert sender.post(f"https://hooks.shop.example:{port}/in", b"{}", {}) == 200
        assert sender.post(f"https://hooks.shop.example:{port}/in", b"{}", {}) == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            sender.post(f"https://other.shop.example:{port}/in", b"{}", {})
    finally:
        sender.close()
        https.shutdown()
    assert seen == [f"hooks.shop.example:{port}"] * 2


class _Scripted(socketserver.BaseRequestHandler):
    """Answers every request on a connection with ``answer`` (raw bytes), keeping the connection
    until the client closes it or ``close_after`` is set; counts connections."""

    answer: ClassVar[bytes] = b""
    close_after: ClassVar[bool] = False
    connections: ClassVar[list[int]] = []

    def handle(self) -> None:
        self.connections.append(1)
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, pending = pending.partition(b"\r\n\r\n")
            length = next(
                int(v)
                for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                if k.lower() == b"content-length"
            )
            while len(pending) < length:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                pending += chunk
            pending = pending[length:]
            self.request.sendall(self.answer)
            if self.close_after:
                return


@pytest.mark.parametrize(
    ("answer", "close_after", "status", "connections"),
    [
        # A body of a known length: the connection is kept for the next delivery.
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False, 200, 1),
        # Names in any case, and of a repeated length the first counts (3 would wait for more).
        (
            b"HTTP/1.1 202 Accepted\r\ncontent-LENGTH: 2\r\nContent-Length: 3\r\n\r\nok",
            False,
            202,
            1,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            False,
            200,
            1,
        ),
        # Interim answers before the answer: a 100 Continue, a 103 Early Hints.
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", False, 204, 1),
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            False,
            204,
            1,
        ),
        # The receiver says it closes (it keeps the connection open all the same), or answers
        # HTTP/1.0 without keep-alive, or gives no length: a new connection each time.
        (b"HTTP/1.1 500 Oops\r\nCONNECTION: Close\r\nContent-Length: 0\r\n\r\n", False, 500, 2),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False, 200, 2),
        (b"HTTP/1.0 200 OK\r\n\r\nold server", True, 200, 2),
    ],
)
def test_answers_are_read_as_http_says(
    answer: bytes, close_after: bool, status: int, connections: int
) -> None:
    _Scripted.answer, _Scripted.close_after, _Scripted.connections = answer, close_after, []
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Scripted) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        sender = targets.Sender(5, allow_private=True)
        try:
            assert [sender.post(url, b'{"n": %d}' % n, {}) for n in range(2)] == [status] * 2
        finally:
            sender.close()
            server.shutdown()
    assert len(_Scripted.connections) == connections


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
    ],
)
def test_an_answer_past_http_clients_limits_is_an_error_not_a_crash(answer: bytes) -> None:
    _Scripted.answer, _Scripted.close_after, _Scripted.connections = answer, True, []
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Scripted) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sender = targets.Sender(5, allow_private=True)
        try:
            with pytest.raises(http.client.HTTPException):
                sender.post(f"http://127.0.0.1:{server.server_address[1]}/hooks", b"{}", {})
        finally:
            sender.close()
            server.shutdown()


class _Canned:
    """A socket whose answer is ``data``, for reading one answer two ways."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, _mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))  # type: ignore[arg-type]


def _as_read(answer_class: type[http.client.HTTPResponse], data: bytes) -> tuple[object, ...]:
    answer = answer_class(_Canned(data), method="POST")  # type: ignore[arg-type]
    answer.begin()
    kept = (answer.status, answer.length, answer.chunked, answer.will_close)
    return (*kept, answer.read(), answer.getheader("content-length"), answer.getheader("x-a"))


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n",  # plain lines, a repeated name
        b"X-A:\t tabbed  \r\nContent-Length: 2\r\n",  # the value's spaces as email keeps them
        b"Content-Length: 2\nX-A: bare LF\n",
        b"no colon here\r\nContent-Length: 2\r\n",  # the email package ends the headers there
        b"Content-Length : 2\r\n",  # a space before the colon
        b"Content-Length: 1\r\n 0\r\n",  # a folded length
        b"Connection: keep-alive,\r\n close\r\nContent-Length: 2\r\n",  # a folded close
        b"X-A: lone\rCR\r\nContent-Length: 2\r\n",
        b"Transfer-Encoding: chunked \r\nContent-Length: 2\r\n",  # not "chunked" to http.client
        b"From nowhere\r\nContent-Length: 2\r\n",
    ],
)
def test_an_answer_is_read_exactly_as_http_client_reads_it(head: bytes) -> None:
    """Plain header lines are read without the email package; any other answer goes to it. Either
    way the status, how the body ends, whether the connection is kept, the body and the headers
    are ``http.client``'s: a kept connection never reads the next answer out of step."""
    data = b"HTTP/1.1 200 OK\r\n" + head + b"\r\nok" + b"HTTP/1.1 200 OK\r\n\r\n"
    assert _as_read(targets._Answer, data) == _as_read(http.client.HTTPResponse, data)
