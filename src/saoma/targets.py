"""Where webhooks may go: public internet addresses only, checked again at every connection.

A merchant chooses its webhook URL (and each order's notify URL), so without a check Saoma's
servers would post to whatever the URL names: a database on the loopback interface, a cloud's
metadata service at 169.254.169.254, a router on the private network. URLs naming such an
address are refused when registered; a name is resolved when a delivery connects, every address
it resolves to is checked, and the connection goes to the address that was checked, so a name
that answers with a public address first and an internal one later (DNS rebinding) gains
nothing. ``SAOMA_ALLOW_PRIVATE_WEBHOOKS`` lifts the rule, for the demo and tests on one machine.
"""

from __future__ import annotations

import email.parser
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from saoma.config import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """A webhook's host resolved to an address Saoma does not send to."""


class SendFailed(OSError):
    """A delivery could not be sent or answered (no address, a closed connection)."""


def private_allowed() -> bool:
    """Whether internal addresses may be webhook targets: demo mode, or the operator says so."""
    settings = get_settings()
    return settings.allow_private_webhooks or settings.demo


def why_not_public(ip: IPAddress) -> str:
    """Empty if ``ip`` is a public unicast address; else what kind of address it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not a public address"
    return ""


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to, each checked; refused if any of them is not public."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise SendFailed(f"cannot resolve {host}: {exc}") from exc
    if not allow_private:
        for ip in addresses:
            reason = why_not_public(ip)
            if reason:
                raise TargetRefused(f"refused: {host} resolves to {ip} ({reason})")
    return addresses


def connect_checked(
    host: str, port: int, timeout: float | None, *, allow_private: bool
) -> socket.socket:
    """A TCP connection to one of the addresses ``host`` has just resolved to, each checked."""
    last: OSError | None = None
    for ip in checked_addresses(host, port, allow_private=allow_private):
        try:
            sock = socket.create_connection((str(ip), port), timeout)
        except OSError as exc:
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request goes out whole
        return sock
    raise last or SendFailed(f"{host} has no address")


# A header line as the email package reads it with nothing odd about it: a name of printable
# characters without a colon (the email package's own class), the value with no CR or LF in it.
_PLAIN_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n")
_HEADERS_END = (b"\r\n", b"\n", b"")


class _Headers(dict[str, list[str]]):
    """An answer's headers by lower-cased name, read as the email package reads plain ones: of a
    repeated one, ``get`` answers the first."""

    def get(self, name: str, default: Any = None) -> Any:
        found = dict.get(self, name.lower())
        return default if found is None else found[0]

    def get_all(self, name: str, default: Any = None) -> Any:
        found = dict.get(self, name.lower())
        return default if found is None else list(found)

    def items(self) -> Any:
        return [(name, value) for name, values in dict.items(self) for value in values]


def _answer_headers(fp: Any) -> Any:
    """An answer's headers, with ``http.client``'s limits on their length and number.

    ``http.client`` parses them with the email package, which cost 24-30 µs of CPU per
    delivery here (``bench/sender.py``); all a delivery reads of them is how the body ends and
    whether the connection stays open. Plain lines (nearly every answer's) are read here, to
    the same names and values; an answer with any other line (folded, without a colon, a name
    with a space, a lone CR) is parsed by the email package as ``http.client`` parses it, so
    that a kept connection never reads an answer differently."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]
    headers = _Headers()
    for line in lines:
        if line in _HEADERS_END:
            return headers
        if not _PLAIN_HEADER.fullmatch(line):
            break
        name, _, value = line.decode("iso-8859-1").partition(":")
        headers.setdefault(name.lower(), []).append(value.lstrip(" \t").rstrip("\r\n"))
    joined = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(joined)


class _Answer(http.client.HTTPResponse):
    """A receiver's answer, read as ``http.client`` reads it but for its plain headers
    (``_answer_headers``), and for interim answers: every 1xx but 101 is skipped (``http.client``
    skips 100 only, and a 103 would leave the real answer to the next delivery)."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if not 100 <= status < 200 or status == 101:
                break
            http.client._read_headers(self.fp)  # an interim answer's
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _answer_headers(self.fp)
        coding = self.headers.get("transfer-encoding")
        self.chunked = bool(coding and coding.lower() == "chunked")
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class _GuardedHTTP(http.client.HTTPConnection):
    allow_private = False
    response_class = _Answer

    def connect(self) -> None:
        self.sock = connect_checked(
            self.host, self.port, self.timeout, allow_private=self.allow_private
        )


class _GuardedHTTPS(http.client.HTTPSConnection):
    allow_private = False
    response_class = _Answer

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self.timeout, allow_private=self.allow_private)
        # The certificate is checked against the URL's name, whatever address was connected to.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class Sender:
    """POSTs deliveries over kept-alive HTTP/1.1 connections, each thread with its own.

    Every new connection goes through :func:`connect_checked` (the Host header, and for TLS the
    SNI and certificate check, keep the URL's name). No redirect is followed and no proxy from
    the environment is used. ``timeout_s`` bounds the connect and each wait for the receiver.
    A connection idle for ``KEEP_IDLE_S`` is not reused (receivers close idle ones), and one
    that turns out closed before any answer came is opened again once.
    """

    KEEP_IDLE_S = 4.0
    ANSWER_READ_MAX = 64 * 1024  # what is read of an answer's body; a longer one is cut off

    def __init__(
        self, timeout_s: float, *, allow_private: bool, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The receiver's status code; :class:`TargetRefused` or an ``OSError`` (such as
        :class:`SendFailed`, a timeout) or ``http.client.HTTPException`` if none came."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SendFailed(f"not an http(s) URL: {url[:80]}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.hostname, port)
        sent_headers = {"user-agent": USER_AGENT, **headers}
        for attempt in (1, 2):
            conn, reused = self._connection(key)
            try:
                conn.request("POST", target, body=body, headers=sent_headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._close(conn)
                if reused and attempt == 1:
                    continue  # the receiver had closed the kept connection: once more, anew
                raise
            except BaseException:
                self._close(conn)
                raise
            try:
                response.read(self.ANSWER_READ_MAX)
                if not response.isclosed() or response.will_close:
                    self._close(conn)  # a longer answer, or the receiver closes: not kept
                else:
                    self._local.idle[key] = (conn, time.monotonic())
            except BaseException:
                self._close(conn)
                raise
            return int(response.status)
        raise SendFailed("unreachable")  # pragma: no cover

    def _connection(self, key: tuple[str, str, int]) -> tuple[http.client.HTTPConnection, bool]:
        idle: dict[tuple[str, str, int], tuple[http.client.HTTPConnection, float]] | None
        idle = getattr(self._local, "idle", None)
        if idle is None:
            idle = self._local.idle = {}
        kept = idle.pop(key, None)
        if kept is not None:
            conn, since = kept
            if time.monotonic() - since < self.KEEP_IDLE_S:
                return conn, True
            self._close(conn)
        scheme, host, port = key
        if scheme == "https":
            conn = _GuardedHTTPS(host, port, timeout=self.timeout_s, context=self.ssl_context)
        else:
            conn = _GuardedHTTP(host, port, timeout=self.timeout_s)
        conn.allow_private = self.allow_private
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _close(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


USER_AGENT = "Saoma-Webhooks/1.0"
