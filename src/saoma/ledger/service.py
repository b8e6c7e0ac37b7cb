"""The ledger as a service: accounts, transfers, holds and queries over one engine."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Sequence

from sqlalchemy.engine import Engine

from saoma.core.ids import new_account_id
from saoma.db import make_engine
from saoma.ledger.batcher import GroupCommitter, Reply
from saoma.ledger.domain import (
    BATCH_TRANSFERS_MAX,
    Account,
    AccountFlags,
    AccountKind,
    AccountResult,
    Hold,
    Page,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)
from saoma.ledger.errors import error_for
from saoma.ledger.store import LedgerStore, expiry_id, now_us
from saoma.ledger.tx import Hook

SWEEP_LIMIT_MAX = 5000
ACCOUNT_ID_TRIES_MAX = 5


class Ledger:
    """Double-entry ledger. Thread-safe; transfers from concurrent callers are group-committed."""

    def __init__(
        self, engine: Engine, *, batch_max: int = BATCH_TRANSFERS_MAX, workers: int = 1
    ) -> None:
        self.engine = engine
        self.store = LedgerStore(engine)
        self.committer = GroupCommitter(self.store, batch_max=batch_max, workers=workers)
        self._inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_url(cls, url: str, **kwargs: int) -> Ledger:
        return cls(make_engine(url), **kwargs)

    def close(self) -> None:
        self.committer.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- writes -------------------------------------------------------------------------------

    def create_accounts(self, accounts: Sequence[Account]) -> list[AccountResult]:
        return self.store.create_accounts(list(accounts))

    def open_account(
        self,
        currency: str,
        kind: AccountKind,
        flags: AccountFlags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    ) -> int:
        """A new account under a random id (random 52 bits: a collision is retried, five times
        at most; with 2^52 ids even one is unheard of)."""
        for _ in range(ACCOUNT_ID_TRIES_MAX):
            account_id = new_account_id()
            (result,) = self.create_accounts([Account(account_id, currency, kind, flags)])
            if result is AccountResult.OK:
                return account_id
        raise RuntimeError(f"could not allocate a {kind.name.lower()} account id")

    def submit(self, transfers: Sequence[Transfer], hook: Hook | None = None) -> Reply:
        """Queue transfers for the next group commit; ``hook`` records facts in the same commit."""
        return self.committer.submit(list(transfers), hook)

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[Result]:
        """Apply transfers in order, each with its own result; linked chains all or nothing."""
        return self.committer.submit(list(transfers)).result()

    async def create_transfers_async(self, transfers: Sequence[Transfer]) -> list[Result]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[Result]] = loop.create_future()
        reply = self.committer.submit(list(transfers))
        inbox = self._inboxes.get(loop)
        if inbox is None:
            inbox = self._inboxes[loop] = _Inbox(loop)
        reply.add_done_callback(lambda done: inbox.put(waiter, done))
        return await waiter

    def transfer(self, transfer: Transfer) -> Result:
        """Apply one transfer; raise the matching :class:`LedgerError` if it failed."""
        (result,) = self.create_transfers([transfer])
        if not result.ok:
            raise error_for(result, transfer.id)
        return result

    def post(self, transfer_id: str, pending_id: str, amount: int = 0, *, ref: str = "") -> Result:
        """Capture ``amount`` (0: all) of a hold; the rest is released."""
        return self.transfer(
            Transfer(
                transfer_id,
                0,
                0,
                amount,
                TransferCode.CAPTURE,
                TransferFlags.POST_PENDING,
                pending_id,
                ref=ref,
            )
        )

    def void(self, transfer_id: str, pending_id: str, *, ref: str = "") -> Result:
        """Release a hold in full."""
        return self.transfer(
            Transfer(
                transfer_id,
                0,
                0,
                0,
                TransferCode.RELEASE,
                TransferFlags.VOID_PENDING,
                pending_id,
                ref=ref,
            )
        )

    def expire_due(self, limit: int = SWEEP_LIMIT_MAX, account_id: int | None = None) -> int:
        """Release holds whose timeout has passed; returns how many this call released."""
        due = self.store.due_holds(now_us(), min(limit, SWEEP_LIMIT_MAX), account_id)
        released = 0
        for start in range(0, len(due), BATCH_TRANSFERS_MAX):
            part = due[start : start + BATCH_TRANSFERS_MAX]
            results = self.create_transfers(
                [
                    Transfer(
                        expiry_id(h), 0, 0, 0, TransferCode.EXPIRY, TransferFlags.VOID_PENDING, h
                    )
                    for h in part
                ]
            )
            released += sum(r.ok for r in results)
        return released

    # --- reads --------------------------------------------------------------------------------

    def account(self, account_id: int) -> Account | None:
        """The account with its balances, after releasing any of its holds that timed out."""
        self.expire_due(account_id=account_id)
        return self.store.accounts([account_id]).get(account_id)

    def accounts(self, account_ids: Sequence[int]) -> dict[int, Account]:
        return self.store.accounts(account_ids)

    def get_transfer(self, transfer_id: str) -> Transfer | None:
        return self.store.transfer(transfer_id)

    def get_hold(self, transfer_id: str) -> Hold | None:
        return self.store.hold(transfer_id)

    def transfers_of(self, account_id: int, cursor: str | None = None, limit: int = 50) -> Page:
        """An account's transfers, oldest first; pass ``next_cursor`` back for the next page."""
        after = 0
        if cursor:
            if len(cursor) > 19 or not (cursor.isascii() and cursor.isdigit()):  # not "²"
                raise ValueError(f"cursor {cursor!r} is not one this ledger returned")
            after = int(cursor)
        return self.store.account_transfers(account_id, after, limit)


class _Inbox:
    """Answers for one event loop's callers: one wake-up of the loop per batch, not per caller.

    The answers gathered for one wake-up are held only by the call scheduled on the loop (the
    inbox keeps weak references): if the loop closes first, they go with it, and so does the
    loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._open: weakref.ref[_Answers] | None = None  # the batch still taking answers

    def put(self, waiter: asyncio.Future[list[Result]], reply: Reply) -> None:
        with self._lock:
            answers = self._open() if self._open is not None else None
            if answers is not None and not answers.taken:
                answers.items.append((waiter, reply))
                return
            answers = _Answers([(waiter, reply)])
            self._open = weakref.ref(answers)
        loop = self._loop()
        if loop is None:
            return  # the loop is gone: nobody waits for this answer
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(self._drain, answers)

    def _drain(self, answers: _Answers) -> None:
        with self._lock:
            answers.taken = True
        for waiter, reply in answers.items:
            _settle(waiter, reply)


class _Answers:
    __slots__ = ("__weakref__", "items", "taken")

    def __init__(self, items: list[tuple[asyncio.Future[list[Result]], Reply]]) -> None:
        self.items = items
        self.taken = False


def _settle(waiter: asyncio.Future[list[Result]], reply: Reply) -> None:
    """On the caller's event loop: hand it the commit thread's answer (unless it gave up)."""
    if waiter.cancelled():
        return
    error = reply.exception()
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(reply.result())
