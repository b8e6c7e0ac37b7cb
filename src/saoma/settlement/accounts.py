"""A merchant's bank account for payouts: registered, verified by the bank, changed with the PIN.

The bank verifies a new account before Saoma pays into it (the sandbox: a one-cent test credit
taken back; an account that does not exist fails). Rows are never deleted: a change adds a row,
and the account it replaces is marked ``replaced`` once the new one is verified, so the history of
changes is the table itself. The merchant is told of each outcome by a webhook.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import InvalidRequest, ManagerPinNotSet, not_found
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read
from saoma.funding.bank import BankConnector, BankOutcome
from saoma.merchants.service import Merchant, Merchants
from saoma.movements import Movements, Unit
from saoma.settlement import tables as t

ACCOUNT_NUMBER = re.compile(r"[0-9]{8,34}")
VERIFY_PREFIX = "bv_"
VERIFY_TIMEOUT_US = 10 * 60 * 1_000_000  # the bank has ten minutes to verify an account
GAVE_UP = "the bank did not answer in time"


def masked(number: str) -> str:
    """What is shown of an account number: its last four digits."""
    return "•••• " + number[-4:]


def account_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "holder_name": row["holder_name"],
        "account_number": masked(row["account_number"]),
        "bank_name": row["bank_name"],
        "state": row["state"],
        "failure": row["failure"],
        "created_at": rfc3339(row["created_at_us"]),
        "updated_at": rfc3339(row["updated_at_us"]),
    }


class BankAccounts:
    def __init__(self, engine: Engine, merchants: Merchants, movements: Movements) -> None:
        self.engine = engine
        self.merchants = merchants
        self.movements = movements
        self.bank: BankConnector | None = None
        self.on_verified: Callable[[str], object] = lambda _merchant_id: None

    def register(
        self,
        merchant: Merchant,
        *,
        holder_name: str,
        account_number: str,
        bank_name: str = "",
        manager_pin: str | None,
    ) -> dict[str, Any]:
        """Add an account and ask the bank to verify it. Once a merchant has a manager PIN, or
        already has an account, only the PIN can change where its money goes."""
        number = "".join(account_number.split())
        if not ACCOUNT_NUMBER.fullmatch(number):
            raise InvalidRequest(
                "an account number is 8 to 34 digits (spaces allowed)", field="account_number"
            )
        holder = " ".join(holder_name.split())
        if not 1 <= len(holder) <= 70:
            raise InvalidRequest(
                "the account holder's name is 1 to 70 characters", field="holder_name"
            )
        bank_name = " ".join(bank_name.split())
        if len(bank_name) > 70:
            raise InvalidRequest("the bank's name is at most 70 characters", field="bank_name")
        has_account = self._latest(merchant.id) is not None
        if merchant.has_manager_pin:
            if manager_pin is None:
                raise InvalidRequest(
                    "changing the bank account needs the manager PIN", field="manager_pin"
                )
            self.merchants.verify_manager_pin(merchant.id, manager_pin)
        elif has_account:
            raise ManagerPinNotSet(
                "set a manager PIN first: only it can change the bank account",
                field="manager_pin",
            )
        now = now_us()
        row = {
            "id": new_id("ba"),
            "merchant_id": merchant.id,
            "holder_name": holder,
            "account_number": number,
            "bank_name": bank_name,
            "state": "verifying",
            "failure": "",
            "created_at_us": now,
            "updated_at_us": now,
        }
        view = account_view(row)

        def record(unit: Unit) -> None:
            unit.insert(t.merchant_bank_accounts, row)
            unit.emit(
                "bank_account.added",
                subject=str(row["id"]),
                data=view,
                at_us=now,
                merchant_id=merchant.id,
                url=merchant.webhook_url,
            )

        self.movements.record_alone(record)
        self._verify(str(row["id"]), number, holder)
        return view

    def _verify(self, account_id: str, number: str, holder: str) -> None:
        assert self.bank is not None
        self.bank.verify_account(VERIFY_PREFIX + account_id, number, holder)

    def answered(self, outcome: BankOutcome) -> None:
        """The bank's answer to a verification: the account is verified (and the one before it
        replaced) or failed, once; the merchant is told."""
        account_id = outcome.instruction_id.removeprefix(VERIFY_PREFIX)
        row = self._row(account_id)
        if row is None or row.state != "verifying":
            return
        merchant = self.merchants.get(row.merchant_id)
        now = now_us()
        state = "verified" if outcome.succeeded else "failed"
        view = account_view({**row._mapping, "state": state, "failure": outcome.failure})

        def record(unit: Unit) -> None:
            done = unit.execute(
                "UPDATE merchant_bank_accounts SET state = :state, failure = :failure,"
                " updated_at_us = :now WHERE id = :id AND state = 'verifying'",
                {"state": state, "failure": outcome.failure, "now": now, "id": account_id},
            )
            if done.rowcount != 1:
                return
            if outcome.succeeded:
                unit.execute(
                    "UPDATE merchant_bank_accounts SET state = 'replaced', updated_at_us = :now"
                    " WHERE merchant_id = :m AND state = 'verified' AND id <> :id",
                    {"now": now, "m": row.merchant_id, "id": account_id},
                )
                unit.after(lambda: self._verified(row.merchant_id))
            unit.emit(
                f"bank_account.{state}",
                subject=account_id,
                data=view,
                at_us=now,
                merchant_id=merchant.id,
                url=merchant.webhook_url,
            )

        self.movements.record_alone(record)

    def resend_verifying(self) -> int:
        """Ask the bank again about every account it has not answered for (at a server's start:
        the process that asked may have died first). The bank answers once per id."""
        mba = t.merchant_bank_accounts.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(mba.id, mba.account_number, mba.holder_name).where(mba.state == "verifying")
            ).all()
        for row in rows:
            self._verify(row.id, row.account_number, row.holder_name)
        return len(rows)

    def _verified(self, merchant_id: str) -> None:
        self.on_verified(merchant_id)

    def time_out_stale(self, now: int | None = None) -> int:
        """Give up on verifications the bank never answered (the merchant can try again)."""
        cutoff = (now_us() if now is None else now) - VERIFY_TIMEOUT_US
        with read(self.engine) as conn:
            stale = conn.execute(
                select(t.merchant_bank_accounts.c.id).where(
                    t.merchant_bank_accounts.c.state == "verifying",
                    t.merchant_bank_accounts.c.created_at_us < cutoff,
                )
            ).scalars()
            ids = list(stale)
        for account_id in ids:
            self.answered(BankOutcome(VERIFY_PREFIX + account_id, False, "", GAVE_UP))
        return len(ids)

    def _row(self, account_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(t.merchant_bank_accounts).where(t.merchant_bank_accounts.c.id == account_id)
            ).first()

    def _latest(self, merchant_id: str, state: str | None = None) -> Any:
        mba = t.merchant_bank_accounts.c
        query = select(t.merchant_bank_accounts).where(mba.merchant_id == merchant_id)
        if state is not None:
            query = query.where(mba.state == state)
        with read(self.engine) as conn:
            return conn.execute(query.order_by(mba.created_at_us.desc(), mba.id).limit(1)).first()

    def current(self, merchant_id: str) -> Any:
        """The verified account payouts go to, or None."""
        return self._latest(merchant_id, "verified")

    def of(self, merchant: Merchant) -> dict[str, Any]:
        """The merchant's accounts, newest first: the one in use, one being verified, history."""
        mba = t.merchant_bank_accounts.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.merchant_bank_accounts)
                .where(mba.merchant_id == merchant.id)
                .order_by(mba.created_at_us.desc(), mba.id)
                .limit(50)
            ).all()
        current = next((r for r in rows if r.state == "verified"), None)
        return {
            "current": account_view(current._mapping) if current is not None else None,
            "data": [account_view(r._mapping) for r in rows],
        }

    def get(self, merchant: Merchant, account_id: str) -> dict[str, Any]:
        row = self._row(account_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("bank account", account_id)
        return account_view(row._mapping)
