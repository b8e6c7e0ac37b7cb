"""Every refusal Saoma gives, as one exception type that maps to an RFC 9457 problem document.

Services raise :class:`Problem` (or a ledger error, translated by :func:`from_ledger_error`); the
HTTP layer turns it into ``application/problem+json`` in one place. ``type`` is stable: clients
branch on it, never on the human ``detail``.
"""

from __future__ import annotations

from typing import Any

from saoma.ledger import errors as ledger_errors
from saoma.ledger.tx import Refusal

TYPE_BASE = "https://saoma.dev/problems/"


class Problem(Refusal):
    """A refusal with a stable type, an HTTP status, a human detail and the field at fault."""

    def __init__(
        self,
        slug: str,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        title: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.status = status
        self.detail = detail
        self.field = field
        self.title = title or slug.replace("-", " ").capitalize()
        self.extra = extra

    @property
    def type(self) -> str:
        return TYPE_BASE + self.slug

    def document(self, instance: str = "") -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        if self.field:
            doc["field"] = self.field
        doc.update(self.extra)
        return doc


def invalid(field: str, detail: str) -> Problem:
    return Problem("invalid-request", 422, detail, field=field, title="Invalid request")


def not_found(what: str, ident: str) -> Problem:
    # The same answer whether the object does not exist or belongs to someone else.
    return Problem("not-found", 404, f"no {what} {ident!r}", title="Not found")


def from_ledger_error(exc: ledger_errors.LedgerError, *, field: str = "amount") -> Problem:
    """The ledger's typed refusals, in the words a payer or merchant understands."""
    if isinstance(exc, ledger_errors.InsufficientFunds):
        return Problem(
            "insufficient-funds", 402, "the wallet does not hold enough money", field=field
        )
    if isinstance(exc, ledger_errors.CurrencyMismatch):
        return Problem("currency-mismatch", 422, "the currencies do not match", field="currency")
    if isinstance(exc, ledger_errors.ExceedsLimit):
        return Problem("amount-too-large", 422, "the amount is above the limit", field=field)
    if isinstance(exc, ledger_errors.PendingTransferExpired):
        return Problem("hold-expired", 409, "the hold has expired and was released")
    if isinstance(exc, ledger_errors.PendingTransferError):
        return Problem("hold-not-open", 409, f"the hold cannot be changed: {exc.result.value}")
    if isinstance(exc, ledger_errors.IdempotencyConflict):
        return Problem("conflict", 409, "this operation was already done with other details")
    return Problem("ledger-refused", 422, f"the ledger refused the transfer: {exc.result.value}")
