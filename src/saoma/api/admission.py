"""Bounded work in progress: a busy server says so at once instead of queueing for seconds.

Each process works on at most ``SAOMA_WORKING_MAX`` API requests at a time; the others wait
their turn, in order of arrival. A request that has not been started within
``SAOMA_QUEUE_WAIT_MS``, or one arriving when ``SAOMA_MAX_IN_FLIGHT`` requests are already held
(working or waiting), is answered ``503 overloaded`` with ``Retry-After: 1`` before anything of
it is done (its body has been read, so that a client sending it slowly holds no place, but not
parsed). A client (or a load balancer) can then try another process or come back,
while the requests accepted keep their latency: at most the wait plus their own work, instead of
a share of the CPU split between ever more requests. Requests are counted in the event loop,
where they arrive one at a time: no lock is needed. The live event streams (open for hours by
design), the pages and their assets, and ``/healthz`` are not counted.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from saoma.api import problems
from saoma.core.errors import Overloaded

RETRY_AFTER_S = 1


def counted(path: str) -> bool:
    return path.startswith("/v1/") and not path.endswith("/events")


class Admission:
    def __init__(self, app: ASGIApp, limit: int, working_max: int, queue_wait_ms: int) -> None:
        self.app = app
        self.limit = limit
        self.queue_wait_ms = queue_wait_ms
        self.in_flight = 0
        self.working = asyncio.Semaphore(working_max)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not counted(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            why = f"the server holds {self.limit} requests already"
            await self._refuse(why, scope, receive, send)
            return
        self.in_flight += 1
        try:
            try:
                await asyncio.wait_for(self.working.acquire(), self.queue_wait_ms / 1000)
            except TimeoutError:
                why = f"the server could not start this request within {self.queue_wait_ms} ms"
                await self._refuse(why, scope, receive, send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self.working.release()
        finally:
            self.in_flight -= 1

    @staticmethod
    async def _refuse(why: str, scope: Scope, receive: Receive, send: Send) -> None:
        busy = Overloaded(f"{why}: try again in {RETRY_AFTER_S} s")
        response = problems.response(busy, scope["path"])
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        await response(scope, receive, send)
