"""Live updates for open pages: the outbox tailed and fanned out to server-sent-event streams.

Tailing the outbox table (rather than an in-process queue) means a page connected to one process
sees payments committed by any other process on the same database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from saoma.db import read
from saoma.payments import models as m

log = logging.getLogger(__name__)


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
        self._last = 0
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
            return
        with read(self.engine) as conn:
            rows = conn.execute(
                select(
                    m.outbox.c.seq,
                    m.outbox.c.id,
                    m.outbox.c.merchant_id,
                    m.outbox.c.consumer_id,
                    m.outbox.c.payload,
                )
                .where(m.outbox.c.seq > self._last)
                .order_by(m.outbox.c.seq)
                .limit(1000)
            ).all()
        if not rows:
            return
        self._last = rows[-1].seq
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


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if not queue.full():  # a page that stopped reading loses live updates, not the server
        queue.put_nowait(event)
