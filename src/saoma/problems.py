"""The forms raise sites used before the error catalogue (:mod:`saoma.errors`), kept working.

``Problem(slug, status, detail, field=...)`` builds the catalogue class for ``slug`` (the
status passed must be the one :mod:`saoma.api.problems` holds: tests/test_errors.py checks
every call); ``except Problem`` catches every catalogue error. New code raises the catalogue
classes directly; once every site does, this module goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from saoma import errors
from saoma.errors import TYPE_BASE, SaomaError
from saoma.ledger import errors as ledger_errors

__all__ = ["TYPE_BASE", "Problem", "from_ledger_error", "invalid", "not_found"]

if TYPE_CHECKING:

    class Problem(SaomaError):
        """What type checkers see: the root of the catalogue, with the old constructor."""

        def __init__(
            self,
            slug: str,
            status: int,
            detail: str,
            *,
            field: str | None = None,
            title: str | None = None,
            **extra: Any,
        ) -> None: ...

else:
    Problem = SaomaError


def _problem(error: SaomaError) -> Problem:
    return cast("Problem", error)


def invalid(field: str, detail: str) -> Problem:
    return _problem(errors.InvalidRequest(detail, field=field))


def not_found(what: str, ident: str) -> Problem:
    # The same answer whether the object does not exist or belongs to someone else.
    return _problem(errors.NotFound(f"no {what} {ident!r}"))


def from_ledger_error(exc: ledger_errors.LedgerError, *, field: str = "amount") -> Problem:
    """The ledger's typed refusals, in the words a payer or merchant understands."""
    return _problem(errors.from_ledger(exc, field=field))
