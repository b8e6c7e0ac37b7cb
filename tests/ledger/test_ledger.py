"""The ledger service on real databases: the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.ledger import (
    Account,
    AccountFlags,
    AccountKind,
    AccountResult,
    HoldState,
    Ledger,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)
from saoma.ledger.domain import BATCH_TRANSFERS_MAX
from saoma.ledger.errors import IdempotencyConflict, InsufficientFunds, PendingTransferExpired
from support import run_async, wait_until

BANK, ALICE, NOODLES, FEES, BOB_HKD = 1, 2, 3, 4, 5


@pytest.fixture
def books(ledger: Ledger) -> Ledger:
    results = ledger.create_accounts(
        [
            Account(
                BANK, "CNY", AccountKind.BANK_CLEARING, AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
            ),
            Account(
                ALICE,
                "CNY",
                AccountKind.CONSUMER_WALLET,
                AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            ),
            Account(NOODLES, "CNY", AccountKind.MERCHANT),
            Account(FEES, "CNY", AccountKind.PLATFORM_FEES),
            Account(
                BOB_HKD,
                "HKD",
                AccountKind.CONSUMER_WALLET,
                AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            ),
        ]
    )
    assert results == [AccountResult.OK] * 5
    ledger.transfer(Transfer("topup-1", BANK, ALICE, 10_000, TransferCode.TOP_UP))
    return ledger


def run_in_thread(fn: Any) -> Any:
    """Run ``fn`` on a thread of its own (the browser tests keep a loop on the main thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def balance(ledger: Ledger, account_id: int) -> int:
    account = ledger.account(account_id)
    assert account is not None
    return account.balance


def test_accounts_are_idempotent_and_validated(books: Ledger) -> None:
    again = books.create_accounts(
        [
            Account(
                ALICE,
                "CNY",
                AccountKind.CONSUMER_WALLET,
                AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            ),
            Account(ALICE, "CNY", AccountKind.MERCHANT),
            Account(9, "XXX", AccountKind.MERCHANT),
            Account(10, "CNY", "wizard"),
            Account(0, "CNY", AccountKind.MERCHANT),
        ]
    )
    assert again == [
        AccountResult.EXISTS,
        AccountResult.EXISTS_WITH_DIFFERENT_FIELDS,
        AccountResult.CURRENCY_UNKNOWN,
        AccountResult.KIND_UNKNOWN,
        AccountResult.ID_INVALID,
    ]
    assert books.accounts([9, 10]) == {}


def test_payment_with_fee_as_linked_transfers(books: Ledger) -> None:
    results = books.create_transfers(
        [
            Transfer(
                "pay-1",
                ALICE,
                NOODLES,
                2_500,
                TransferCode.PAYMENT,
                TransferFlags.LINKED,
                ref="order-1",
            ),
            Transfer("fee-1", NOODLES, FEES, 15, TransferCode.FEE, ref="order-1"),
        ]
    )
    assert results == [Result.OK, Result.OK]
    assert balance(books, ALICE) == 7_500
    assert balance(books, NOODLES) == 2_485
    assert balance(books, FEES) == 15
    stored = books.get_transfer("pay-1")
    assert stored is not None and stored.ref == "order-1" and stored.amount == 2_500


def test_insufficient_funds_is_a_typed_error_and_changes_nothing(books: Ledger) -> None:
    with pytest.raises(InsufficientFunds):
        books.transfer(Transfer("pay-big", ALICE, NOODLES, 10_001, TransferCode.PAYMENT))
    assert balance(books, ALICE) == 10_000
    assert books.get_transfer("pay-big") is None


def test_failed_link_rolls_back_the_whole_chain(books: Ledger) -> None:
    results = books.create_transfers(
        [
            Transfer("pay-2", ALICE, NOODLES, 2_500, TransferCode.PAYMENT, TransferFlags.LINKED),
            Transfer("fee-2", NOODLES, BOB_HKD, 15, TransferCode.FEE),
        ]
    )
    assert results == [Result.LINKED_EVENT_FAILED, Result.CURRENCY_MISMATCH]
    assert balance(books, ALICE) == 10_000 and books.get_transfer("pay-2") is None


def test_same_id_twice_moves_money_once_and_different_body_is_refused(books: Ledger) -> None:
    pay = Transfer("pay-3", ALICE, NOODLES, 1_000, TransferCode.PAYMENT)
    assert books.create_transfers([pay]) == [Result.OK]
    assert books.create_transfers([pay]) == [Result.EXISTS]
    with pytest.raises(IdempotencyConflict):
        books.transfer(Transfer("pay-3", ALICE, NOODLES, 1_001, TransferCode.PAYMENT))
    assert balance(books, ALICE) == 9_000


def test_same_id_sent_concurrently_moves_money_once(books: Ledger) -> None:
    pay = Transfer("pay-race", ALICE, NOODLES, 300, TransferCode.PAYMENT)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: books.create_transfers([pay])[0], range(64)))
    assert results.count(Result.OK) == 1
    assert results.count(Result.EXISTS) == 63
    assert balance(books, ALICE) == 9_700


