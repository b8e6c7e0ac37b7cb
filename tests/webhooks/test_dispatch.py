"""The dispatcher's claim: events found due are leased to one process for as long as sending
them takes, so no other process sends them meanwhile, and a later event of the same subject waits
for the earlier one. Both databases: PostgreSQL finds and claims in one statement, SQLite in two.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, insert, select

from saoma import targets
from saoma.bootstrap import Platform
from saoma.core.ids import new_id, now_us
from saoma.db import is_sqlite
from saoma.ledger.tx import Tx
from saoma.webhooks import tables as m
from saoma.webhooks.deliveries import replay
from saoma.webhooks.dispatcher import LEASE_MARGIN_US, TIMEOUT_S, Dispatcher, S
from saoma.webhooks.outbox import emit_in
from support import Receiver, receiver

__all__ = ["receiver"]

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
                select(m.outbox_due.c.leased_until_us)
                .join(m.outbox, m.outbox.c.seq == m.outbox_due.c.seq)
                .where(m.outbox.c.id == event_id)
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


def due(
    platform: Platform,
    merchant_id: str,
    subjects: list[str],
    url: str = "https://shop.example.cn/hooks",
) -> list[str]:
    """Webhooks due now, one per subject given (in that order), written as a payment's hook
    writes them; their ids."""
    now = now_us()
    postgres = not is_sqlite(platform.engine)
    with platform.engine.begin() as conn:
        tx = Tx(conn.connection.driver_connection, postgres=postgres)
        return [
            emit_in(
                tx,
                "payment.succeeded",
                subject=subject,
                data={},
                at_us=now,
                merchant_id=merchant_id,
                url=url,
            )
            for subject in subjects
        ]


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
        # Nothing is left to deliver.
        assert conn.execute(select(func.count()).select_from(m.outbox_due)).scalar_one() == 0
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


class Failing:
    """A receiver that answers 500 to every delivery."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.sent[headers["webhook-id"]] += 1
        return 500

    def close(self) -> None:
        pass


def test_a_failed_delivery_is_due_again_after_its_back_off_and_a_replay_puts_it_first(
    platform: Platform, merchant_id: str, held: Held
) -> None:
    first, later = due(platform, merchant_id, ["ord_r", "ord_r"])
    failing = Failing()
    dispatcher = Dispatcher(platform.engine, workers=2, sender=failing)  # type: ignore[arg-type]
    tried = now_us()
    assert dispatcher.run_once() is False
    assert failing.sent == {first: 1}  # the later event waits for the first
    with platform.engine.connect() as conn:
        waiting = conn.execute(
            select(m.outbox_due.c.next_attempt_at_us, m.outbox_due.c.leased_until_us)
            .join(m.outbox, m.outbox.c.seq == m.outbox_due.c.seq)
            .where(m.outbox.c.id == first)
        ).one()
    # Due again after the first back-off step (5 s), not when the lease would have run out.
    assert tried + 5 * S <= waiting.next_attempt_at_us <= now_us() + 5 * S
    assert waiting.leased_until_us == 0
    assert dispatcher.run_once() is False and failing.sent == {first: 1}  # not due yet
    dispatcher.close()

    assert replay(platform.engine, merchant_id, first) is True
    assert replay(platform.engine, "m_someone_else", first) is False
    held.go.set()
    again = Dispatcher(platform.engine, workers=2, sender=held)  # type: ignore[arg-type]
    assert again.run_once() is False
    assert held.sent == {first: 1}  # the replayed event keeps its place before the later one
    assert again.run_once() is False
    assert held.sent == {first: 1, later: 1}
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.outbox_due)).scalar_one() == 0
        attempts = conn.execute(
            select(m.outbox.c.attempts).where(m.outbox.c.id == first)
        ).scalar_one()
    assert attempts == 2
    again.close()


def test_a_replay_while_the_event_is_being_sent_sends_it_again_after(
    platform: Platform, merchant_id: str, held: Held
) -> None:
    (event_id,) = due(platform, merchant_id, ["ord_during"])
    dispatcher = Dispatcher(platform.engine, workers=2, sender=held)  # type: ignore[arg-type]
    worker = threading.Thread(target=dispatcher.run_once)
    worker.start()
    try:
        assert held.sending.acquire(timeout=30)  # the first attempt is under way
        assert replay(platform.engine, merchant_id, event_id) is True
        # Not sent a second time while the first attempt holds it.
        assert Dispatcher(platform.engine, sender=held).run_once() is False  # type: ignore[arg-type]
        assert held.sent == {event_id: 1}
    finally:
        held.go.set()
        worker.join(30)
    # The first attempt succeeded; the replay still stands, and goes now.
    assert dispatcher.run_once() is False
    assert held.sent == {event_id: 2}
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.outbox_due)).scalar_one() == 0
    dispatcher.close()


def test_a_webhook_written_without_a_due_row_is_adopted_when_a_dispatcher_starts(
    platform: Platform, merchant_id: str, held: Held
) -> None:
    """A process still on the code before migration 0021 (a rolling upgrade) writes only the
    outbox row: the next dispatcher to start finds it and delivers it, once."""
    now = now_us()
    rows = [
        {"id": new_id("evt"), "url": url, "delivered_at_us": delivered}
        for url, delivered in [
            ("https://shop.example.cn/hooks", None),  # a stray
            ("https://shop.example.cn/hooks", now),  # delivered already
            ("", now),  # a live-feed event: no webhook
        ]
    ]
    with platform.engine.begin() as conn:
        conn.execute(
            insert(m.outbox),
            [
                row
                | {
                    "type": "payment.succeeded",
                    "merchant_id": merchant_id,
                    "subject": "ord_stray",
                    "payload": "{}",
                    "created_at_us": now,
                    "next_attempt_at_us": now,
                }
                for row in rows
            ],
        )
    held.go.set()
    dispatcher = Dispatcher(platform.engine, workers=2, sender=held)  # type: ignore[arg-type]
    assert dispatcher.run_once() is False and not held.sent  # not due anywhere yet
    assert dispatcher.adopt_strays() == 1
    assert dispatcher.adopt_strays() == 0
    assert dispatcher.run_once() is False
    assert held.sent == {rows[0]["id"]: 1}
    dispatcher.close()


