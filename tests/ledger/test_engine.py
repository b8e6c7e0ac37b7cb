"""The ledger's rules on in-memory accounts: no database, microseconds per test."""

from __future__ import annotations

import pytest

from saoma.core.money import AMOUNT_MINOR_MAX
from saoma.ledger.domain import (
    Account,
    AccountFlags,
    Hold,
    HoldState,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)
from saoma.ledger.engine import apply

WALLET = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
BANK = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
NOW = 1_700_000_000_000_000
P = TransferFlags.PENDING
POST = TransferFlags.POST_PENDING
VOID = TransferFlags.VOID_PENDING
L = TransferFlags.LINKED


def book() -> dict[int, Account]:
    """A bank, a wallet holding 100.00, a merchant, and a wallet in another currency."""
    return {
        1: Account(1, "CNY", "bank_clearing", BANK, debits_posted=10_000),
        2: Account(2, "CNY", "consumer_wallet", WALLET, credits_posted=10_000),
        3: Account(3, "CNY", "merchant"),
        4: Account(4, "HKD", "consumer_wallet", WALLET),
    }


def run(transfers: list[Transfer], accounts: dict[int, Account] | None = None, **kw: object):
    accounts = accounts if accounts is not None else book()
    holds: dict[str, Hold] = kw.get("holds", {})  # type: ignore[assignment]
    existing: dict[str, Transfer] = kw.get("existing", {})  # type: ignore[assignment]
    now: int = kw.get("now", NOW)  # type: ignore[assignment]
    return apply(transfers, accounts, holds, existing, now), accounts


def test_payment_moves_money_from_wallet_to_merchant() -> None:
    outcome, acc = run([Transfer("pay-1", 2, 3, 2_500, TransferCode.PAYMENT)])
    assert outcome.results == [Result.OK]
    assert acc[2].balance == 7_500
    assert acc[3].credits_posted == 2_500
    assert outcome.created[0].created_at_us == NOW


def test_wallet_cannot_be_overdrawn_and_nothing_changes() -> None:
    outcome, acc = run([Transfer("pay-1", 2, 3, 10_001)])
    assert outcome.results == [Result.EXCEEDS_CREDITS]
    assert acc[2].balance == 10_000 and acc[3].credits_posted == 0
    assert outcome.created == []


def test_spending_exactly_the_balance_is_allowed() -> None:
    outcome, acc = run(
        [Transfer("a", 2, 3, 6_000), Transfer("b", 2, 3, 4_000), Transfer("c", 2, 3, 1)]
    )
    assert outcome.results == [Result.OK, Result.OK, Result.EXCEEDS_CREDITS]
    assert acc[2].balance == 0


def test_bank_clearing_account_cannot_be_credited_past_its_debits() -> None:
    outcome, _ = run([Transfer("w", 3, 1, 10_001)])
    assert outcome.results == [Result.EXCEEDS_DEBITS]
    outcome, _ = run([Transfer("w", 3, 1, 10_000)])
    assert outcome.results == [Result.OK]


