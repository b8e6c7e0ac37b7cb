"""The double-entry ledger every payment in Saoma moves through."""

from saoma.ledger.domain import (
    Account,
    AccountFlags,
    AccountKind,
    AccountResult,
    Hold,
    HoldState,
    Page,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)
from saoma.ledger.errors import LedgerError
from saoma.ledger.service import Ledger

__all__ = [
    "Account",
    "AccountFlags",
    "AccountKind",
    "AccountResult",
    "Hold",
    "HoldState",
    "Ledger",
    "LedgerError",
    "Page",
    "Result",
    "Transfer",
    "TransferCode",
    "TransferFlags",
]
