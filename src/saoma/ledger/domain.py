"""The ledger's vocabulary: accounts, transfers, holds and the results of applying them.

Pure data, no I/O. The words follow the payments trade: a *pending* transfer (a hold) is later
*posted* (fully or in part) or *voided*, or it *expires*.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag, StrEnum

TRANSFER_ID_LENGTH_MAX = 64
REF_LENGTH_MAX = 128
USER_DATA_LENGTH_MAX = 1024
HOLD_TIMEOUT_S_MAX = 60 * 60 * 24 * 90  # a pre-authorisation lasts 90 days at most
BATCH_TRANSFERS_MAX = 8190
BALANCE_MAX = 2**63 - 1  # the database column is a signed 64-bit integer


class AccountKind(StrEnum):
    CONSUMER_WALLET = "consumer_wallet"
    MERCHANT = "merchant"
    PLATFORM_FEES = "platform_fees"
    PROMOTION_BUDGET = "promotion_budget"
    BANK_CLEARING = "bank_clearing"
    RED_PACKET = "red_packet"
    SUSPENSE = "suspense"
    OPERATING = "operating"
    SETTLEMENT_CLEARING = "settlement_clearing"  # settled money on its way to merchants' banks
    RESERVE = "reserve"  # merchants' rolling reserves
    OVERDRAFT = "overdraft"  # the platform's side of merchants' overdraft allowances


class AccountFlags(IntFlag):
    NONE = 0
    # A wallet: it may never spend more than it has received.
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    # A source of funds seen from the other side (a bank clearing account never goes "positive").
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1  # this transfer and the next commit together or not at all
    PENDING = 2  # a hold: reserves the amount until posted, voided or expired
    POST_PENDING = 4  # posts (captures) a pending transfer, in full or in part
    VOID_PENDING = 8  # voids a pending transfer, releasing all of it


PHASE_FLAGS = TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING


class TransferCode(IntEnum):
    """What a transfer is for; stored as a small integer."""

    TRANSFER = 1
    PAYMENT = 2
    REFUND = 3
    TOP_UP = 4
    WITHDRAWAL = 5
    FEE = 6
    SUBSIDY = 7
    HOLD = 8
    CAPTURE = 9
    RELEASE = 10
    EXPIRY = 11  # written by the ledger itself when a hold times out
    RED_PACKET = 12
    BUDGET = 13
    SETTLEMENT = 14  # a merchant's settled net to settlement clearing (and back if unpaid)
    PAYOUT = 15  # settlement clearing to the bank: a hold until the bank answers
    ALLOWANCE = 16  # an overdraft allowance granted to (or taken back from) a merchant
    RESERVE = 17  # a rolling reserve held back from a settlement, or released
    SPLIT = 18  # a merchant's share of a payment to another merchant (or back, on a refund)


class HoldState(IntEnum):
    PENDING = 1
    POSTED = 2
    VOIDED = 3
    EXPIRED = 4


@dataclass(slots=True)
class Account:
    id: int
    currency: str  # ISO 4217 alphabetic code
    kind: str = AccountKind.CONSUMER_WALLET.value
    flags: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    user_data: str = ""
    created_at_us: int = 0

    @property
    def balance(self) -> int:
        """Credit balance: what a wallet holds (credits posted less debits posted)."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What a wallet can still spend: its balance less what holds reserve."""
        return self.credits_posted - self.debits_posted - self.debits_pending


@dataclass(frozen=True, slots=True)
class Transfer:
    """A request to move money, and, once written, the immutable record of it.

    ``id`` is the idempotency key. For a post or void, ``debit_account_id``,
    ``credit_account_id`` and ``amount`` may be 0: they are then taken from the pending transfer
    (for a post, amount 0 means "the whole pending amount").
    """

    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    code: int = TransferCode.TRANSFER
    flags: int = 0
    pending_id: str | None = None
    timeout_s: int = 0
    ref: str = ""
    user_data: str = ""
    created_at_us: int = 0
    seq: int = 0

    def same_request(self, other: Transfer) -> bool:
        """Whether ``other`` (a retry) asks for exactly what this stored transfer recorded."""
        return (
            self.flags == other.flags
            and self.code == other.code
            and self.pending_id == other.pending_id
            and self.timeout_s == other.timeout_s
            and self.ref == other.ref
            and self.user_data == other.user_data
            and (other.debit_account_id in (0, self.debit_account_id))
            and (other.credit_account_id in (0, self.credit_account_id))
            and (other.amount in (0, self.amount))
        )


@dataclass(slots=True)
class Hold:
    """The mutable state of a pending transfer (the transfer row itself never changes)."""

    transfer_id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    expires_at_us: int | None
    state: int = HoldState.PENDING
    resolved_by: str | None = None


class Result(StrEnum):
    """The outcome of one transfer in a batch. Everything but OK and EXISTS changed nothing."""

    OK = "ok"
    EXISTS = "exists"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    ID_INVALID = "id_invalid"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    AMOUNT_MUST_BE_POSITIVE = "amount_must_be_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"
    OVERFLOWS_BALANCE = "overflows_balance"
    TIMEOUT_INVALID = "timeout_invalid"
    FIELD_TOO_LONG = "field_too_long"
    PENDING_ID_REQUIRED = "pending_id_required"
    PENDING_ID_MUST_BE_EMPTY = "pending_id_must_be_empty"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = "pending_transfer_has_different_accounts"
    EXCEEDS_PENDING_AMOUNT = "exceeds_pending_amount"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"

    @property
    def ok(self) -> bool:
        return self in (Result.OK, Result.EXISTS)


class AccountResult(StrEnum):
    OK = "ok"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    ID_INVALID = "id_invalid"
    CURRENCY_UNKNOWN = "currency_unknown"
    KIND_UNKNOWN = "kind_unknown"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    FIELD_TOO_LONG = "field_too_long"

    @property
    def ok(self) -> bool:
        return self in (AccountResult.OK, AccountResult.EXISTS)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an account's transfers, oldest first; ``next_cursor`` is None at the end."""

    transfers: list[Transfer]
    next_cursor: str | None