def test_concurrent_spending_never_overdraws(books: Ledger) -> None:
    def spend(i: int) -> Result:
        return books.create_transfers([Transfer(f"spend-{i}", ALICE, NOODLES, 700)])[0]

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(spend, range(100)))
    assert results.count(Result.OK) == 14  # 14 x 7.00 = 98.00 of the 100.00
    assert results.count(Result.EXCEEDS_CREDITS) == 86
    assert balance(books, ALICE) == 200


def test_every_answer_a_caller_gets_is_already_committed(books: Ledger) -> None:
    """Under load a batch's callers are answered while the next batch is being written: what
    each one is told must already be in the database, seen from another connection."""
    books.create_transfers([Transfer("fund", BANK, ALICE, 90_000, TransferCode.TOP_UP)])

    def pay_and_look(i: int) -> bool:
        (result,) = books.create_transfers([Transfer(f"seen-{i}", ALICE, NOODLES, 1)])
        return result is Result.OK and books.get_transfer(f"seen-{i}") is not None

    with ThreadPoolExecutor(64) as pool:
        seen = list(pool.map(pay_and_look, range(2_000)))
    assert all(seen)
    assert balance(books, NOODLES) == 2_000
    assert books.committer.transfers >= 2_000 and books.committer.batches < 2_000


# PostgreSQL only: on SQLite the next batch cannot begin while another writer holds the file.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_committed_caller_is_answered_while_the_next_batch_waits_for_a_lock(
    books: Ledger, engine: Engine
) -> None:
    """Answers are held until the next batch sends its writes; if that batch waits on a lock
    another process holds, the committed callers are answered anyway, within moments."""
    blocker = engine.connect()
    blocking = blocker.begin()
    blocker.execute(text("SELECT id FROM accounts WHERE id = :id FOR UPDATE"), {"id": FEES})
    waiting: list[Any] = []

    def queue_the_next(_tx: Any, _results: list[Result]) -> None:  # while this batch commits
        waiting.append(books.submit([Transfer("waits-for-fees", ALICE, FEES, 100)]))

    first = books.submit([Transfer("first", ALICE, NOODLES, 100)], hook=queue_the_next)
    answered = threading.Event()
    threading.Thread(target=lambda: (first.result(), answered.set()), daemon=True).start()
    try:
        assert answered.wait(2), "the committed caller waited for another process's lock"
        assert first.result() == [Result.OK] and not waiting[0].done()
    finally:
        blocking.rollback()
        blocker.close()
    assert waiting[0].result() == [Result.OK]


def test_async_callers_get_their_own_results_and_errors(books: Ledger) -> None:
    async def main() -> list[Result]:
        paid = [
            books.create_transfers_async([Transfer(f"async-{i}", ALICE, NOODLES, 100)])
            for i in range(120)
        ]
        results = [r for (r,) in await asyncio.gather(*paid)]
        with pytest.raises(ValueError, match="at most"):
            await books.create_transfers_async(
                [Transfer(f"big-{i}", ALICE, NOODLES, 1) for i in range(BATCH_TRANSFERS_MAX + 1)]
            )
        return results

    results = run_async(main())
    assert results.count(Result.OK) == 100  # 100 x 1.00 = the 100.00 Alice has
    assert results.count(Result.EXCEEDS_CREDITS) == 20
    assert balance(books, ALICE) == 0 and balance(books, NOODLES) == 10_000


