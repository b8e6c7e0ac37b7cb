"""Live updates for open pages: the outbox tailed and fanned out to server-sent-event streams.

Tailing the outbox table (rather than an in-process queue) means a page connected to one process
sees payments committed by any other process on the same database.

On PostgreSQL, sequence numbers are taken at INSERT and become visible at COMMIT, so event 11 can
be seen before event 10. The feed keeps a frontier (every event up to it has been sent, or was
never committed) and the events above it it has sent already; a hole below a sent event is
looked at again on every poll for ``GAP_WAIT_S``, then given up (a rolled-back transaction leaves
its number unused for ever).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine

from saoma.db import read
from saoma.payments import models as m

log = logging.getLogger(__name__)

GAP_WAIT_S = 10.0  # longer than any transaction that writes an event stays open
HOLES_MAX = 500  # holes asked about per poll; those above wait for the frontier to move


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
        self._gap_since: float | None = None  # when the hole just above the frontier was seen
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
        if not listening:  # only keep up with the outbox's end: no payloads read for nobody
            with read(self.engine) as conn:
                last = conn.execute(
                    select(func.max(m.outbox.c.seq)).where(m.outbox.c.seq > self._last)
                ).scalar()
            if last is not None:
                self._last = int(last)
                self._sent_above.clear()
                self._gap_since = None
            return
        # What is new: past the highest event sent, and the holes below it (a few, normally).
        top = max(self._sent_above, default=self._last)
        holes = [n for n in range(self._last + 1, top) if n not in self._sent_above][:HOLES_MAX]
        wanted = m.outbox.c.seq > top
        if holes:
            wanted = or_(wanted, m.outbox.c.seq.in_(holes))
        with read(self.engine) as conn:
            rows = conn.execute(
                select(
                    m.outbox.c.seq,
                    m.outbox.c.id,
                    m.outbox.c.merchant_id,
                    m.outbox.c.consumer_id,
                    m.outbox.c.payload,
                )
                .where(wanted)
                .order_by(m.outbox.c.seq)
                .limit(1000)
            ).all()
        fresh = [row for row in rows if row.seq not in self._sent_above]
        self._sent_above.update(row.seq for row in fresh)
        self._advance(time.monotonic())
        if not fresh:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for row in fresh:
            event = json.loads(row.payload)
            event["id"] = row.id
            for sub in subscribers:
                if (sub.merchant_id and sub.merchant_id == row.merchant_id) or (
                    sub.consumer_id and sub.consumer_id == row.consumer_id
                ):
                    sub.loop.call_soon_threadsafe(_offer, sub.queue, event)

    def _advance(self, now: float) -> None:
        """Move the frontier over sent events; past a hole once it has waited ``GAP_WAIT_S``."""
        while self._sent_above:
            if self._last + 1 in self._sent_above:
                self._last += 1
                self._sent_above.discard(self._last)
                self._gap_since = None
            elif self._gap_since is None:
                self._gap_since = now
                return
            elif now - self._gap_since >= GAP_WAIT_S:
                self._last = min(self._sent_above) - 1  # the hole's numbers were never committed
                self._gap_since = None
            else:
                return
        self._gap_since = None


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if not queue.full():  # a page that stopped reading loses live updates, not the server
        queue.put_nowait(event)