@pytest.mark.parametrize(
    ("transfer", "result"),
    [
        (Transfer("", 2, 3, 1), Result.ID_INVALID),
        (Transfer("x" * 65, 2, 3, 1), Result.ID_INVALID),
        (Transfer("支付", 2, 3, 1), Result.ID_INVALID),
        (Transfer("t", 2, 3, 0), Result.AMOUNT_MUST_BE_POSITIVE),
        (Transfer("t", 2, 3, -5), Result.AMOUNT_MUST_BE_POSITIVE),
        (Transfer("t", 2, 3, AMOUNT_MINOR_MAX + 1), Result.AMOUNT_TOO_LARGE),
        (Transfer("t", 2, 2, 1), Result.ACCOUNTS_MUST_BE_DIFFERENT),
        (Transfer("t", 99, 3, 1), Result.DEBIT_ACCOUNT_NOT_FOUND),
        (Transfer("t", 2, 99, 1), Result.CREDIT_ACCOUNT_NOT_FOUND),
        (Transfer("t", 2, 4, 1), Result.CURRENCY_MISMATCH),
        (Transfer("t", 2, 3, 1, flags=P | POST), Result.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (Transfer("t", 2, 3, 1, flags=64), Result.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (Transfer("t", 2, 3, 1, timeout_s=5), Result.TIMEOUT_INVALID),
        (Transfer("t", 2, 3, 1, flags=P, timeout_s=-1), Result.TIMEOUT_INVALID),
        (Transfer("t", 2, 3, 1, ref="r" * 129), Result.FIELD_TOO_LONG),
        (Transfer("t", 2, 3, 1, pending_id="h"), Result.PENDING_ID_MUST_BE_EMPTY),
        (Transfer("t", 0, 0, 0, flags=POST), Result.PENDING_ID_REQUIRED),
        (Transfer("t", 0, 0, 0, flags=POST, pending_id="nope"), Result.PENDING_TRANSFER_NOT_FOUND),
    ],
)
def test_each_invalid_transfer_gets_its_own_result_and_changes_nothing(
    transfer: Transfer, result: Result
) -> None:
    outcome, acc = run([transfer])
    assert outcome.results == [result]
    assert outcome.created == []
    assert acc == book()


def test_retry_with_same_body_is_exists_and_moves_money_once() -> None:
    first = Transfer("pay-1", 2, 3, 2_500, TransferCode.PAYMENT)
    outcome, acc = run([first, first])
    assert outcome.results == [Result.OK, Result.EXISTS]
    assert acc[2].balance == 7_500


def test_retry_with_different_body_is_refused() -> None:
    outcome, acc = run([Transfer("pay-1", 2, 3, 2_500), Transfer("pay-1", 2, 3, 2_600)])
    assert outcome.results == [Result.OK, Result.EXISTS_WITH_DIFFERENT_FIELDS]
    assert acc[2].balance == 7_500


def test_hold_reserves_funds_then_partial_post_releases_the_rest() -> None:
    accounts = book()
    holds: dict[str, Hold] = {}
    outcome, _ = run(
        [Transfer("bike", 2, 3, 9_900, flags=P, timeout_s=3600)], accounts, holds=holds
    )
    assert outcome.results == [Result.OK]
    assert accounts[2].available == 100 and accounts[2].balance == 10_000
    holds.update(outcome.holds_created)
    outcome, _ = run(
        [Transfer("fare", 0, 0, 150, flags=POST, pending_id="bike")], accounts, holds=holds
    )
    assert outcome.results == [Result.OK]
    assert accounts[2].balance == 9_850 and accounts[2].available == 9_850
    assert accounts[3].credits_posted == 150 and accounts[3].credits_pending == 0
    assert holds["bike"].state == HoldState.POSTED
    assert outcome.created[0].amount == 150 and outcome.created[0].debit_account_id == 2


def test_hold_blocks_spending_what_it_reserves() -> None:
    outcome, _ = run([Transfer("h", 2, 3, 9_000, flags=P), Transfer("p", 2, 3, 1_001)])
    assert outcome.results == [Result.OK, Result.EXCEEDS_CREDITS]


def test_post_with_zero_amount_captures_everything() -> None:
    outcome, acc = run(
        [Transfer("h", 2, 3, 500, flags=P), Transfer("c", 0, 0, 0, flags=POST, pending_id="h")]
    )
    assert outcome.results == [Result.OK, Result.OK]
    assert acc[3].credits_posted == 500 and acc[2].debits_pending == 0


def test_void_releases_the_hold_and_a_second_resolution_is_refused() -> None:
    outcome, acc = run(
        [
            Transfer("h", 2, 3, 500, flags=P),
            Transfer("v", 0, 0, 0, flags=VOID, pending_id="h"),
            Transfer("c", 0, 0, 0, flags=POST, pending_id="h"),
            Transfer("v2", 0, 0, 0, flags=VOID, pending_id="h"),
        ]
    )
    assert outcome.results == [
        Result.OK,
        Result.OK,
        Result.PENDING_TRANSFER_ALREADY_VOIDED,
        Result.PENDING_TRANSFER_ALREADY_VOIDED,
    ]
    assert acc[2].available == 10_000 and acc[3].credits_pending == 0


def test_post_more_than_held_or_on_other_accounts_is_refused() -> None:
    outcome, _ = run(
        [
            Transfer("h", 2, 3, 500, flags=P),
            Transfer("c1", 0, 0, 501, flags=POST, pending_id="h"),
            Transfer("c2", 2, 1, 100, flags=POST, pending_id="h"),
            Transfer("v", 0, 0, 100, flags=VOID, pending_id="h"),
        ]
    )
    assert outcome.results[1:] == [
        Result.EXCEEDS_PENDING_AMOUNT,
        Result.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS,
        Result.EXCEEDS_PENDING_AMOUNT,
    ]


def test_post_after_timeout_is_refused_but_expiry_releases() -> None:
    accounts = book()
    holds = {"h": Hold("h", 2, 3, 500, NOW - 1)}
    accounts[2].debits_pending = accounts[3].credits_pending = 500
    post = Transfer("c", 0, 0, 0, flags=POST, pending_id="h")
    expire = Transfer("e", 0, 0, 0, TransferCode.EXPIRY, VOID, "h")
    outcome, _ = run([post, expire, post], accounts, holds=holds)
    assert outcome.results == [
        Result.PENDING_TRANSFER_EXPIRED,
        Result.OK,
        Result.PENDING_TRANSFER_EXPIRED,
    ]
    assert holds["h"].state == HoldState.EXPIRED and accounts[2].debits_pending == 0


def test_linked_chain_commits_together() -> None:
    outcome, acc = run(
        [
            Transfer("pay", 2, 3, 2_500, TransferCode.PAYMENT, flags=L),
            Transfer("fee", 3, 1, 15, TransferCode.FEE, flags=L),
            Transfer("sub", 1, 3, 500, TransferCode.SUBSIDY),
        ],
        accounts={**book(), 1: Account(1, "CNY", "platform_fees")},
    )
    assert outcome.results == [Result.OK] * 3
    assert acc[3].balance == 2_500 - 15 + 500


def test_linked_chain_failure_undoes_everything_and_names_the_culprit() -> None:
    outcome, acc = run(
        [
            Transfer("pay", 2, 3, 2_500, flags=L),
            Transfer("h", 2, 3, 1_000, flags=P | L),
            Transfer("bad", 2, 3, 7_000, flags=L),
            Transfer("after", 2, 3, 1),
            Transfer("free", 2, 3, 100),
        ]
    )
    assert outcome.results == [
        Result.LINKED_EVENT_FAILED,
        Result.LINKED_EVENT_FAILED,
        Result.EXCEEDS_CREDITS,
        Result.LINKED_EVENT_FAILED,
        Result.OK,
    ]
    assert acc[2].balance == 9_900 and acc[2].debits_pending == 0
    assert [t.id for t in outcome.created] == ["free"] and outcome.holds_created == {}


def test_a_chain_left_open_at_the_end_applies_nothing() -> None:
    outcome, acc = run([Transfer("ok", 2, 3, 1), Transfer("a", 2, 3, 1, flags=L)])
    assert outcome.results == [Result.OK, Result.LINKED_EVENT_CHAIN_OPEN]
    assert acc[2].balance == 9_999


def test_failed_chain_can_be_retried_with_the_same_ids() -> None:
    existing: dict[str, Transfer] = {}
    chain = [Transfer("pay", 2, 3, 2_500, flags=L), Transfer("fee", 3, 1, 99_999)]
    outcome, _ = run(chain, existing=existing)
    assert outcome.results == [Result.LINKED_EVENT_FAILED, Result.EXCEEDS_DEBITS]
    assert existing == {}


def test_a_balance_cannot_overflow() -> None:
    accounts = book()
    accounts[3].credits_posted = 2**63 - 10
    outcome, _ = run([Transfer("t", 1, 3, 10), Transfer("u", 1, 3, 9)], accounts)
    assert outcome.results == [Result.OVERFLOWS_BALANCE, Result.OK]
    assert accounts[3].credits_posted == 2**63 - 1
