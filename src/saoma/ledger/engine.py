"""Apply a batch of transfers to in-memory accounts and holds: the ledger's rules, with no I/O.

The store loads (and locks) every account and hold a batch touches, hands them to :func:`apply`,
and writes back what changed. Keeping the rules here lets unit and property tests run them in
microseconds, and lets one database transaction carry thousands of transfers (group commit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from saoma.core.money import AMOUNT_MINOR_MAX
from saoma.ledger.domain import (
    BALANCE_MAX,
    HOLD_TIMEOUT_S_MAX,
    REF_LENGTH_MAX,
    TRANSFER_ID_LENGTH_MAX,
    USER_DATA_LENGTH_MAX,
    Account,
    AccountFlags,
    Hold,
    HoldState,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)

_LINKED = TransferFlags.LINKED.value
_PENDING = TransferFlags.PENDING.value
_POST = TransferFlags.POST_PENDING.value
_VOID = TransferFlags.VOID_PENDING.value
_KNOWN_FLAGS = _LINKED | _PENDING | _POST | _VOID
_DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS.value
_CMNED = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS.value
_HOLD_DONE = {
    HoldState.POSTED: Result.PENDING_TRANSFER_ALREADY_POSTED,
    HoldState.VOIDED: Result.PENDING_TRANSFER_ALREADY_VOIDED,
    HoldState.EXPIRED: Result.PENDING_TRANSFER_EXPIRED,
}


@dataclass
class Outcome:
    """What a batch did: a result per input transfer, and the rows to write."""

    results: list[Result]
    created: list[Transfer] = field(default_factory=list)
    holds_created: dict[str, Hold] = field(default_factory=dict)
    holds_resolved: dict[str, Hold] = field(default_factory=dict)
    accounts_touched: set[int] = field(default_factory=set)


class _Undo:
    """Everything one linked chain changed, so a failure part-way can put it all back."""

    def __init__(self, outcome: Outcome) -> None:
        self.balances: list[tuple[Account, int, int, int, int]] = []
        self.holds: list[tuple[Hold, int, str | None]] = []
        self.created_len = len(outcome.created)
        self.ids: list[str] = []

    def save(self, account: Account) -> None:
        self.balances.append(
            (
                account,
                account.debits_pending,
                account.debits_posted,
                account.credits_pending,
                account.credits_posted,
            )
        )

    def restore(self, outcome: Outcome, existing: dict[str, Transfer]) -> None:
        for account, dp, dpo, cp, cpo in reversed(self.balances):
            account.debits_pending, account.debits_posted = dp, dpo
            account.credits_pending, account.credits_posted = cp, cpo
        for hold, state, resolved_by in reversed(self.holds):
            hold.state, hold.resolved_by = state, resolved_by
            outcome.holds_resolved.pop(hold.transfer_id, None)
        for created in outcome.created[self.created_len :]:
            outcome.holds_created.pop(created.id, None)
        del outcome.created[self.created_len :]
        for transfer_id in self.ids:
            existing.pop(transfer_id, None)


def apply(
    transfers: list[Transfer],
    accounts: dict[int, Account],
    holds: dict[str, Hold],
    existing: dict[str, Transfer],
    now_us: int,
) -> Outcome:
    """Apply ``transfers`` in order. Mutates ``accounts``, ``holds`` and ``existing`` in place.

    A linked chain (transfers flagged LINKED, closed by the first one that is not) applies
    entirely or not at all: on a failure the chain's other transfers get LINKED_EVENT_FAILED.
    """
    outcome = Outcome(results=[Result.OK] * len(transfers))
    results = outcome.results
    chain_start = -1
    undo: _Undo | None = None
    chain_failed = False
    for index, transfer in enumerate(transfers):
        linked = transfer.flags & _LINKED
        if linked and chain_start < 0:
            chain_start, undo, chain_failed = index, _Undo(outcome), False
        if chain_failed:
            results[index] = Result.LINKED_EVENT_FAILED
        else:
            result = _apply_one(transfer, accounts, holds, existing, now_us, outcome, undo)
            results[index] = result
            if result is not Result.OK and result is not Result.EXISTS and undo is not None:
                chain_failed = True
                undo.restore(outcome, existing)
                for earlier in range(chain_start, index):
                    results[earlier] = Result.LINKED_EVENT_FAILED
        if not linked and chain_start >= 0:
            chain_start, undo, chain_failed = -1, None, False
    if chain_start >= 0:
        # A batch must not end inside a chain: nothing of the open chain is applied.
        if undo is not None and not chain_failed:
            undo.restore(outcome, existing)
        for index in range(chain_start, len(transfers)):
            results[index] = Result.LINKED_EVENT_CHAIN_OPEN
    return outcome


def _apply_one(
    t: Transfer,
    accounts: dict[int, Account],
    holds: dict[str, Hold],
    existing: dict[str, Transfer],
    now_us: int,
    outcome: Outcome,
    undo: _Undo | None,
) -> Result:
    if not t.id or len(t.id) > TRANSFER_ID_LENGTH_MAX or not t.id.isascii():
        return Result.ID_INVALID
    stored = existing.get(t.id)
    if stored is not None:
        return Result.EXISTS if stored.same_request(t) else Result.EXISTS_WITH_DIFFERENT_FIELDS
    flags = t.flags
    if flags & ~_KNOWN_FLAGS or bin(flags & (_PENDING | _POST | _VOID)).count("1") > 1:
        return Result.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if len(t.ref) > REF_LENGTH_MAX or len(t.user_data) > USER_DATA_LENGTH_MAX:
        return Result.FIELD_TOO_LONG
    if flags & (_POST | _VOID):
        return _resolve_pending(t, accounts, holds, existing, now_us, outcome, undo)
    return _move(t, accounts, existing, now_us, outcome, undo)


def _move(
    t: Transfer,
    accounts: dict[int, Account],
    existing: dict[str, Transfer],
    now_us: int,
    outcome: Outcome,
    undo: _Undo | None,
) -> Result:
    """A single-phase transfer or a new hold (PENDING)."""
    amount = t.amount
    if t.pending_id is not None:
        return Result.PENDING_ID_MUST_BE_EMPTY
    if amount <= 0:
        return Result.AMOUNT_MUST_BE_POSITIVE
    if amount > AMOUNT_MINOR_MAX:
        return Result.AMOUNT_TOO_LARGE
    if t.debit_account_id == t.credit_account_id:
        return Result.ACCOUNTS_MUST_BE_DIFFERENT
    pending = t.flags & _PENDING
    if t.timeout_s < 0 or t.timeout_s > HOLD_TIMEOUT_S_MAX or (t.timeout_s and not pending):
        return Result.TIMEOUT_INVALID
    debit = accounts.get(t.debit_account_id)
    if debit is None:
        return Result.DEBIT_ACCOUNT_NOT_FOUND
    credit = accounts.get(t.credit_account_id)
    if credit is None:
        return Result.CREDIT_ACCOUNT_NOT_FOUND
    if debit.currency != credit.currency:
        return Result.CURRENCY_MISMATCH
    debits_after = debit.debits_pending + debit.debits_posted + amount
    credits_after = credit.credits_pending + credit.credits_posted + amount
    if debit.flags & _DMNEC and debits_after > debit.credits_posted:
        return Result.EXCEEDS_CREDITS
    if credit.flags & _CMNED and credits_after > credit.debits_posted:
        return Result.EXCEEDS_DEBITS
    if debits_after > BALANCE_MAX or credits_after > BALANCE_MAX:
        return Result.OVERFLOWS_BALANCE
    if undo is not None:
        undo.save(debit)
        undo.save(credit)
        undo.ids.append(t.id)
    if pending:
        debit.debits_pending += amount
        credit.credits_pending += amount
        expires = now_us + t.timeout_s * 1_000_000 if t.timeout_s else None
        outcome.holds_created[t.id] = Hold(t.id, debit.id, credit.id, amount, expires)
    else:
        debit.debits_posted += amount
        credit.credits_posted += amount
    _record(t, t.debit_account_id, t.credit_account_id, amount, existing, now_us, outcome)
    return Result.OK


def _resolve_pending(
    t: Transfer,
    accounts: dict[int, Account],
    holds: dict[str, Hold],
    existing: dict[str, Transfer],
    now_us: int,
    outcome: Outcome,
    undo: _Undo | None,
) -> Result:
    """Post (capture) or void a hold; an EXPIRY-coded void is the ledger releasing it on time."""
    if t.pending_id is None:
        return Result.PENDING_ID_REQUIRED
    if t.timeout_s:
        return Result.TIMEOUT_INVALID
    hold = holds.get(t.pending_id) or outcome.holds_created.get(t.pending_id)
    if hold is None:
        return Result.PENDING_TRANSFER_NOT_FOUND
    if hold.state != HoldState.PENDING:
        return _HOLD_DONE[HoldState(hold.state)]
    expiry = t.code == TransferCode.EXPIRY
    if not expiry and hold.expires_at_us is not None and now_us >= hold.expires_at_us:
        return Result.PENDING_TRANSFER_EXPIRED
    if t.debit_account_id not in (0, hold.debit_account_id) or t.credit_account_id not in (
        0,
        hold.credit_account_id,
    ):
        return Result.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS
    posting = t.flags & _POST
    amount = t.amount or hold.amount
    if amount < 0:
        return Result.AMOUNT_MUST_BE_POSITIVE
    if amount > hold.amount or (not posting and amount != hold.amount):
        return Result.EXCEEDS_PENDING_AMOUNT
    debit = accounts[hold.debit_account_id]
    credit = accounts[hold.credit_account_id]
    if undo is not None:
        undo.save(debit)
        undo.save(credit)
        undo.holds.append((hold, hold.state, hold.resolved_by))
        undo.ids.append(t.id)
    debit.debits_pending -= hold.amount
    credit.credits_pending -= hold.amount
    if posting:
        debit.debits_posted += amount
        credit.credits_posted += amount
        hold.state = HoldState.POSTED
    else:
        hold.state = HoldState.EXPIRED if expiry else HoldState.VOIDED
    hold.resolved_by = t.id
    outcome.holds_resolved[hold.transfer_id] = hold
    _record(t, debit.id, credit.id, amount, existing, now_us, outcome)
    return Result.OK


def _record(
    t: Transfer,
    debit_id: int,
    credit_id: int,
    amount: int,
    existing: dict[str, Transfer],
    now_us: int,
    outcome: Outcome,
) -> None:
    stored = Transfer(
        t.id,
        debit_id,
        credit_id,
        amount,
        t.code,
        t.flags,
        t.pending_id,
        t.timeout_s,
        t.ref,
        t.user_data,
        now_us,
    )
    existing[t.id] = stored
    outcome.created.append(stored)
    outcome.accounts_touched.add(debit_id)
    outcome.accounts_touched.add(credit_id)