def test_two_event_loops_share_the_ledger_and_are_not_kept(books: Ledger) -> None:
    """Answers go to the loop that asked; a finished loop is not kept alive by the ledger."""
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def pay(prefix: str) -> list[Result]:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        paid = [
            books.create_transfers_async([Transfer(f"{prefix}-{i}", ALICE, NOODLES, 10)])
            for i in range(200)
        ]
        return [r for (r,) in await asyncio.gather(*paid)]

    results: dict[str, list[Result]] = {}
    threads = [
        threading.Thread(target=lambda p=p: results.__setitem__(p, asyncio.run(pay(p))))
        for p in ("east", "west")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["east", "west"]
    assert all(len(r) == 200 for r in results.values())
    # 400 payments of 0.10 from Alice's 100.00: all go through, each answered once.
    assert results["east"].count(Result.OK) + results["west"].count(Result.OK) == 400
    assert balance(books, ALICE) == 10_000 - 4_000
    gc.collect()
    assert [ref() for ref in loops] == [None, None]


def answered(books: Ledger, loop: asyncio.AbstractEventLoop) -> bool:
    """The ledger has handed ``loop`` its answer (taken already, or waiting for the loop to run).
    Read from the ledger's private inbox: nothing public says so for a stopped loop."""
    inbox = books._inboxes.get(loop)
    return inbox is not None and inbox._open is not None


def test_an_answer_for_a_loop_closed_meanwhile_keeps_nothing_alive(books: Ledger) -> None:
    """The answer arrives while the loop is stopped, then the loop is closed: both are freed."""

    def run() -> weakref.ref[asyncio.AbstractEventLoop]:
        loop = asyncio.new_event_loop()
        task = loop.create_task(
            books.create_transfers_async([Transfer("orphan", ALICE, NOODLES, 100)])
        )
        loop.run_until_complete(asyncio.sleep(0))  # the call is queued; the loop stops
        # Committed, and its answer handed to the loop (held until it runs, if it has stopped).
        wait_until(lambda: answered(books, loop), timeout_s=5, what="the answer to be handed over")
        task.cancel()
        loop.close()
        return weakref.ref(loop)

    gone = run_in_thread(run)
    gc.collect()
    assert gone() is None
    assert balance(books, NOODLES) == 100  # the payment itself stands


def test_shared_bike_hold_capture_and_release(books: Ledger) -> None:
    books.transfer(
        Transfer(
            "unlock-1",
            ALICE,
            NOODLES,
            9_900,
            TransferCode.HOLD,
            TransferFlags.PENDING,
            timeout_s=3600,
        )
    )
    alice = books.account(ALICE)
    assert alice is not None and alice.balance == 10_000 and alice.available == 100
    with pytest.raises(InsufficientFunds):
        books.transfer(Transfer("coffee", ALICE, NOODLES, 200))
    books.post("lock-1", "unlock-1", 150)
    alice = books.account(ALICE)
    assert alice is not None and alice.balance == 9_850 and alice.available == 9_850
    hold = books.get_hold("unlock-1")
    assert hold is not None and hold.state == HoldState.POSTED and hold.resolved_by == "lock-1"


def test_hold_expires_by_itself_and_cannot_be_captured_after(books: Ledger) -> None:
    books.transfer(
        Transfer(
            "deposit", ALICE, NOODLES, 5_000, TransferCode.HOLD, TransferFlags.PENDING, timeout_s=1
        )
    )
    time.sleep(1.1)  # the hold's one-second timeout passing is what is tested
    alice = books.account(ALICE)  # reading releases the expired hold
    assert alice is not None and alice.available == 10_000
    hold = books.get_hold("deposit")
    assert hold is not None and hold.state == HoldState.EXPIRED
    with pytest.raises(PendingTransferExpired):
        books.post("capture-late", "deposit")


def test_sweeper_releases_every_due_hold(books: Ledger) -> None:
    holds = [
        Transfer(
            f"dep-{i}", ALICE, NOODLES, 100, TransferCode.HOLD, TransferFlags.PENDING, timeout_s=1
        )
        for i in range(5)
    ]
    assert books.create_transfers(holds) == [Result.OK] * 5
    time.sleep(1.1)  # the holds' one-second timeout passing is what is tested
    assert books.expire_due() == 5
    assert books.expire_due() == 0
    assert books.store.accounts([ALICE])[ALICE].debits_pending == 0


def test_void_releases_a_hold(books: Ledger) -> None:
    books.transfer(Transfer("h", ALICE, NOODLES, 500, TransferCode.HOLD, TransferFlags.PENDING))
    books.void("v", "h")
    assert books.create_transfers(
        [Transfer("v2", 0, 0, 0, flags=TransferFlags.VOID_PENDING, pending_id="h")]
    ) == [Result.PENDING_TRANSFER_ALREADY_VOIDED]
    alice = books.account(ALICE)
    assert alice is not None and alice.available == 10_000


def test_transfers_of_an_account_page_in_order(books: Ledger) -> None:
    for i in range(7):
        books.transfer(Transfer(f"p-{i}", ALICE, NOODLES, 10 + i, TransferCode.PAYMENT))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = books.transfers_of(ALICE, cursor, limit=3)
        seen.extend(t.id for t in page.transfers)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["topup-1"] + [f"p-{i}" for i in range(7)]
    merchant_page = books.transfers_of(NOODLES, limit=100)
    assert [t.amount for t in merchant_page.transfers] == [10 + i for i in range(7)]
    for bad in ("'; drop table", "²", "١٢", "9" * 30):  # "²".isdigit(); 10^30 overflows SQLite
        with pytest.raises(ValueError, match="cursor"):
            books.transfers_of(ALICE, bad, limit=3)


def test_the_database_itself_refuses_an_overdraft(books: Ledger, engine: Engine) -> None:
    with pytest.raises(Exception, match="debits_must_not_exceed_credits"), engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET debits_posted = 20000 WHERE id = :a"), {"a": ALICE})
    assert balance(books, ALICE) == 10_000
