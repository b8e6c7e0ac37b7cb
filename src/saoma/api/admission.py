"""Bounded work in progress: a busy server says so at once instead of queueing for seconds.

Each process works on at most ``SAOMA_MAX_IN_FLIGHT`` API requests at a time. One more is answered
at once with ``503 overloaded`` and ``Retry-After: 1``, before anything of it is read or done, so
a client (or a load balancer) can try another process or come back, while the requests already
accepted keep their latency. Requests are counted in the event loop, where they arrive one at a
time: no lock is needed. The live event streams (open for hours by design), the pages and their
assets, and ``/healthz`` are not counted.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from saoma.api import problems
from saoma.core.errors import Overloaded

RETRY_AFTER_S = 1


def counted(path: str) -> bool:
    return path.startswith("/v1/") and not path.endswith("/events")


class Admission:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not counted(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            busy = Overloaded(
                f"the server is working on {self.limit} requests already:"
                f" try again in {RETRY_AFTER_S} s"
            )
            response = problems.response(busy, scope["path"])
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
