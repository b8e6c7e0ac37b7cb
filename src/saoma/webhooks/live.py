"""Live updates for open pages: the outbox tailed and fanned out to server-sent-event streams.

Tailing the outbox table (rather than an in-process queue) means a page connected to one process
sees payments committed by any other process on the same database.

On PostgreSQL, sequence numbers are taken at INSERT and become visible at COMMIT, so event 11 can
be seen before event 10. The feed keeps a frontier (every event up to it has been sent, or was
never committed), the events above it it has sent already, and the holes between them with the
time each was first seen; every poll asks which holes have committed since, and a hole older than
``GAP_WAIT_S`` is given up (a rolled-back transaction leaves its number unused for ever).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from saoma.db import chunks, read
from saoma.webhooks import tables as m

log = logging.getLogger(__name__)

GAP_WAIT_S = 10.0  # longer than any transaction that writes an event stays open


@dataclass(eq=False)
class Subscriber:
    merchant_id: str | None
    consumer_id: str | None
    queue: asyncio.Queue[dict[str, Any]]
    loop: asyncio.AbstractEventLoop


class LiveFeed:
    def __init__(self, engine: Engine, *, poll_s: float = 0.25) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last = 0  # the frontier: every event up to it sent (or never committed)
        self._sent_above: set[int] = set()  # events above the frontier sent already
        self._holes: dict[int, float] = {}  # numbers below the highest seen, and since when
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with read(self.engine) as conn:
            self._last = int(
                conn.execute(select(func.coalesce(func.max(m.outbox.c.seq), 0))).scalar_one()
            )
        self._thread = threading.Thread(target=self._loop, name="live-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wake(self) -> None:
        """Something was committed: poll now, if a page is listening (else within ``poll_s``)."""
        if self._subscribers:
            self._wake.set()

    def subscribe(
        self, *, merchant_id: str | None = None, consumer_id: str | None = None
    ) -> Subscriber:
        sub = Subscriber(
            merchant_id, consumer_id, asyncio.Queue(maxsize=1000), asyncio.get_running_loop()
        )
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception:
                log.exception("live feed poll failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _poll(self) -> None:
        with self._lock:
            listening = bool(self._subscribers)
        # With nobody listening only the numbers are read, so that the frontier and its holes
        # stay right for the first page that connects.
        cols = _EVENT_COLUMNS if listening else (m.outbox.c.seq,)
        seq = m.outbox.c.seq
        top = max(self._sent_above, default=self._last)
        filled: list[int] = []
        late: list[Any] = []
        with read(self.engine) as conn:
            new = list(conn.execute(select(*cols).where(seq > top).order_by(seq).limit(1000)))
            if self._holes:  # any number below the highest seen that has committed since
                present = set(
                    conn.execute(select(seq).where(seq > self._last, seq < top)).scalars()
                )
                filled = sorted(n for n in self._holes if n in present)
                if listening:  # the payloads of those; the numbers alone do otherwise
                    for part in chunks(filled, 500):
                        late += conn.execute(select(*cols).where(seq.in_(part))).all()
        if not listening and self._subscribers:
            # A page connected while the numbers alone were read: what they show may have
            # committed after it connected, and would be marked sent without reaching it.
            # The next poll reads them again, payloads and all.
            self._wake.set()
            return
        now = time.monotonic()
        previous = top
        for row in new:
            for n in range(previous + 1, row.seq):
                self._holes.setdefault(n, now)
            previous = row.seq
        for n in filled:
            del self._holes[n]
        self._sent_above.update(row.seq for row in new)
        self._sent_above.update(filled)
        for n, since in list(self._holes.items()):
            if now - since >= GAP_WAIT_S:  # never committed (rolled back): given up
                del self._holes[n]
                self._sent_above.add(n)
        while self._last + 1 in self._sent_above:
            self._last += 1
            self._sent_above.discard(self._last)
        if listening and (late or new):
            self._send(late + new)

    def _send(self, rows: list[Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for row in rows:
            event = json.loads(row.payload)
            event["id"] = row.id
            for sub in subscribers:
                if (sub.merchant_id and sub.merchant_id == row.merchant_id) or (
                    sub.consumer_id and sub.consumer_id == row.consumer_id
                ):
                    sub.loop.call_soon_threadsafe(_offer, sub.queue, event)


_EVENT_COLUMNS = (
    m.outbox.c.seq,
    m.outbox.c.id,
    m.outbox.c.merchant_id,
    m.outbox.c.consumer_id,
    m.outbox.c.payload,
)


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if not queue.full():  # a page that stopped reading loses live updates, not the server
        queue.put_nowait(event)
