"""The settlement services together, as the platform runs them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from saoma.funding.bank import BankConnector, BankOutcome
from saoma.ledger import Account, AccountFlags, AccountKind
from saoma.merchants.service import Merchant, Merchants
from saoma.movements import Movements
from saoma.settlement.accounts import VERIFY_PREFIX, BankAccounts
from saoma.settlement.payouts import PAYOUT_PREFIX, Payouts
from saoma.settlement.reconcile import reconcile_day
from saoma.settlement.service import Policy, Settlements
from saoma.settlement.terms import terms_view
from saoma.settlement.views import Statements

log = logging.getLogger(__name__)


class SettlementDesk:
    def __init__(
        self,
        engine: Engine,
        merchants: Merchants,
        movements: Movements,
        *,
        currency: str,
        tz: ZoneInfo,
        policy: Policy | None = None,
    ) -> None:
        self.accounts = BankAccounts(engine, merchants, movements)
        self.settlements = Settlements(
            engine, merchants, movements, self.accounts, currency=currency, tz=tz, policy=policy
        )
        self.payouts = Payouts(engine, self.settlements)
        self.statements = Statements(engine)
        self.accounts.on_verified = self.payouts.retry_failed
        self.engine = engine
        self.bank: BankConnector | None = None
        # What must land before a run takes its lines (the standing splits of the day).
        self.before_run: Callable[[], object] = lambda: None
        self.reconcile_daily = False  # fetch and reconcile yesterday's bank statement
        self._reconciled: date | None = None

    def ensure_accounts(self) -> None:
        """The platform's settlement clearing, reserve and overdraft accounts."""
        s = self.settlements
        never_negative = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        s.movements.ledger.create_accounts(
            [
                Account(s.clearing, s.currency, AccountKind.SETTLEMENT_CLEARING, never_negative),
                Account(s.reserve_account, s.currency, AccountKind.RESERVE, never_negative),
                Account(s.terms.overdraft_account, s.currency, AccountKind.OVERDRAFT),
            ]
        )

    def connect(self, bank: BankConnector) -> None:
        self.bank = bank
        self.accounts.bank = bank
        self.payouts.bank = bank

    @staticmethod
    def answers(instruction_id: str) -> bool:
        """Whether a bank answer is for settlement (a payout or an account check)."""
        return instruction_id.startswith((PAYOUT_PREFIX, VERIFY_PREFIX))

    def answered(self, outcome: BankOutcome) -> None:
        if outcome.instruction_id.startswith(VERIFY_PREFIX):
            self.accounts.answered(outcome)
        else:
            self.payouts.answered(outcome)

    def run(self, now: int | None = None) -> dict[str, int]:
        """One settlement run: every merchant whose cut-off has passed is settled and paid."""
        self.before_run()
        return self.settlements.run(now, release=self.payouts.release_reserves)

    def instant(self, merchant: Merchant) -> dict[str, Any]:
        sid = self.settlements.instant(merchant, release=self.payouts.release_reserves)
        return self.statements.get(merchant, sid)

    def terms_of(self, merchant: Merchant) -> dict[str, Any]:
        """The merchant's terms, with the operator's instant payout limit and fee."""
        return self._with_policy(terms_view(self.settlements.terms.get(merchant.id)._mapping))

    def set_terms(self, merchant: Merchant, **changes: Any) -> dict[str, Any]:
        return self._with_policy(self.settlements.terms.set(merchant.id, **changes))

    def _with_policy(self, view: dict[str, Any]) -> dict[str, Any]:
        policy = self.settlements.policy
        return view | {
            "instant_payout_max": policy.instant_max,
            "instant_payout_fee_ppm": policy.instant_fee_ppm,
        }

    def start(self) -> None:
        """What an earlier process sent the bank may have been answered to it as it died."""
        self.payouts.resend_pending(older_than_us=0)
        self.accounts.resend_verifying()

    def maintain(self) -> None:
        """The background pass: give up on, and send again, what the bank has not answered;
        then the scheduled run."""
        self.accounts.time_out_stale()
        self.payouts.time_out_stale()
        self.payouts.resend_pending()
        self.payouts.retry_rejected()
        self.run()
        if self.reconcile_daily:
            self.reconcile_yesterday()

    def reconcile_yesterday(self) -> None:
        """Once a day, in one process at a time or several (a statement is stored once): the
        bank's statement of yesterday (UTC), matched against what Saoma recorded."""
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        if self._reconciled == yesterday or self.bank is None:
            return
        report = reconcile_day(self.engine, self.bank, yesterday)
        self._reconciled = yesterday
        if report.breaks:
            log.warning(
                "bank statement %s: %d breaks (saoma reconcile --open)",
                report.statement_id,
                len(report.breaks),
            )
