"""PostgreSQL: batches worked out from remembered rows and sent on the pipelined connection.

A ledger remembers the accounts it wrote, works the next batch out from them without reading,
and sends it while the one before is still being written. Another process (here: a second
ledger on the same database, with its own memory) may move those accounts in between; a
transfer id may have been written by it; the pipelined connection may die. In every case the
answer must be the one a locked read gives, and money must move exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from saoma.db import make_engine
from saoma.ledger import Account, AccountFlags, AccountKind, Ledger, Result, Transfer, TransferCode

BANK, WALLET, SHOP, OTHER_SHOP = 1, 2, 3, 4


pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.fixture
def here(ledger: Ledger) -> Ledger:
    ledger.create_accounts(
        [
            Account(BANK, "CNY", AccountKind.BANK_CLEARING),
            Account(WALLET, "CNY", flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
            Account(SHOP, "CNY", AccountKind.MERCHANT),
            Account(OTHER_SHOP, "CNY", AccountKind.MERCHANT),
        ]
    )
    return ledger


@pytest.fixture
def elsewhere(db_url: str) -> Iterator[Ledger]:
    """Another server's ledger: the same database, its own remembered rows."""
    engine = make_engine(db_url)
    with Ledger(engine) as ledger:
        yield ledger
    engine.dispose()


def pay(ledger: Ledger, tid: str, debit: int, credit: int, amount: int) -> Result:
    (result,) = ledger.create_transfers(
        [Transfer(tid, debit, credit, amount, TransferCode.PAYMENT)]
    )
    return result


def balances(ledger: Ledger) -> dict[int, int]:
    return {
        i: a.balance for i, a in ledger.store.accounts([BANK, WALLET, SHOP, OTHER_SHOP]).items()
    }


def test_a_wallet_spent_elsewhere_is_not_overdrawn_from_what_this_ledger_remembers(
    here: Ledger, elsewhere: Ledger
) -> None:
    assert pay(here, "top-up", BANK, WALLET, 100) is Result.OK
    assert pay(here, "lunch", WALLET, SHOP, 10) is Result.OK  # here remembers 90 left
    assert pay(elsewhere, "dinner", WALLET, OTHER_SHOP, 80) is Result.OK  # 10 left in truth

    sent_again = here.committer.pipelined_again
    assert pay(here, "groceries", WALLET, SHOP, 50) is Result.EXCEEDS_CREDITS
    assert here.committer.pipelined_again == sent_again + 1  # it went out, and came back
    assert balances(here) == {BANK: -100, WALLET: 10, SHOP: 10, OTHER_SHOP: 80}
    # and what it remembers now is the truth: the last 10 can be spent, not 11
    assert pay(here, "snack", WALLET, SHOP, 11) is Result.EXCEEDS_CREDITS
    assert pay(here, "tea", WALLET, SHOP, 10) is Result.OK
    assert balances(here)[WALLET] == 0


def test_a_wallet_topped_up_elsewhere_can_spend_what_this_ledger_does_not_know_of(
    here: Ledger, elsewhere: Ledger
) -> None:
    assert pay(here, "top-up", BANK, WALLET, 30) is Result.OK
    assert pay(here, "lunch", WALLET, SHOP, 20) is Result.OK  # here remembers 10 left
    assert pay(elsewhere, "top-up-2", BANK, WALLET, 100) is Result.OK  # 110 in truth

    assert pay(here, "groceries", WALLET, SHOP, 50) is Result.OK  # refused only by a locked read
    assert balances(here) == {BANK: -130, WALLET: 60, SHOP: 70, OTHER_SHOP: 0}


def test_a_merchant_credited_elsewhere_keeps_every_credit(here: Ledger, elsewhere: Ledger) -> None:
    assert pay(here, "top-up", BANK, WALLET, 1_000) is Result.OK
    for n in range(5):
        assert pay(here, f"here-{n}", WALLET, SHOP, 7) is Result.OK
        assert pay(elsewhere, f"elsewhere-{n}", WALLET, SHOP, 11) is Result.OK
    assert balances(here) == {BANK: -1_000, WALLET: 1_000 - 90, SHOP: 90, OTHER_SHOP: 0}


def test_a_transfer_written_elsewhere_is_answered_exists_and_moves_money_once(
    here: Ledger, elsewhere: Ledger
) -> None:
    assert pay(here, "top-up", BANK, WALLET, 100) is Result.OK
    assert pay(here, "warm", WALLET, SHOP, 1) is Result.OK
    assert pay(elsewhere, "order-7", WALLET, SHOP, 30) is Result.OK

    assert pay(here, "order-7", WALLET, SHOP, 30) is Result.EXISTS
    assert pay(here, "order-7", WALLET, SHOP, 31) is Result.EXISTS_WITH_DIFFERENT_FIELDS
    assert balances(here) == {BANK: -100, WALLET: 69, SHOP: 31, OTHER_SHOP: 0}


def test_a_retry_of_a_payment_this_ledger_wrote_is_answered_exists(here: Ledger) -> None:
    assert pay(here, "top-up", BANK, WALLET, 100) is Result.OK
    assert pay(here, "order-8", WALLET, SHOP, 30) is Result.OK
    pipelined, sent_again = here.committer.pipelined, here.committer.pipelined_again
    assert pipelined >= 2  # both went the pipelined way

    # What it remembers is up to date, so the retry is sent, and its INSERT meets the id.
    assert pay(here, "order-8", WALLET, SHOP, 30) is Result.EXISTS
    assert here.committer.pipelined_again == sent_again + 1
    assert balances(here) == {BANK: -100, WALLET: 70, SHOP: 30, OTHER_SHOP: 0}


