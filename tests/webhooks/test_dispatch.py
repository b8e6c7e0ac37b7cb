"""The dispatcher's claim: events found due are leased to one process for as long as sending
them takes, so no other process sends them meanwhile, and a later event of the same subject waits
for the earlier one. Both databases: PostgreSQL finds and claims in one statement, SQLite in two.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select

from saoma.bootstrap import Platform
from saoma.core.ids import new_id, now_us
from saoma.webhooks import tables as m
from saoma.webhooks.dispatcher import LEASE_MARGIN_US, TIMEOUT_S, Dispatcher, S

_numbers = itertools.count()


class Held:
    """A receiver's stand-in that answers 200 to each delivery once ``go`` is set, noting what
    the outbox said about the event while its delivery was under way."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.go = threading.Event()
        self.sending = threading.Semaphore(0)
        self.sent: Counter[str] = Counter()
        self.leased: dict[str, int] = {}
        self.lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        event_id = headers["webhook-id"]
        with self.platform.engine.connect() as conn:
            lease = conn.execute(
                select(m.outbox.c.next_attempt_at_us).where(m.outbox.c.id == event_id)
            ).scalar_one()
        with self.lock:
            self.sent[event_id] += 1
            self.leased[event_id] = lease
        self.sending.release()
        assert self.go.wait(30)
        return 200

    def close(self) -> None:
        pass


@pytest.fixture
def merchant_id(platform: Platform) -> str:
    shop = platform.merchants.sign_up(
        login=f"hook{next(_numbers)}@example.cn",
        password="correct horse battery",
        name="Old Chen Noodles",
        city="Shenzhen",
        webhook_url="https://shop.example.cn/hooks",
    )
    return shop.id


def due(platform: Platform, merchant_id: str, subjects: list[str]) -> list[str]:
    """Events due now, one per subject given (in that order); their ids."""
    now = now_us()
    ids = [new_id("evt") for _ in subjects]
    rows = [
        {
            "id": event_id,
            "type": "payment.succeeded",
            "merchant_id": merchant_id,
            "subject": subject,
            "url": "https://shop.example.cn/hooks",
            "payload": "{}",
            "created_at_us": now,
            "next_attempt_at_us": now,
        }
        for event_id, subject in zip(ids, subjects, strict=True)
    ]
    with platform.engine.begin() as conn:
        conn.execute(insert(m.outbox), rows)
    return ids


@pytest.fixture
def held(platform: Platform) -> Iterator[Held]:
    receiver = Held(platform)
    yield receiver
    receiver.go.set()


def test_a_claim_leases_its_events_for_every_round_of_sending(
    platform: Platform, merchant_id: str, held: Held
) -> None:
    ids = due(platform, merchant_id, [f"ord_{n}" for n in range(5)])
    dispatcher = Dispatcher(platform.engine, workers=2, sender=held)  # type: ignore[arg-type]
    started = now_us()
    worker = threading.Thread(target=dispatcher.run_once)
    worker.start()
    try:
        for _ in range(2):  # the first round of two is under way
            assert held.sending.acquire(timeout=30)
        rounds = 3  # five events, two at a time
        for event_id in list(held.leased):
            lease = held.leased[event_id] - started
            assert rounds * TIMEOUT_S * S + LEASE_MARGIN_US <= lease
            assert lease <= rounds * TIMEOUT_S * S + LEASE_MARGIN_US + 5 * S
        # Another process looking now finds nothing it may send.
        other = Dispatcher(platform.engine, workers=2, sender=held)  # type: ignore[arg-type]
        assert other.run_once() is False
    finally:
        held.go.set()
        worker.join(30)
    assert held.sent == dict.fromkeys(ids, 1)
    with platform.engine.connect() as conn:
        delivered = conn.execute(
            select(m.outbox.c.id).where(m.outbox.c.delivered_at_us.is_not(None))
        ).scalars()
        assert set(delivered) == set(ids)
    dispatcher.close()


def test_a_later_event_of_a_subject_waits_for_the_earlier(
    platform: Platform, merchant_id: str, held: Held
) -> None:
    first, later, other = due(platform, merchant_id, ["ord_a", "ord_a", "ord_b"])
    held.go.set()
    dispatcher = Dispatcher(platform.engine, workers=4, sender=held)  # type: ignore[arg-type]
    assert dispatcher.run_once() is False
    assert held.sent == {first: 1, other: 1}
    assert dispatcher.run_once() is False
    assert held.sent == {first: 1, other: 1, later: 1}
    dispatcher.close()


def test_a_full_batch_says_there_may_be_more(
    platform: Platform, merchant_id: str, held: Held
) -> None:
    ids = due(platform, merchant_id, [f"ord_{n}" for n in range(3)])
    held.go.set()
    dispatcher = Dispatcher(platform.engine, workers=2, sender=held)  # type: ignore[arg-type]
    assert dispatcher.run_once(limit=2) is True
    assert dispatcher.run_once(limit=2) is False
    assert held.sent == dict.fromkeys(ids, 1)
    dispatcher.close()
