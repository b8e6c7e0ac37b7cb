"""Settlement: each merchant's settled money, taken line by line and paid to its bank.

A settlement is made in two steps, each safe to repeat and to run in several processes at once:

1. **Close** (one database transaction). The settlement's row is inserted — its (merchant, kind,
   cut-off) is unique, so of two processes one makes it and the other moves on — and it takes its
   lines: every posted ledger transfer on the merchant's account before the cut-off that no
   settlement has taken (payments, captures, fees, refunds, splits, subsidies, budgets, released
   reserves), and what earlier settlements carried over. A line's ``source`` (the transfer's id)
   is unique, so a movement belongs to exactly one settlement. The sums, the reserve held back,
   the instant-payout fee and the payout follow from the lines; what cannot be paid now (money
   already taken by later refunds, a negative day) is carried into the next settlement.
2. **Move** (one ledger movement). The reserve and the fee are moved, the payout goes from the
   merchant's account to settlement clearing and, as a hold, from clearing to the bank; the payout
   instruction is recorded in the same commit and sent to the bank after it. Transfer ids derive
   from the settlement's id, so a repeat after a crash moves nothing twice; a settlement closed but
   not moved is moved by the next pass.

The bank's answers are in :mod:`saoma.settlement.payouts`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import AlreadySettled, BankAccountMissing, Frozen, NothingToSettle
from saoma.core.ids import new_id, now_us
from saoma.core.money import rate_of
from saoma.db import is_sqlite, read, write
from saoma.freezes.guard import refuse_payout
from saoma.freezes.tables import frozen
from saoma.ledger import AccountKind, Result, Transfer, TransferCode, TransferFlags
from saoma.merchants.service import Merchant, Merchants
from saoma.movements import Movements, Refused, Unit
from saoma.payments.rows import derived_id, system_account_id
from saoma.settlement import tables as t
from saoma.settlement.accounts import BankAccounts
from saoma.settlement.splits import hold_for_close
from saoma.settlement.terms import Terms, business_date, last_cutoff

log = logging.getLogger(__name__)

PAYOUT_HOLD_S = 7 * 24 * 3600  # a payout's hold outlives any give-up on the bank
RUN_THREADS = 4  # merchants a settlement run settles at once on PostgreSQL
NOT_LINES = (int(TransferCode.SETTLEMENT), int(TransferCode.ALLOWANCE))
KINDS = {
    TransferCode.PAYMENT: "payment",
    TransferCode.CAPTURE: "capture",
    TransferCode.FEE: "fee",
    TransferCode.REFUND: "refund",
    TransferCode.SPLIT: "split",
    TransferCode.RESERVE: "reserve",
    TransferCode.SUBSIDY: "subsidy",
    TransferCode.BUDGET: "budget",
}
_KIND_SQL = "CASE t.code " + " ".join(f"WHEN {int(c)} THEN '{k}'" for c, k in KINDS.items())
_KIND_SQL += " ELSE 'other' END"
# The lines a settlement takes: one statement per side of the merchant's account, so each uses
# that side's index. A transfer a settlement of this merchant already took is left by the unique
# (source, merchant) itself (ON CONFLICT, not an anti-join: that probes the same index a second
# time, and planned while settlement_lines is still empty it scans the whole table per transfer).
_TAKE_LINES = [
    "INSERT INTO settlement_lines (source, settlement_id, merchant_id, kind, ref, amount, at_us)"
    f" SELECT t.id, :sid, CAST(:mid AS VARCHAR(32)), {_KIND_SQL}, t.ref, {sign}t.amount,"
    " t.created_at_us"
    f" FROM transfers t WHERE t.{side}_account_id = :acct AND (t.flags & 10) = 0"
    f" AND t.code NOT IN {NOT_LINES} AND t.created_at_us < :cutoff"
    " ON CONFLICT (source, merchant_id) DO NOTHING"
    for side, sign in (("credit", ""), ("debit", "-"))
]
_TAKE_CARRIED = (
    "INSERT INTO settlement_lines (source, settlement_id, merchant_id, kind, ref, amount, at_us)"
    " SELECT 'carry:' || s.id, CAST(:sid AS VARCHAR(32)), s.merchant_id, 'carried', s.id,"
    " s.carried_out, :now"
    " FROM settlements s WHERE s.merchant_id = :mid AND s.consumed_by IS NULL"
    " AND s.carried_out <> 0 AND s.state <> 'open' AND s.id <> :sid"
)
_CONSUME_CARRIED = (  # those whose lines it took (looked for anew, one closed since is found too)
    "UPDATE settlements SET consumed_by = :sid WHERE consumed_by IS NULL AND id IN"
    " (SELECT ref FROM settlement_lines WHERE settlement_id = :sid AND kind = 'carried')"
)


@dataclass(frozen=True)
class Policy:
    """What the operator configures for payouts."""

    instant_max: int = 500_000  # an instant payout pays at most this
    instant_fee_ppm: int = 1_000  # and costs this share of it
    default_overdraft: int = 50_000


class _Empty(Exception):
    """Nothing to take: the settlement is not made."""


def _line_sums(conn: Connection, sid: str) -> tuple[dict[str, int], int]:
    """A settlement's lines added up by kind, and how many there are."""
    sums: dict[str, int] = {}
    count = 0
    for line_kind, total, n in conn.execute(
        text(
            "SELECT kind, SUM(amount), COUNT(*) FROM settlement_lines"
            " WHERE settlement_id = :sid GROUP BY kind"
        ),
        {"sid": sid},
    ):
        sums[line_kind] = int(total)
        count += int(n)
    return sums, count


