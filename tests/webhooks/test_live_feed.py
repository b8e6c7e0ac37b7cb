"""The live feed behind the cashier's "payment received": every committed event reaches the page.

On PostgreSQL an event's number is taken at INSERT and seen at COMMIT, so a later number can be
seen first; the feed must still send the earlier one when it commits.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from saoma.db import make_engine
from saoma.ledger.tx import Tx
from saoma.webhooks import live
from saoma.webhooks.live import LiveFeed
from saoma.webhooks.outbox import emit_in
from support import run_async, wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_database: str) -> Iterator[Engine]:
    engine = make_engine(postgres_database)
    yield engine
    engine.dispose()


def emit(conn: Connection, merchant_id: str, name: str) -> None:
    tx = Tx(conn.connection.driver_connection, postgres=True)
    emit_in(
        tx, "payment.succeeded", subject=name, data={"name": name}, at_us=1, merchant_id=merchant_id
    )


def roll_back(engine: Engine, shop: str, count: int) -> None:
    """``count`` events written and rolled back: numbers taken that will never commit."""
    with engine.connect() as lost:
        lost_tx = lost.begin()
        for n in range(count):
            emit(lost, shop, f"rolled back {n}")
        lost_tx.rollback()


async def next_name(queue: asyncio.Queue[dict[str, Any]]) -> str:
    event = await asyncio.wait_for(queue.get(), timeout=5)
    return str(event["data"]["name"])


class CountedFeed(LiveFeed):
    """The feed, counting its polls: a test waits for polls, not for time to pass."""

    polls = 0

    def _poll(self) -> None:
        super()._poll()
        self.polls += 1

    async def polled(self, times: int) -> None:
        """Until ``times`` whole polls have begun after this call (the one under way when it
        is made may have read the table before what the caller just committed)."""
        done = self.polls + 1 + times
        await asyncio.to_thread(
            wait_until, lambda: self.polls >= done, timeout_s=10, what=f"{times} polls"
        )


@contextmanager
def page_of(engine: Engine, shop: str) -> Iterator[tuple[CountedFeed, asyncio.Queue[Any]]]:
    """A cashier page listening to ``shop``'s events, as the events route sets one up."""
    feed = CountedFeed(engine, poll_s=0.02)
    feed.start()
    try:
        yield feed, feed.subscribe(merchant_id=shop).queue
    finally:
        feed.close()


def test_an_event_committed_after_a_later_one_still_reaches_the_page(pg: Engine) -> None:
    shop = "mch_" + secrets.token_hex(6)

    async def main() -> list[str]:
        with page_of(pg, shop) as (feed, page):
            slow = pg.connect()
            slow_tx = slow.begin()
            emit(slow, shop, "first number, committed second")
            with pg.begin() as quick:
                emit(quick, shop, "second number, committed first")
            seen = [await next_name(page)]
            await feed.polled(10)  # the feed polls past the hole ten times meanwhile
            slow_tx.commit()
            slow.close()
            seen.append(await next_name(page))
            return seen

    assert run_async(main()) == [
        "second number, committed first",
        "first number, committed second",
    ]


def test_a_number_never_committed_holds_nothing_up(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "GAP_WAIT_S", 0.1)
    shop = "mch_" + secrets.token_hex(6)

    async def main() -> list[str]:
        with page_of(pg, shop) as (_feed, page):
            roll_back(pg, shop, 1)
            seen = []
            for n in range(3):
                with pg.begin() as conn:
                    emit(conn, shop, f"after the hole {n}")
                seen.append(await next_name(page))
                # The give-up after GAP_WAIT_S is what is tested: time has to pass.
                await asyncio.sleep(0.15)  # past GAP_WAIT_S: the hole is given up
            return seen

    assert run_async(main()) == [f"after the hole {n}" for n in range(3)]


def test_hundreds_of_holes_lose_no_event_that_commits_in_time(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rolled-back batch of 600 events leaves 600 numbers that never fill; an event still open
    behind them must reach the page when it commits, and later ones must not wait."""
    monkeypatch.setattr(live, "GAP_WAIT_S", 1.5)
    shop = "mch_" + secrets.token_hex(6)

    async def main() -> list[str]:
        with page_of(pg, shop) as (feed, page):
            roll_back(pg, shop, 600)
            slow = pg.connect()
            slow_tx = slow.begin()
            emit(slow, shop, "slow")
            with pg.begin() as conn:
                for n in range(300):
                    emit(conn, shop, f"quick {n}")
            seen = [await next_name(page) for _ in range(300)]
            await feed.polled(2)  # the feed looks past the slow one's open number
            slow_tx.commit()
            slow.close()
            seen.append(await next_name(page))
            # The give-up after GAP_WAIT_S is what is tested: time has to pass.
            await asyncio.sleep(1.7)  # every hole left is given up, all at once
            with pg.begin() as conn:
                emit(conn, shop, "after")
            seen.append(await next_name(page))
            return seen

    assert run_async(main()) == [f"quick {n}" for n in range(300)] + ["slow", "after"]


def test_a_page_that_connects_late_still_gets_an_event_open_before_it_came(pg: Engine) -> None:
    shop = "mch_" + secrets.token_hex(6)

    async def main() -> str:
        feed = CountedFeed(pg, poll_s=0.02)
        feed.start()
        try:
            slow = pg.connect()
            slow_tx = slow.begin()
            emit(slow, shop, "open while nobody listened")
            with pg.begin() as conn:
                emit(conn, shop, "committed while nobody listened")
            # The feed must have read the committed one (and the hole below it) with no page
            # listening; a fixed pause here missed that on a loaded machine.
            await feed.polled(1)
            page = feed.subscribe(merchant_id=shop).queue
            slow_tx.commit()
            slow.close()
            return await next_name(page)
        finally:
            feed.close()

    assert run_async(main()) == "open while nobody listened"
