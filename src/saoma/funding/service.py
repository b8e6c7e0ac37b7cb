"""Money in and out of wallets through a bank connector: top-ups and withdrawals.

A top-up is recorded as pending, sent to the bank, and credited only when the bank confirms it.
A withdrawal first holds the amount in the wallet (a pending transfer to bank clearing), so the
money cannot be spent twice while the bank works; the bank's answer posts or voids the hold.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.core import request_ids
from saoma.core.errors import (
    AlreadySettled,
    AmountTooLarge,
    InstructionInProgress,
    PinRequired,
    not_found,
)
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read, write, write_one
from saoma.funding import tables as m
from saoma.funding.bank import BankConnector, BankOutcome
from saoma.ledger import Result, Transfer, TransferCode, TransferFlags
from saoma.movements import Record, Refused, Unit
from saoma.pagination import check_limit, choice, newest_first, parse_time_cursor, time_page_of
from saoma.payments import idempotency
from saoma.payments.service import Payments, check_amount, derived_id
from saoma.wallets import tables as wallet_tables
from saoma.wallets.service import Consumer

log = logging.getLogger(__name__)

TOP_UP_MAX = 5_000_000  # ¥50,000 per top-up
BANK_TIMEOUT_US = 10 * 60 * 1_000_000  # the bank has 10 minutes to answer
GAVE_UP = "the bank did not answer in time"
PAID_LATE_SHORT = "the bank paid after the give-up; the wallet could not cover it"
STUCK = "still pending after the give-up: is the maintenance pass running?"
SETTLED_SQL = (
    "UPDATE bank_transfers SET state = :state, bank_reference = :ref, failure = :failure,"
    " updated_at_us = :now WHERE id = :id AND state = 'pending'"
)
SETTLED_LATE_SQL = (
    "UPDATE bank_transfers SET state = 'succeeded', bank_reference = :ref, failure = '',"
    " updated_at_us = :now WHERE id = :id AND state = 'failed' AND failure = :gave_up"
)
RESEND_AFTER_US = 60 * 1_000_000  # an instruction unanswered this long is sent to the bank again
RESEND_CUTOFF_US = 2 * 60 * 1_000_000  # ... unless it is within this of the give-up
WITHDRAW_HOLD_S = 24 * 3600


def bank_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "direction": row["direction"],
        "amount": row["amount"],
        "currency": row["currency"],
        "state": row["state"],
        "failure": row["failure"],
        "created_at": rfc3339(row["created_at_us"]),
    }


def needing_attention(engine: Engine, now: int | None = None) -> list[dict[str, Any]]:
    """Instructions only a person can settle, oldest first.

    A payout the bank made after the give-up that the wallet could no longer cover (the consumer
    has the money from the bank; the wallet was not debited), and an instruction still pending
    past the give-up (the maintenance pass that gives up is not running).
    """
    now = now_us() if now is None else now
    bt = m.bank_transfers
    with read(engine) as conn:
        rows = conn.execute(
            select(bt, wallet_tables.consumers.c.login)
            .join(wallet_tables.consumers, wallet_tables.consumers.c.id == bt.c.consumer_id)
            .where(
                ((bt.c.state == "failed") & (bt.c.failure == PAID_LATE_SHORT))
                | ((bt.c.state == "pending") & (bt.c.created_at_us < now - BANK_TIMEOUT_US))
            )
            .order_by(bt.c.created_at_us, bt.c.id)
        ).all()
    return [
        {
            **bank_view(row._mapping),
            "consumer_id": row.consumer_id,
            "login": row.login,
            "bank_reference": row.bank_reference,
            "why": row.failure if row.state == "failed" else STUCK,
            "updated_at": rfc3339(row.updated_at_us),
        }
        for row in rows
    ]


def instruction_id(claim: idempotency.Claim | None, direction: str = "topup") -> str:
    """The bank instruction's id: from the Idempotency-Key when there is one, so a request run
    twice (a retry that took over a slow first attempt) is one instruction, not two; a
    withdrawal's apart from a top-up's, which a key purged since may have made."""
    if claim is None:
        return new_id("bt")
    seed = claim.seed if direction == "topup" else f"{claim.seed}\x1f{direction}"
    return "bt_" + hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()


class Funding:
    def __init__(self, engine: Engine, payments: Payments) -> None:
        self.engine = engine
        self.payments = payments
        self.ledger = payments.ledger
        self.bank: BankConnector | None = None

    def top_up(
        self, consumer: Consumer, amount: int, *, claim: idempotency.Claim | None = None
    ) -> dict[str, Any]:
        amount = check_amount(amount)
        if amount > TOP_UP_MAX:
            raise AmountTooLarge(f"a top-up is at most {TOP_UP_MAX}", field="amount")
        assert self.bank is not None
        now = now_us()
        row = {
            "id": instruction_id(claim),
            "consumer_id": consumer.id,
            "direction": "topup",
            "amount": amount,
            "currency": consumer.currency,
            "state": "pending",
            "bank_reference": "",
            "failure": "",
            "created_at_us": now,
            "updated_at_us": now,
            "request_id": request_ids.current_id(),
        }
        try:
            with write(self.engine) as conn:
                conn.execute(m.bank_transfers.insert().values(**row))
        except IntegrityError:
            return self._again(row, consumer)
        if claim is not None:
            idempotency.finish(self.engine, claim, 202, bank_view(row))
        self.bank.collect(str(row["id"]), amount, consumer.currency, consumer.id)
        return bank_view(row)

    def withdraw(
        self,
        consumer: Consumer,
        amount: int,
        *,
        pin: str | None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        amount = check_amount(amount)
        assert self.bank is not None
        if pin is None:
            raise PinRequired("confirm the withdrawal with your PIN", field="pin")
        self.payments.wallets.verify_pin(consumer.id, pin)
        now = now_us()
        bt_id = instruction_id(claim, "withdraw")
        row = {
            "id": bt_id,
            "consumer_id": consumer.id,
            "direction": "withdraw",
            "amount": amount,
            "currency": consumer.currency,
            "state": "pending",
            "bank_reference": "",
            "failure": "",
            "created_at_us": now,
            "updated_at_us": now,
            "request_id": request_ids.current_id(),
        }
        hold = Transfer(
            derived_id("wd", bt_id),
            consumer.account_id,
            self.payments.bank_account,
            amount,
            TransferCode.WITHDRAWAL,
            TransferFlags.PENDING,
            timeout_s=WITHDRAW_HOLD_S,
            ref=bt_id,
        )
        view = bank_view(row)

        def record(unit: Unit) -> None:
            unit.insert(m.bank_transfers, row)
            idempotency.finish_in(unit, claim, 202, view)

        moved = self.payments.movements.move([hold], record)
        if isinstance(moved, Refused):
            # Made before under this key: the same withdrawal, or another one refused.
            if moved.results[0] in (Result.EXISTS, Result.EXISTS_WITH_DIFFERENT_FIELDS):
                return self._again(row, consumer)
            raise moved.problem()
        self.bank.pay_out(bt_id, amount, consumer.currency, consumer.id)
        return view

    def _again(self, asked: dict[str, Any], consumer: Consumer) -> dict[str, Any]:
        """The same instruction once more: while pending it is sent to the bank again (a bank
        keeps one outcome per instruction id), and the answer is the instruction as it stands.
        Another one under the key (purged since) is refused."""
        assert self.bank is not None
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.bank_transfers).where(m.bank_transfers.c.id == asked["id"])
            ).first()
        if row is None or row.consumer_id != consumer.id:
            raise InstructionInProgress("this request is already being handled")
        idempotency.same_request(row, asked, ("direction", "amount", "currency"))
        if row.state == "pending":
            self._send(row)
        return bank_view(row._mapping)

    def _send(self, row: Any) -> None:
        assert self.bank is not None
        send = self.bank.collect if row.direction == "topup" else self.bank.pay_out
        send(row.id, row.amount, row.currency, row.consumer_id)

    def settled(self, outcome: BankOutcome) -> None:
        """The bank's answer to an instruction (the connector calls this)."""
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.bank_transfers).where(m.bank_transfers.c.id == outcome.instruction_id)
            ).first()
        if row is None:
            return
        if row.state != "pending":
            if row.state == "failed" and row.failure == GAVE_UP and outcome.succeeded:
                self._late_success(row, outcome)
            return
        consumer = self.payments.wallets.get(row.consumer_id)
        now = now_us()
        state = "succeeded" if outcome.succeeded else "failed"
        data = bank_view({**row._mapping, "state": state, "failure": outcome.failure})
        answer = {"state": state, "ref": outcome.bank_reference, "failure": outcome.failure}
        record = self._recorder(row, consumer, data, now, SETTLED_SQL, answer)

        pending_id = derived_id("wd", row.id)
        if row.direction == "topup" and outcome.succeeded:
            transfers = [self._credit(row, consumer)]
        elif row.direction == "withdraw":
            flags = TransferFlags.POST_PENDING if outcome.succeeded else TransferFlags.VOID_PENDING
            code = TransferCode.WITHDRAWAL if outcome.succeeded else TransferCode.RELEASE
            transfers = [
                Transfer(derived_id("wds", row.id), 0, 0, 0, code, flags, pending_id, ref=row.id)
            ]
        else:  # a declined top-up moves no money
            with write(self.engine) as conn:
                conn.execute(
                    update(m.bank_transfers)
                    .where(m.bank_transfers.c.id == row.id, m.bank_transfers.c.state == "pending")
                    .values(state="failed", failure=outcome.failure, updated_at_us=now)
                )
            return
        moved = self.payments.movements.move(transfers, record)
        if isinstance(moved, Refused) and not all(r is Result.EXISTS for r in moved.results):
            raise moved.problem()

    def resend_pending(self, older_than_us: int = RESEND_AFTER_US) -> int:
        """Send the bank again every instruction it has not answered for ``older_than_us``.

        A bank takes an instruction once per id, so sending it again moves nothing twice; it is
        how an instruction outlives a crash between being recorded and being sent, or a server
        killed before the bank's answer reached it (at start every pending one goes again).
        Nothing is sent in the last ``RESEND_CUTOFF_US`` before the give-up: the bank would act
        on it just as Saoma stops waiting. Returns how many were sent.
        """
        now = now_us()
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.bank_transfers).where(
                    m.bank_transfers.c.state == "pending",
                    m.bank_transfers.c.updated_at_us <= now - older_than_us,
                    m.bank_transfers.c.created_at_us > now - BANK_TIMEOUT_US + RESEND_CUTOFF_US,
                )
            ).all()
        sent = 0
        for row in rows:
            with write_one(self.engine) as conn:  # one process sends it; the next waits its turn
                taken = conn.execute(
                    update(m.bank_transfers)
                    .where(
                        m.bank_transfers.c.id == row.id,
                        m.bank_transfers.c.state == "pending",
                        m.bank_transfers.c.updated_at_us == row.updated_at_us,
                    )
                    .values(updated_at_us=now)
                )
            if taken.rowcount != 1:
                continue
            try:
                self._send(row)
                sent += 1
            except Exception:  # the bank unreachable: the next pass tries again
                log.exception("could not send bank instruction %s again", row.id)
        return sent

    @staticmethod
    def _recorder(
        row: Any,
        consumer: Consumer,
        data: dict[str, Any],
        now: int,
        sql: str,
        params: dict[str, Any],
    ) -> Record:
        """In the ledger's commit: the instruction's new state (``sql``, once) and its event."""

        def record(unit: Unit) -> None:
            if unit.execute(sql, {**params, "now": now, "id": row.id}).rowcount != 1:
                raise AlreadySettled("the bank transfer was already settled")
            unit.emit(
                f"{row.direction}.{data['state']}",
                subject=row.id,
                data=data,
                at_us=now,
                consumer_id=consumer.id,
            )

        return record

    def time_out_stale(self) -> int:
        """Give up on instructions the bank never answered; a withdrawal's hold is released."""
        cutoff = now_us() - BANK_TIMEOUT_US
        with read(self.engine) as conn:
            stale = (
                conn.execute(
                    select(m.bank_transfers.c.id).where(
                        m.bank_transfers.c.state == "pending",
                        m.bank_transfers.c.created_at_us < cutoff,
                    )
                )
                .scalars()
                .all()
            )
        for bt_id in stale:
            self.settled(BankOutcome(bt_id, False, "", GAVE_UP))
        return len(stale)

    def _credit(self, row: Any, consumer: Consumer) -> Transfer:
        """A top-up's credit: one id per instruction, so it lands once however it is answered."""
        return Transfer(
            derived_id("top", row.id),
            self.payments.bank_account,
            consumer.account_id,
            row.amount,
            TransferCode.TOP_UP,
            ref=row.id,
        )

    def _late_success(self, row: Any, outcome: BankOutcome) -> None:
        """The bank moved the money after Saoma gave up: the wallet is put right.

        A top-up is credited now. A withdrawal, whose hold was released at the give-up, is
        debited now; if the wallet no longer holds enough, the instruction keeps its failed state
        with a failure saying so, for an operator to settle with the consumer.
        """
        consumer = self.payments.wallets.get(row.consumer_id)
        now = now_us()
        if row.direction == "topup":
            transfer = self._credit(row, consumer)  # the very transfer a timely answer makes
        else:
            transfer = Transfer(
                derived_id("wdl", row.id),
                consumer.account_id,
                self.payments.bank_account,
                row.amount,
                TransferCode.WITHDRAWAL,
                ref=row.id,
            )
        data = bank_view({**row._mapping, "state": "succeeded", "failure": ""})
        answer = {"ref": outcome.bank_reference, "gave_up": GAVE_UP}
        record = self._recorder(row, consumer, data, now, SETTLED_LATE_SQL, answer)
        moved = self.payments.movements.move([transfer], record, booked=True)
        if isinstance(moved, Refused) and moved.results[0] is not Result.EXISTS:
            log.error(
                "the bank paid out %s after the give-up and wallet %s cannot cover it (%s)",
                row.id,
                consumer.id,
                moved.results[0].name,
            )
            with write(self.engine) as conn:
                conn.execute(
                    update(m.bank_transfers)
                    .where(m.bank_transfers.c.id == row.id, m.bank_transfers.c.state == "failed")
                    .values(
                        failure=PAID_LATE_SHORT,
                        bank_reference=outcome.bank_reference,  # what to settle it by
                        updated_at_us=now,
                    )
                )

    def bank_transfers_of(
        self,
        consumer: Consumer,
        *,
        cursor: str | None = None,
        limit: int = 20,
        direction: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of the consumer's top-ups and withdrawals, newest first."""
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        direction = choice(direction, "direction", ("topup", "withdraw"))
        state = choice(state, "state", ("pending", "succeeded", "failed"))
        bt = m.bank_transfers.c
        query = select(m.bank_transfers).where(bt.consumer_id == consumer.id)
        if direction is not None:
            query = query.where(bt.direction == direction)
        if state is not None:
            query = query.where(bt.state == state)
        query = newest_first(query, bt.created_at_us, bt.id, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        return {"data": [bank_view(r._mapping) for r in rows], "next_cursor": next_cursor}

    def get(self, consumer: Consumer, bt_id: str) -> dict[str, Any]:
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.bank_transfers).where(m.bank_transfers.c.id == bt_id)
            ).first()
        if row is None or row.consumer_id != consumer.id:
            raise not_found("bank transfer", bt_id)
        return bank_view(dict(row._mapping))
