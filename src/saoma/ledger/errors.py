"""Exceptions for callers who prefer raising to inspecting results.

Every failed :class:`~saoma.ledger.domain.Result` maps to one class below, so a service can write
``except InsufficientFunds`` and an HTTP layer can map classes to problem types in one table.
"""

from __future__ import annotations

from saoma.ledger.domain import Result


class LedgerError(Exception):
    """Base of every error the ledger reports. ``result`` is the machine-readable outcome."""

    result: Result = Result.LINKED_EVENT_FAILED

    def __init__(self, message: str, *, transfer_id: str | None = None) -> None:
        super().__init__(message)
        self.transfer_id = transfer_id


class InvalidTransfer(LedgerError):
    """Raised when a transfer is malformed (bad id, amount, flags, field lengths, timeout)."""


class AccountNotFound(LedgerError):
    """Raised when a transfer names a debit or credit account that does not exist."""


class CurrencyMismatch(LedgerError):
    """Raised when the two accounts of a transfer hold different currencies."""


class InsufficientFunds(LedgerError):
    """Raised when a debit would take an account past its credits (a wallet overdraft)."""


class ExceedsLimit(LedgerError):
    """Raised when a transfer would break a limit: credits past debits, or a balance overflow."""


class PendingTransferError(LedgerError):
    """Raised when a post or void cannot apply to the pending transfer it names."""


class PendingTransferExpired(PendingTransferError):
    """Raised when a post or void arrives after the hold's timeout: the funds were released."""


class IdempotencyConflict(LedgerError):
    """Raised when a transfer id is reused with a different body (a retry must be identical)."""


class LinkedTransferFailed(LedgerError):
    """Raised for a transfer that was valid but whose linked chain failed elsewhere."""


_CLASS_OF: dict[Result, type[LedgerError]] = {
    Result.LINKED_EVENT_FAILED: LinkedTransferFailed,
    Result.DEBIT_ACCOUNT_NOT_FOUND: AccountNotFound,
    Result.CREDIT_ACCOUNT_NOT_FOUND: AccountNotFound,
    Result.CURRENCY_MISMATCH: CurrencyMismatch,
    Result.EXCEEDS_CREDITS: InsufficientFunds,
    Result.EXCEEDS_DEBITS: ExceedsLimit,
    Result.OVERFLOWS_BALANCE: ExceedsLimit,
    Result.AMOUNT_TOO_LARGE: ExceedsLimit,
    Result.PENDING_TRANSFER_NOT_FOUND: PendingTransferError,
    Result.PENDING_TRANSFER_ALREADY_POSTED: PendingTransferError,
    Result.PENDING_TRANSFER_ALREADY_VOIDED: PendingTransferError,
    Result.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS: PendingTransferError,
    Result.EXCEEDS_PENDING_AMOUNT: PendingTransferError,
    Result.PENDING_TRANSFER_EXPIRED: PendingTransferExpired,
    Result.EXISTS_WITH_DIFFERENT_FIELDS: IdempotencyConflict,
}


def error_for(result: Result, transfer_id: str) -> LedgerError:
    """The exception for a failed result (never called with OK or EXISTS)."""
    if result.ok:
        raise ValueError(f"{result} is not a failure")
    cls = _CLASS_OF.get(result, InvalidTransfer)
    err = cls(f"transfer {transfer_id!r} failed: {result.value}", transfer_id=transfer_id)
    err.result = result
    return err