@pytest.mark.parametrize(
    "bad_url",
    [
        "https://shop.example.cn:99999/hooks",
        "https://shop.example.cn:abc/hooks",
        "https://\u00e9" + "a" * 70 + ".example.cn/hooks",
    ],
)
def test_an_event_to_a_url_no_delivery_can_reach_fails_alone(
    platform: Platform, merchant_id: str, receiver: Receiver, bad_url: str
) -> None:
    """A URL stored before the check that now refuses it (a port out of range, a name that is
    not IDNA): its event is a failed attempt like any other, and the batch's other deliveries
    are recorded, not sent again when the lease runs out."""
    (bad,) = due(platform, merchant_id, ["ord_bad"], url=bad_url)
    good = due(platform, merchant_id, ["ord_good_1", "ord_good_2"], url=receiver.url)
    sender = targets.Sender(TIMEOUT_S, allow_private=True)
    dispatcher = Dispatcher(platform.engine, workers=2, sender=sender)
    assert dispatcher.run_once() is False
    sent = sorted(d["headers"]["webhook-id"] for d in receiver.deliveries)
    assert sent == sorted(good)
    with platform.engine.connect() as conn:
        attempts = conn.execute(
            select(m.webhook_attempts.c.event_id, m.webhook_attempts.c.error)
        ).all()
        still_due = conn.execute(
            select(m.outbox.c.id, m.outbox_due.c.leased_until_us).join(
                m.outbox_due, m.outbox_due.c.seq == m.outbox.c.seq
            )
        ).all()
    errors = {event_id: error for event_id, error in attempts}
    assert set(errors) == {bad, *good}
    assert errors[bad] != "" and all(errors[g] == "" for g in good)
    assert still_due == [(bad, 0)]  # waiting for its retry, not leased
    # Running again sends nothing twice.
    assert dispatcher.run_once() is False
    assert len(receiver.deliveries) == 2
    dispatcher.close()


class Refusing:
    """A receiver's stand-in whose every delivery fails with awkward text in its error."""

    ERROR = 'refused "quoted" \\ back\\slash, {braces}, NULL, 扫码'

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        raise OSError(self.ERROR)

    def close(self) -> None:
        pass


def test_a_batchs_attempts_are_recorded_exactly_whatever_their_text(
    platform: Platform, merchant_id: str
) -> None:
    """The attempts of a batch go to the database in one statement on PostgreSQL, as arrays:
    every field comes back as it was, quotes, backslashes, braces, the word NULL and a missing
    request id included."""
    ids = due(platform, merchant_id, ["ord_q1", "ord_q2", "ord_q3"])
    dispatcher = Dispatcher(platform.engine, workers=2, sender=Refusing())  # type: ignore[arg-type]
    assert dispatcher.run_once() is False
    with platform.engine.connect() as conn:
        attempts = conn.execute(
            select(
                m.webhook_attempts.c.event_id,
                m.webhook_attempts.c.merchant_id,
                m.webhook_attempts.c.url,
                m.webhook_attempts.c.status_code,
                m.webhook_attempts.c.error,
                m.webhook_attempts.c.request_id,
            )
        ).all()
        events = conn.execute(
            select(m.outbox.c.id, m.outbox.c.attempts, m.outbox.c.delivered_at_us)
        ).all()
    expected_error = f"OSError: {Refusing.ERROR}"
    assert sorted(attempts) == sorted(
        (i, merchant_id, "https://shop.example.cn/hooks", 0, expected_error, None) for i in ids
    )
    assert sorted(events) == sorted((i, 1, None) for i in ids)
    dispatcher.close()


class OneOdd:
    """A receiver's stand-in: the first event's delivery fails with a NUL and a lone surrogate
    in the error's text (what a hostile status line gives), the others are delivered."""

    def __init__(self, odd: str) -> None:
        self.odd = odd

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        if headers["webhook-id"] == self.odd:
            raise http.client.UnknownProtocol("HTTP/\x00\udcff")
        return 200

    def close(self) -> None:
        pass


def test_an_error_text_the_database_refuses_does_not_hold_back_its_batch(
    platform: Platform, merchant_id: str
) -> None:
    odd, *others = due(platform, merchant_id, ["ord_nul", "ord_ok1", "ord_ok2"])
    dispatcher = Dispatcher(platform.engine, workers=2, sender=OneOdd(odd))  # type: ignore[arg-type]
    assert dispatcher.run_once() is False
    with platform.engine.connect() as conn:
        errors = dict(
            conn.execute(select(m.webhook_attempts.c.event_id, m.webhook_attempts.c.error)).all()
        )
        delivered = set(
            conn.execute(
                select(m.outbox.c.id).where(m.outbox.c.delivered_at_us.is_not(None))
            ).scalars()
        )
    assert errors == {odd: "UnknownProtocol: HTTP/\\x00\\udcff", **dict.fromkeys(others, "")}
    assert delivered == set(others)
    dispatcher.close()
