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

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from saoma.config import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """A webhook's host resolved to an address Saoma does not send to."""


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
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    if not allow_private:
        for ip in addresses:
            reason = why_not_public(ip)
            if reason:
                raise TargetRefused(f"refused: {host} resolves to {ip} ({reason})")
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses it has just resolved and checked."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, port, allow_private=self.allow_private)
        last: Exception | None = None
        for ip in addresses:
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that connects through ``GuardedBackend``.

    TLS still verifies the certificate against the URL's name (the pool keys connections by
    name), and the Host header is the URL's: only the address connected to is pinned.
    """

    def __init__(self, *, allow_private: bool, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private=allow_private),
        )


def client(timeout_s: float) -> httpx.Client:
    """The client deliveries are sent with: no redirects, no proxies from the environment."""
    return httpx.Client(
        timeout=timeout_s,
        follow_redirects=False,
        transport=GuardedTransport(allow_private=private_allowed()),
    )