def stl_ids(sid: str, attempt: int) -> tuple[str, str]:
    """The transfers of a payout attempt: to settlement clearing, and the bank's hold."""
    return derived_id("stl", sid, str(attempt)), derived_id("po", sid, str(attempt))


def instruction_id(sid: str, attempt: int) -> str:
    return f"po_{sid.removeprefix('stl_')}_{attempt}"


# An allowance moves with its amount in one commit: read together, never half of it is seen.
_OWN = text(
    "SELECT a.credits_posted - a.debits_posted - a.debits_pending - COALESCE(s.overdraft_granted,"
    " 0) FROM accounts a LEFT JOIN settlement_terms s ON s.merchant_id = :m WHERE a.id = :id"
)


class Settlements:
    def __init__(
        self,
        engine: Engine,
        merchants: Merchants,
        movements: Movements,
        accounts: BankAccounts,
        *,
        currency: str,
        tz: ZoneInfo,
        policy: Policy | None = None,
    ) -> None:
        self.engine = engine
        self.merchants = merchants
        self.movements = movements
        self.accounts = accounts
        self.currency = currency
        self.tz = tz
        self.policy = policy or Policy()
        self.clearing = system_account_id(currency, AccountKind.SETTLEMENT_CLEARING)
        self.reserve_account = system_account_id(currency, AccountKind.RESERVE)
        self.bank_account = system_account_id(currency, AccountKind.BANK_CLEARING)
        self.fees_account = system_account_id(currency, AccountKind.PLATFORM_FEES)
        self.terms = Terms(
            engine,
            movements,
            overdraft_account=system_account_id(currency, AccountKind.OVERDRAFT),
            default_overdraft=self.policy.default_overdraft,
        )
        self.on_moved: Any = None  # set by payouts: sends the instruction after the commit

    # --- the scheduled run ----------------------------------------------------------------------

    def run(self, now: int | None = None, *, release: Any = None) -> dict[str, int]:
        """Settle every merchant whose cut-off has passed since it was last settled; move what
        was closed but not moved. ``release`` (the reserves) runs first for each merchant. On
        PostgreSQL a few threads settle merchants at once (safe in several processes at once)."""
        now = now_us() if now is None else now
        self.terms.ensure(now)
        self.terms.sync_allowances()
        figures = {"settlements": 0, "merchants": 0, "moved": self.move_closed()}
        st = t.settlement_terms.c
        # A frozen merchant's cut-off waits: the first run after the lift takes all since.
        query = select(t.settlement_terms).where(~frozen(st.merchant_id)).order_by(st.merchant_id)
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        due = []
        for row in rows:
            cutoff = last_cutoff(now, self.tz, row.schedule, row.cutoff_hour, row.weekday)
            if row.settled_through_us < cutoff:
                due.append((row, cutoff))
        figures["merchants"] = len(due)
        threads = 1 if is_sqlite(self.engine) else RUN_THREADS  # SQLite has one writer
        with ThreadPoolExecutor(threads, thread_name_prefix="settle") as pool:
            made = [pool.submit(self._settle_one, row, cutoff, now, release) for row, cutoff in due]
            try:
                figures["settlements"] = sum(future.result() for future in made)
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        return figures

    def _settle_one(self, row: Any, cutoff: int, now: int, release: Any) -> int:
        """One merchant's scheduled settlement, closed and moved; 1 if this call made it."""
        if release is not None:
            release(row.merchant_id, now)
        sid = self._close(row, cutoff, "scheduled", now)
        if sid is not None:
            self.move(sid)
        st = t.settlement_terms.c
        with write(self.engine) as conn:
            conn.execute(
                t.settlement_terms.update()
                .where(st.merchant_id == row.merchant_id, st.settled_through_us < cutoff)
                .values(settled_through_us=cutoff)
            )
        return 0 if sid is None else 1

    def instant(self, merchant: Merchant, now: int | None = None, *, release: Any = None) -> str:
        """Pay the merchant now what it has, up to the instant limit, for the instant fee."""
        now = now_us() if now is None else now
        refuse_payout(self.engine, merchant.id)
        if self.accounts.current(merchant.id) is None:
            raise BankAccountMissing("add a bank account before asking for a payout")
        row = self.terms.get(merchant.id)
        if release is not None:
            release(merchant.id, now)
        sid = self._close(row, now + 1, "instant", now)
        if sid is None:
            raise NothingToSettle("there is nothing to pay out yet")
        if not self.move(sid):  # frozen meanwhile: kept closed, moved after the lift
            refuse_payout(self.engine, merchant.id)
        return sid

    # --- step 1: close --------------------------------------------------------------------------

    def _close(self, terms: Any, cutoff: int, kind: str, now: int) -> str | None:
        merchant, sid = self.merchants.get(terms.merchant_id), new_id("stl")
        has_bank = self.accounts.current(merchant.id) is not None  # read before the write
        try:
            with write(self.engine) as conn:
                hold_for_close(conn, merchant.id)
                self._open(conn, sid, merchant, terms, cutoff, kind, now)
                params = {"sid": sid, "mid": merchant.id, "acct": merchant.account_id}
                taken = sum(
                    conn.execute(text(sql), {**params, "cutoff": cutoff}).rowcount or 0
                    for sql in _TAKE_LINES
                )
                carried = conn.execute(text(_TAKE_CARRIED), {**params, "now": now}).rowcount or 0
                consumed = conn.execute(text(_CONSUME_CARRIED), {"sid": sid}).rowcount
                if consumed != carried or not taken + carried:  # one taken meanwhile: next run
                    raise _Empty
                self._sum_up(conn, sid, merchant, terms, kind, now, has_bank=has_bank)
        except _Empty:
            return None
        except IntegrityError:  # another process made this settlement, or took a line first
            log.info("settlement of %s at %s made elsewhere", merchant.id, cutoff)
            return None
        return sid

    def _open(
        self,
        conn: Connection,
        sid: str,
        merchant: Merchant,
        terms: Any,
        cutoff: int,
        kind: str,
        now: int,
    ) -> None:
        start = terms.settled_through_us if kind == "scheduled" else 0
        if not start:
            with_previous = conn.execute(
                select(t.settlements.c.period_end_us)
                .where(t.settlements.c.merchant_id == merchant.id)
                .order_by(t.settlements.c.period_end_us.desc())
                .limit(1)
            ).scalar()
            start = with_previous or 0
        conn.execute(
            t.settlements.insert().values(
                id=sid,
                merchant_id=merchant.id,
                kind=kind,
                currency=merchant.currency,
                business_date=business_date(cutoff, self.tz),
                period_start_us=start,
                period_end_us=cutoff,
                state="open",
                created_at_us=now,
                updated_at_us=now,
            )
        )

    def _sum_up(
        self,
        conn: Connection,
        sid: str,
        merchant: Merchant,
        terms: Any,
        kind: str,
        now: int,
        *,
        has_bank: bool,
    ) -> None:
        """The settlement's figures from its lines; the reserve, the fee and what is paid."""
        sums, count = _line_sums(conn, sid)
        gross = sums.get("payment", 0) + sums.get("capture", 0)
        net = sum(sums.values())
        own = self._own_balance(conn, merchant)
        reserve = 0
        if terms.reserve_ppm and net > 0:
            reserve = max(0, min(rate_of(gross, terms.reserve_ppm), net, own))
        payable = max(0, min(net - reserve, own - reserve))
        if not has_bank:
            payable = 0  # kept (and carried) until the merchant has a verified bank account
        fee = 0
        if kind == "instant" and payable:
            payable = min(payable, self.policy.instant_max)
            fee = rate_of(payable, self.policy.instant_fee_ppm)
        planned = [
            ("reserve", derived_id("rsv", sid), reserve),
            ("fee", derived_id("ifee", sid), fee),
        ]
        for line_kind, source, amount in planned:
            if amount:
                conn.execute(
                    t.settlement_lines.insert().values(
                        source=source,
                        settlement_id=sid,
                        merchant_id=merchant.id,
                        kind=line_kind,
                        ref=sid,
                        amount=-amount,
                        at_us=now,
                    )
                )
                count += 1
        net -= reserve + fee
        payout = payable - fee
        conn.execute(
            t.settlements.update()
            .where(t.settlements.c.id == sid, t.settlements.c.state == "open")
            .values(
                lines=count,
                gross=gross,
                fees=-(sums.get("fee", 0) - fee),
                refunds=-sums.get("refund", 0),
                splits=sums.get("split", 0),
                reserve=sums.get("reserve", 0) - reserve,
                other=sums.get("subsidy", 0) + sums.get("budget", 0) + sums.get("other", 0),
                carried_in=sums.get("carried", 0),
                net=net,
                payout=payout,
                carried_out=net - payout,
                state="closed",
                updated_at_us=now,
            )
        )

    def _own_balance(self, conn: Connection, merchant: Merchant) -> int:
        """The merchant's own money: its account less the overdraft allowance, read together."""
        return int(conn.execute(_OWN, {"id": merchant.account_id, "m": merchant.id}).scalar() or 0)

    # --- step 2: move -----------------------------------------------------------------------------

    def move_closed(self) -> int:
        """Move every settlement closed but not moved (a process stopped, a merchant frozen)."""
        s = t.settlements.c
        with read(self.engine) as conn:
            ids = conn.execute(select(s.id).where(s.state == "closed", ~frozen(s.merchant_id)))
            return sum(1 for sid in list(ids.scalars()) if self.move(sid))

    def move(self, sid: str) -> bool:
        """Move a closed settlement's money; True if this call moved it."""
        with read(self.engine) as conn:
            row = conn.execute(select(t.settlements).where(t.settlements.c.id == sid)).first()
        if row is None or row.state != "closed":
            return False
        merchant = self.merchants.get(row.merchant_id)
        reserve, fee = self._planned(sid)
        terms = self.terms.get(row.merchant_id)
        bank = self.accounts.current(row.merchant_id) if row.payout else None
        if row.payout and bank is None:
            return False  # the account was replaced and is not verified yet: next pass
        chain = self._chain(sid, row.payout, merchant, reserve, fee)
        now = now_us()

        def record(unit: Unit) -> None:
            state = "paying" if row.payout else ("carried" if row.carried_out else "nothing")
            done = unit.execute(
                "UPDATE settlements SET state = :state, attempt = :attempt,"
                " instruction_id = :iid, bank_account_id = :bank, updated_at_us = :now"
                " WHERE id = :id AND state = 'closed'",
                {
                    "state": state,
                    "attempt": 1 if row.payout else 0,
                    "iid": instruction_id(sid, 1) if row.payout else None,
                    "bank": bank.id if bank is not None else None,
                    "now": now,
                    "id": sid,
                },
            )
            if done.rowcount != 1:
                raise AlreadySettled("the settlement was moved by another process")
            if reserve:
                unit.insert(
                    t.reserves,
                    {
                        "id": derived_id("rsv", sid),
                        "settlement_id": sid,
                        "merchant_id": row.merchant_id,
                        "amount": reserve,
                        "release_after_us": now + terms.reserve_days * 86_400_000_000,
                        "released_transfer_id": None,
                        "created_at_us": now,
                    },
                )
            if row.payout and bank is not None and self.on_moved is not None:
                self.on_moved(unit, row, merchant, bank, 1, now)

        if not chain:
            self.movements.record_alone(record)
            return True
        try:
            moved = self.movements.move(chain, record)
        except Frozen:  # kept closed, moved by the first pass after the lift
            return False
        if isinstance(moved, Refused):
            if all(r is Result.EXISTS for r in moved.results):
                return False
            log.warning("settlement %s not moved yet: %s", sid, moved.problem())
            return False
        return True

    def _chain(
        self, sid: str, payout: int, merchant: Merchant, reserve: int, fee: int
    ) -> list[Transfer]:
        """The reserve, the fee and the payout of a settlement, all or nothing."""
        chain: list[Transfer] = []
        if reserve:
            chain.append(
                Transfer(
                    derived_id("rsv", sid),
                    merchant.account_id,
                    self.reserve_account,
                    reserve,
                    TransferCode.RESERVE,
                    ref=sid,
                )
            )
        if fee:
            chain.append(
                Transfer(
                    derived_id("ifee", sid),
                    merchant.account_id,
                    self.fees_account,
                    fee,
                    TransferCode.FEE,
                    ref=sid,
                )
            )
        if payout:
            chain += self.payout_transfers(sid, 1, merchant, payout)
        return [replace(x, flags=x.flags | TransferFlags.LINKED) for x in chain[:-1]] + chain[-1:]

    def payout_transfers(
        self, sid: str, attempt: int, merchant: Merchant, amount: int
    ) -> list[Transfer]:
        to_clearing, hold = stl_ids(sid, attempt)
        return [
            Transfer(
                to_clearing,
                merchant.account_id,
                self.clearing,
                amount,
                TransferCode.SETTLEMENT,
                TransferFlags.LINKED,
                ref=sid,
            ),
            Transfer(
                hold,
                self.clearing,
                self.bank_account,
                amount,
                TransferCode.PAYOUT,
                TransferFlags.PENDING,
                timeout_s=PAYOUT_HOLD_S,
                ref=instruction_id(sid, attempt),
            ),
        ]

    def _planned(self, sid: str) -> tuple[int, int]:
        """The reserve and the fee a closed settlement's lines planned (moved by step 2)."""
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.settlement_lines.c.source, t.settlement_lines.c.amount).where(
                    t.settlement_lines.c.source.in_(
                        [derived_id("rsv", sid), derived_id("ifee", sid)]
                    )
                )
            ).all()
        amounts = {source: -amount for source, amount in rows}
        return amounts.get(derived_id("rsv", sid), 0), amounts.get(derived_id("ifee", sid), 0)
