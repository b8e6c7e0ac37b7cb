"""The request a piece of work was caused by: its id, and who sent it once that is known.

The API's outermost layer (:mod:`saoma.api.observability`) sets :data:`CURRENT` for each
request; what the request writes (outbox events, bank instructions) reads the id from here and
stores it, so a webhook delivery or a bank instruction can be traced back to the request behind
it. Work started by the server itself (maintenance, a settlement run) has no request: ``None``.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

# What an incoming X-Request-Id may be for Saoma to keep it: short, and nothing a log or header
# could be confused by. Anything else is ignored and a new id is made.
ACCEPTED = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
HEADER = "X-Request-Id"


class RequestInfo:
    """One request's id, and the merchant or consumer it was sent by once authenticated."""

    __slots__ = ("consumer_id", "id", "merchant_id")

    def __init__(self, request_id: str) -> None:
        self.id = request_id
        self.merchant_id: str | None = None
        self.consumer_id: str | None = None


CURRENT: ContextVar[RequestInfo | None] = ContextVar("saoma_request", default=None)


def accept(incoming: bytes | None) -> str:
    """The caller's id if it is sane (1 to 64 of letters, digits, ``.``, ``_``, ``:``, ``-``,
    starting with a letter or digit), else a new one."""
    if incoming is not None and ACCEPTED.fullmatch(incoming):
        return incoming.decode("ascii")
    return "req_" + secrets.token_hex(10)


def current_id() -> str | None:
    """The id of the request this code runs for, or None outside a request."""
    info = CURRENT.get()
    return info.id if info is not None else None


def caller_known(*, merchant_id: str | None = None, consumer_id: str | None = None) -> None:
    """Note who sent the current request (for its log line); nothing outside a request."""
    info = CURRENT.get()
    if info is not None:
        if merchant_id is not None:
            info.merchant_id = merchant_id
        if consumer_id is not None:
            info.consumer_id = consumer_id
