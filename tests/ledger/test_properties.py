"""Any sequence of transfers, holds, posts, voids, failures and retries keeps the books whole.

A stateful Hypothesis test drives the real ledger (on a fresh SQLite file per example) beside a
model of a dozen lines; after every step the balances agree with the model, no wallet is below
zero, and the reconciliation check passes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from saoma.db import make_engine, migrate
from saoma.ledger import (
    Account,
    AccountFlags,
    AccountKind,
    Ledger,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)
from saoma.ledger.check import check_ledger

BANK, WALLETS, SHOP = 1, (10, 11, 12), 20
ACCOUNTS = (BANK, *WALLETS, SHOP)
_template: list[Path] = []


def template() -> Path:
    if not _template:
        path = Path(tempfile.mkdtemp()) / "template.db"
        migrate(f"sqlite:///{path}")
        _template.append(path)
    return _template[0]


class Books(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        shutil.copy(template(), self.dir / "saoma.db")
        self.engine = make_engine(f"sqlite:///{self.dir / 'saoma.db'}")
        self.ledger = Ledger(self.engine)
        self.ledger.create_accounts(
            [
                Account(BANK, "CNY", AccountKind.BANK_CLEARING),
                Account(SHOP, "CNY", AccountKind.MERCHANT),
            ]
            + [
                Account(
                    w,
                    "CNY",
                    AccountKind.CONSUMER_WALLET,
                    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                )
                for w in WALLETS
            ]
        )
        self.posted = dict.fromkeys(ACCOUNTS, 0)  # credits less debits, posted
        self.held = dict.fromkeys(ACCOUNTS, 0)  # debits pending
        self.holds: dict[str, tuple[int, int, int]] = {}  # open holds: id → debit, credit, amount
        self.done: dict[str, Transfer] = {}
        self.n = 0

    def next_id(self) -> str:
        self.n += 1
        return f"t{self.n}"

    def can_spend(self, account: int, amount: int) -> bool:
        if account not in WALLETS:
            return True
        return self.posted[account] - self.held[account] >= amount

    @rule(wallet=st.sampled_from(WALLETS), amount=st.integers(1, 5_000))
    def top_up(self, wallet: int, amount: int) -> None:
        t = Transfer(self.next_id(), BANK, wallet, amount, TransferCode.TOP_UP)
        assert self.ledger.create_transfers([t]) == [Result.OK]
        self.posted[BANK] -= amount
        self.posted[wallet] += amount
        self.done[t.id] = t

    @rule(
        debit=st.sampled_from(WALLETS),
        credit=st.sampled_from((*WALLETS, SHOP)),
        amount=st.integers(1, 4_000),
    )
    def pay(self, debit: int, credit: int, amount: int) -> None:
        t = Transfer(self.next_id(), debit, credit, amount, TransferCode.PAYMENT)
        (result,) = self.ledger.create_transfers([t])
        if debit == credit:
            assert result is Result.ACCOUNTS_MUST_BE_DIFFERENT
        elif self.can_spend(debit, amount):
            assert result is Result.OK
            self.posted[debit] -= amount
            self.posted[credit] += amount
            self.done[t.id] = t
        else:
            assert result is Result.EXCEEDS_CREDITS

    @rule(wallet=st.sampled_from(WALLETS), amount=st.integers(1, 4_000), fee=st.integers(1, 500))
    def pay_with_fee(self, wallet: int, amount: int, fee: int) -> None:
        """Payment and fee linked: the fee fails when the shop cannot cover it, and so does all."""
        pay = Transfer(
            self.next_id(), wallet, SHOP, amount, TransferCode.PAYMENT, TransferFlags.LINKED
        )
        cut = Transfer(self.next_id(), SHOP, BANK, fee, TransferCode.FEE)
        results = self.ledger.create_transfers([pay, cut])
        if self.can_spend(wallet, amount):
            assert results == [Result.OK, Result.OK]
            self.posted[wallet] -= amount
            self.posted[SHOP] += amount - fee
            self.posted[BANK] += fee
        else:
            assert results[0] is Result.EXCEEDS_CREDITS and results[1] is Result.LINKED_EVENT_FAILED

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """The same request again moves nothing; the same id with another body is refused."""
        t = data.draw(st.sampled_from(sorted(self.done)))
        original = self.done[t]
        assert self.ledger.create_transfers([original]) == [Result.EXISTS]
        changed = Transfer(
            t,
            original.debit_account_id,
            original.credit_account_id,
            original.amount + 1,
            original.code,
        )
        assert self.ledger.create_transfers([changed]) == [Result.EXISTS_WITH_DIFFERENT_FIELDS]

    @rule(wallet=st.sampled_from(WALLETS), amount=st.integers(1, 4_000))
    def hold(self, wallet: int, amount: int) -> None:
        t = Transfer(
            self.next_id(),
            wallet,
            SHOP,
            amount,
            TransferCode.HOLD,
            TransferFlags.PENDING,
            timeout_s=3600,
        )
        (result,) = self.ledger.create_transfers([t])
        if self.can_spend(wallet, amount):
            assert result is Result.OK
            self.held[wallet] += amount
            self.holds[t.id] = (wallet, SHOP, amount)
        else:
            assert result is Result.EXCEEDS_CREDITS

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), part=st.integers(0, 100))
    def capture(self, data: st.DataObject, part: int) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        wallet, credit, amount = self.holds.pop(hold_id)
        take = max(1, amount * part // 100)
        assert self.ledger.post(self.next_id(), hold_id, take) is Result.OK
        self.held[wallet] -= amount
        self.posted[wallet] -= take
        self.posted[credit] += take

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        wallet, _credit, amount = self.holds.pop(hold_id)
        assert self.ledger.void(self.next_id(), hold_id) is Result.OK
        self.held[wallet] -= amount

    @invariant()
    def balances_agree(self) -> None:
        stored = self.ledger.accounts(ACCOUNTS)
        for account in ACCOUNTS:
            a = stored[account]
            assert a.balance == self.posted[account], account
            assert a.debits_pending == self.held[account], account
        assert all(stored[w].available >= 0 for w in WALLETS)
        assert sum(self.posted.values()) == 0

    def teardown(self) -> None:
        self.ledger.close()
        report = check_ledger(self.engine)
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)
        assert report.ok, report.problems


TestBooks = Books.TestCase
TestBooks.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
