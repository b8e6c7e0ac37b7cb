"""The interface a bank integration implements, and a sandbox bank with the same shape.

A real connector sends an instruction to the bank and learns the outcome later (a callback or a
status query): instructions are asynchronous, can fail, and can time out. The sandbox behaves the
same way so the payments service is written once:

- it answers ``accepted`` at once and settles after ``delay_s`` on a timer thread;
- an amount whose last two digits are 13 is declined ("card declined");
- an amount whose last two digits are 44 never settles (a timeout: the service must give up);
- everything else succeeds;
- merchants' bank accounts (all digits) follow their number instead of the amount: one ending
  in 13 does not exist (verification fails), one ending in 66 is frozen (payouts to it are
  rejected), one ending in 44 never answers a payout; verification sends one cent and takes it
  back, so it moves no money;
- like a real bank's notification, the outcome is sent again until Saoma takes it: a callback
  that raises (the database away for a moment) is retried with back-off, for about 15 minutes;
- like a real bank, it takes an instruction once per id: the same id sent again is answered with
  the same outcome (Saoma sends again what was not answered, after a crash for instance);
- like a real bank, it books every instruction that moved money (a collection is a credit to the
  platform's account, a payout a debit) and gives the day's entries as an ISO 20022 camt.053
  statement (:mod:`saoma.funding.statement`); the sandbox can put breaks in it on request.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from saoma.funding.statement import Booked, camt053

DECLINE_SUFFIX = 13
TIMEOUT_SUFFIX = 44
ACCOUNT_FROZEN = 66
RETRY_MAX_S = 60.0
RETRIES = 20

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BankOutcome:
    instruction_id: str
    succeeded: bool
    bank_reference: str
    failure: str = ""


Settled = Callable[[BankOutcome], None]


class BankConnector(Protocol):
    def collect(self, instruction_id: str, amount: int, currency: str, account: str) -> None:
        """Pull ``amount`` from the consumer's bank account (a top-up); outcome via callback."""

    def pay_out(self, instruction_id: str, amount: int, currency: str, account: str) -> None:
        """Push ``amount`` to the consumer's bank account (a withdrawal); outcome via callback."""

    def verify_account(self, instruction_id: str, account: str, holder_name: str) -> None:
        """Check that ``account`` exists and is ``holder_name``'s (a one-cent test credit);
        outcome via callback."""

    def close(self) -> None:
        """Stop answering what is still unanswered (a real connector closes its client)."""

    def statement(self, day: date, *, faults: Sequence[str] = ()) -> bytes:
        """The bank's statement of the platform's account for ``day`` (a UTC booking date), as
        a camt.053.001.08 document; a real connector downloads it. ``faults`` is the sandbox's
        only (see :data:`saoma.funding.statement.FAULTS`): a real bank ignores it."""


@dataclass(frozen=True, slots=True)
class _Booking:
    """What an instruction books if it succeeds: ``sign`` +1 a credit (collect), -1 a debit."""

    amount: int
    currency: str
    sign: int


class SandboxBank:
    def __init__(self, on_settled: Settled, *, delay_s: float = 0.05) -> None:
        self.on_settled = on_settled
        self.delay_s = delay_s
        self._timers: list[threading.Timer] = []
        self._outcomes: dict[str, BankOutcome] = {}
        self._lock = threading.Lock()
        self.journal: list[Booked] = []  # every entry booked, in booking order

    def collect(self, instruction_id: str, amount: int, currency: str, account: str) -> None:
        self._schedule(instruction_id, _Booking(amount, currency, +1))

    def pay_out(self, instruction_id: str, amount: int, currency: str, account: str) -> None:
        booking = _Booking(amount, currency, -1)
        if account.isdigit():  # a merchant's bank account
            suffix = int(account[-2:])
            self._answer(instruction_id, suffix, ACCOUNT_FROZEN, "account frozen", booking)
        else:
            self._schedule(instruction_id, booking)

    def verify_account(self, instruction_id: str, account: str, holder_name: str) -> None:
        suffix = int(account[-2:])  # an account that never answers a payout still exists
        suffix = 0 if suffix == TIMEOUT_SUFFIX else suffix
        self._answer(instruction_id, suffix, DECLINE_SUFFIX, "no such account", None)

    def statement(self, day: date, *, faults: Sequence[str] = ()) -> bytes:
        with self._lock:
            journal = list(self.journal)
        return camt053(journal, day, faults=faults)

    def _schedule(self, instruction_id: str, booking: _Booking) -> None:
        suffix = booking.amount % 100
        self._answer(instruction_id, suffix, DECLINE_SUFFIX, "card declined", booking)

    def _answer(
        self, instruction_id: str, suffix: int, refused: int, failure: str, booking: _Booking | None
    ) -> None:
        if suffix == TIMEOUT_SUFFIX:
            return
        with self._lock:
            outcome = self._outcomes.get(instruction_id)
            if outcome is None:  # the first time: the bank acts, and books what moved money
                outcome = BankOutcome(
                    instruction_id,
                    suffix != refused,
                    "SBX" + secrets.token_hex(6).upper(),
                    failure if suffix == refused else "",
                )
                self._outcomes[instruction_id] = outcome
                if outcome.succeeded and booking is not None:
                    self.journal.append(
                        Booked(
                            instruction_id,
                            outcome.bank_reference,
                            booking.amount * booking.sign,
                            booking.currency,
                            datetime.now(UTC),
                        )
                    )
        self._later(self.delay_s, outcome, 0)

    def _later(self, delay_s: float, outcome: BankOutcome, attempt: int) -> None:
        timer = threading.Timer(delay_s, self._notify, args=(outcome, attempt))
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _notify(self, outcome: BankOutcome, attempt: int) -> None:
        try:
            self.on_settled(outcome)
        except Exception:
            if attempt >= RETRIES:
                log.exception("the bank gave up notifying %s", outcome.instruction_id)
                return
            wait = min(RETRY_MAX_S, max(self.delay_s, 0.05) * 2 ** (attempt + 1))
            log.warning(
                "bank notification for %s failed; again in %.1f s", outcome.instruction_id, wait
            )
            self._later(wait, outcome, attempt + 1)

    def quiet(self) -> bool:
        """Nothing more is coming: every answer scheduled has been given (or given up)."""
        return not any(timer.is_alive() for timer in self._timers)

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