def test_closing_answers_every_caller_of_a_batch_that_goes_again(
    db_url: str, here: Ledger, elsewhere: Ledger
) -> None:
    assert pay(here, "top-up", BANK, WALLET, 1_000) is Result.OK
    engine = make_engine(db_url)
    closing = Ledger(engine)
    try:
        assert pay(closing, "warm", WALLET, SHOP, 1) is Result.OK
        assert pay(elsewhere, "moved", WALLET, OTHER_SHOP, 1) is Result.OK  # now it is stale
        replies = [
            closing.submit([Transfer(f"late-{i}", WALLET, SHOP, 1, TransferCode.PAYMENT)])
            for i in range(40)
        ]
    finally:
        closing.close()
    answers: list[list[Result]] = []
    waiter = threading.Thread(target=lambda: answers.extend(r.result() for r in replies))
    waiter.start()
    waiter.join(30)
    engine.dispose()
    assert not waiter.is_alive(), "a caller was never answered"
    assert answers == [[Result.OK]] * 40
    assert closing.committer.pipelined_again >= 1
    assert balances(here) == {BANK: -1_000, WALLET: 1_000 - 42, SHOP: 41, OTHER_SHOP: 1}


def test_closing_answers_a_batch_reported_as_the_ledger_looks_for_more(
    db_url: str, here: Ledger, elsewhere: Ledger
) -> None:
    """The last pipelined batch did not commit, and its report comes just after the commit
    thread found the queue empty: its requests, queued again, are still applied and answered."""
    assert pay(here, "top-up", BANK, WALLET, 1_000) is Result.OK
    engine = make_engine(db_url)
    closing = Ledger(engine)
    pipeline = closing.committer._pipeline
    assert pipeline is not None
    # The commit thread asks whether batches are still on their way only once the last one's
    # report has run: that report queues its requests again after the queue was found empty.
    pipeline.busy = lambda: (pipeline.wait_idle(), False)[1]  # type: ignore[method-assign]
    try:
        assert pay(closing, "warm", WALLET, SHOP, 1) is Result.OK
        assert pay(elsewhere, "moved", WALLET, OTHER_SHOP, 1) is Result.OK  # now it is stale
        late = closing.submit([Transfer("late", WALLET, SHOP, 1, TransferCode.PAYMENT)])
    finally:
        closing.close()
    answers: list[list[Result]] = []
    waiter = threading.Thread(target=lambda: answers.append(late.result()), daemon=True)
    waiter.start()
    waiter.join(10)
    engine.dispose()
    assert not waiter.is_alive(), "the caller was never answered"
    assert answers == [[Result.OK]]
    assert closing.committer.pipelined_again == 1
    assert balances(here) == {BANK: -1_000, WALLET: 1_000 - 3, SHOP: 2, OTHER_SHOP: 1}


def pipeline_backend(ledger: Ledger) -> int | None:
    pipeline = ledger.committer._pipeline
    assert pipeline is not None
    conn = pipeline._conn
    return None if conn is None else int(conn.dbapi_connection.pgconn.backend_pid)


def test_payments_survive_the_pipelined_connection_dying_under_load(
    here: Ledger, engine: Engine
) -> None:
    """Kill the pipelined connection's server process again and again while 16 callers pay.

    Every payment acknowledged is in the books exactly once, with its money; none is lost.
    """
    assert pay(here, "top-up", BANK, WALLET, 10**9) is Result.OK
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    acknowledged: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()

    def caller(n: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                i += 1
                tid, amount = f"c{n}-{i}", 1 + (n * 7 + i) % 50
                result = pay(here, tid, WALLET, SHOP if i % 2 else OTHER_SHOP, amount)
                assert result in (Result.OK, Result.EXISTS), result
                with lock:
                    acknowledged.append((tid, amount))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    killed = 0
    try:
        deadline = time.monotonic() + 20
        while killed < 5 and time.monotonic() < deadline:
            time.sleep(0.2)  # the pace of the kills, under load: the thing tested
            pid = pipeline_backend(here)
            if pid is not None:
                with admin.connect() as conn:
                    killed += conn.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
                    ).scalar_one()
                    conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        time.sleep(0.3)  # the load goes on a moment after the last kill
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        admin.dispose()
    assert killed == 5
    assert here.committer.pipelined > 0 and here.committer.pipelined_again >= 1

    assert not errors, errors
    with engine.connect() as conn:
        stored: dict[str, int] = dict(
            conn.execute(  # type: ignore[arg-type]
                text("SELECT id, amount FROM transfers WHERE code = :c AND id LIKE 'c%'"),
                {"c": int(TransferCode.PAYMENT)},
            ).all()
        )
    assert len(acknowledged) > 100
    assert len({tid for tid, _ in acknowledged}) == len(acknowledged)
    assert stored == dict(acknowledged)  # each acknowledged payment once, no other
    total = sum(stored.values())
    assert balances(here) == {
        BANK: -(10**9),
        WALLET: 10**9 - total,
        SHOP: sum(a for tid, a in stored.items() if int(tid.split("-")[1]) % 2),
        OTHER_SHOP: sum(a for tid, a in stored.items() if not int(tid.split("-")[1]) % 2),
    }
