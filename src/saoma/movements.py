"""The unit of work: move money and record the facts about it in one commit.

Every service that moves money calls :meth:`Movements.move` with its transfers and a ``record``
function. ``record`` runs inside the ledger's batch transaction, only when every transfer was
applied, and writes the business facts through the :class:`Unit` it is handed: rows, outbox
events, the stored idempotent response. Money and facts commit together or not at all.

The ledger may run ``record`` more than once: a batch that fails is rolled back and retried
request by request. So ``record`` must not touch anything outside the transaction. What has to
happen outside (waking the webhook dispatcher, adjusting an in-memory cache) is registered with
:meth:`Unit.after` or :meth:`Unit.emit`; it runs after the commit, exactly once, from the run that
committed, never from a run that was rolled back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Table

from saoma.core import errors, request_ids
from saoma.core.errors import NotRecorded, SaomaError
from saoma.db import write
from saoma.freezes.guard import refuse_frozen, watch
from saoma.ledger import Ledger, Result, Transfer
from saoma.ledger import errors as ledger_errors
from saoma.ledger.errors import error_for
from saoma.ledger.tx import Refusal, Tx
from saoma.observe import metrics
from saoma.webhooks.outbox import emit_in

_INSERTS: dict[tuple[str, tuple[str, ...]], str] = {}


def insert_sql(table: Table, columns: Sequence[str]) -> str:
    """``INSERT INTO table (...) VALUES (:...)`` for these columns, built once per shape."""
    key = (table.name, tuple(columns))
    sql = _INSERTS.get(key)
    if sql is None:
        unknown = [c for c in columns if c not in table.c]
        if unknown:
            raise KeyError(f"{table.name} has no column {unknown[0]!r}")
        names = ", ".join(columns)
        params = ", ".join(f":{c}" for c in columns)
        sql = _INSERTS[key] = f"INSERT INTO {table.name} ({names}) VALUES ({params})"
    return sql


class Unit:
    """One run of a ``record`` function: the transaction, and what to do once it commits, and
    the id of the request that caused it (None for the server's own work)."""

    __slots__ = ("_after", "events", "flows", "request_id", "tx")

    def __init__(self, tx: Tx, request_id: str | None = None) -> None:
        self.tx = tx
        self.request_id = request_id
        self.events: list[str] = []
        self.flows: list[str] = []  # the payments it made, by flow (for the metrics)
        self._after: list[Callable[[], None]] = []

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.tx.execute(sql, params)

    def write(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """A write nobody looks at the result of (see :meth:`saoma.ledger.tx.Tx.write`)."""
        self.tx.write(sql, params)

    def insert(self, table: Table, values: Mapping[str, Any]) -> None:
        """Insert one new row into ``table`` (a SQLAlchemy table: the columns are checked), as
        a :meth:`write`."""
        self.tx.write(insert_sql(table, list(values)), values)

    def emit(self, event_type: str, **kwargs: Any) -> str:
        """Record an outbox event (see :func:`saoma.webhooks.outbox.emit_in`); its delivery is
        woken after the commit."""
        event_id = emit_in(self.tx, event_type, request_id=self.request_id, **kwargs)
        self.events.append(event_id)
        flow = metrics.flow_of(event_type, kwargs.get("data"))
        if flow is not None:
            self.flows.append(flow)
        return event_id

    def later(self, look: Callable[[], None]) -> None:
        """Look at results (and refuse by raising) once the batch's hooks have all run: see
        :meth:`saoma.ledger.tx.Tx.later`."""
        self.tx.later(look)

    def after(self, effect: Callable[[], None]) -> None:
        """Run ``effect`` after the commit, once, and only if this run is the one committed."""
        self._after.append(effect)


class Record(Protocol):
    def __call__(self, unit: Unit, /) -> None: ...


@dataclass(frozen=True)
class Moved:
    """Every transfer was applied and the facts committed with them."""

    results: list[Result]
    events: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    """At least one transfer was not applied: nothing was recorded."""

    results: list[Result]
    transfers: list[Transfer]
    # A run of ``record`` before the last one recorded the facts, and its batch did not end in
    # an answered commit (the connection was lost at COMMIT, or another request's hook refused):
    # that run may have committed.
    unanswered: bool = False

    @property
    def written_before(self) -> bool:
        """Every transfer was there already (``EXISTS``): written by an earlier run of this
        request, or by a twin of it, and this run recorded nothing."""
        return all(r.ok for r in self.results)

    @property
    def uncertain(self) -> bool:
        """Written before, perhaps by this request's own run whose commit went unanswered: not
        known to be done or not, so never to be answered as refused."""
        return self.unanswered and self.written_before

    def problem(self, *, field: str = "amount") -> SaomaError:
        """The refusal in the words a payer or merchant understands: the transfer that caused
        it, not one that failed only because it was linked to it."""
        pairs = list(zip(self.results, self.transfers, strict=True))
        for result, transfer in pairs:
            if not result.ok and result is not Result.LINKED_EVENT_FAILED:
                return from_ledger(error_for(result, transfer.id), field=field)
        for result, transfer in pairs:
            if not result.ok:
                return from_ledger(error_for(result, transfer.id), field=field)
        if self.uncertain:
            # The retry found the transfers there: written by the run whose answer was lost,
            # perhaps, with its facts. Not known, so not refused: a retry learns the outcome.
            return errors.DatabaseUnavailable(
                "the money movement's outcome is not known here (its commit may have gone"
                " unanswered): try again with the same Idempotency-Key to learn it"
            )
        return NotRecorded("the money movement could not be recorded; retry")


class Movements:
    """Applies transfers through the ledger with a ``record`` function in the same commit."""

    def __init__(
        self, ledger: Ledger, *, on_events: Callable[[list[str]], None] | None = None
    ) -> None:
        self.ledger = ledger
        self._on_events = on_events or (lambda _ids: None)

    def move(
        self, transfers: Sequence[Transfer], record: Record | None = None, *, booked: bool = False
    ) -> Moved | Refused:
        """Apply ``transfers``; when all are applied, ``record`` writes the facts in the commit.

        A refusal raised by ``record`` (:class:`saoma.ledger.tx.Refusal`, such as a
        :class:`~saoma.core.errors.SaomaError`) rolls back this movement and is raised here, as
        is :class:`~saoma.core.errors.Frozen` when it would take money out of a frozen account
        or pay a frozen merchant (:mod:`saoma.freezes.guard`: its check is sent before
        ``record`` runs) -- unless ``booked``: the movement books what the bank already did (a
        payout or withdrawal it paid after Saoma gave up on it), which no freeze can undo.
        """
        transfers = list(transfers)
        committed: list[Unit | None] = [None]
        recorded = [False]  # by some run of the hook, perhaps one whose commit was not answered
        seen = watch([] if booked else transfers)
        request_id = request_ids.current_id()  # the hook runs on the ledger's thread

        def hook(tx: Tx, results: list[Result]) -> None:
            committed[0] = None  # a retried batch runs the hook again: the last run counts
            frozen = refuse_frozen(tx, seen) if any(r is Result.OK for r in results) else None
            if results and all(r is Result.OK for r in results):
                unit = Unit(tx, request_id)
                if record is not None:
                    try:
                        record(unit)
                        tx.flush()  # its writes sent, and their looks put off before the next
                    except Refusal:
                        if frozen is not None:
                            frozen()  # a freeze is the refusal heard first, as on SQLite
                        raise
                committed[0] = unit
                # Once the batch's looks before it have passed, on its way to the commit.
                tx.later(lambda: recorded.__setitem__(0, True))

        started = time.perf_counter()
        results = self.ledger.submit(transfers, hook=hook).result()
        metrics.ledger_waited(time.perf_counter() - started)
        unit = committed[0]
        if unit is None:
            return Refused(results, transfers, unanswered=recorded[0])
        self._committed(unit)
        return Moved(results, unit.events)

    def record_alone(self, record: Record) -> list[str]:
        """Record facts that move no money (an event, a state change) in a transaction of their
        own; effects run after its commit, as for a movement."""
        engine = self.ledger.engine
        with write(engine) as conn:
            unit = Unit(
                Tx(conn.connection.driver_connection, postgres=engine.dialect.name != "sqlite"),
                request_ids.current_id(),
            )
            record(unit)
        self._committed(unit)
        return unit.events

    def _committed(self, unit: Unit) -> None:
        """What ``unit`` left for after its commit: its effects, then the wake-up of delivery."""
        for effect in unit._after:
            effect()
        for flow in unit.flows:
            metrics.payment_succeeded(flow)
        if unit.events:
            self._on_events(unit.events)


def from_ledger(exc: ledger_errors.LedgerError, *, field: str = "amount") -> errors.SaomaError:
    """The ledger's typed refusals, in the words a payer or merchant understands."""
    if isinstance(exc, ledger_errors.InsufficientFunds):
        return errors.InsufficientFunds("the wallet does not hold enough money", field=field)
    if isinstance(exc, ledger_errors.CurrencyMismatch):
        return errors.CurrencyMismatch("the currencies do not match", field="currency")
    if isinstance(exc, ledger_errors.ExceedsLimit):
        return errors.AmountTooLarge("the amount is above the limit", field=field)
    if isinstance(exc, ledger_errors.PendingTransferExpired):
        return errors.HoldExpired("the hold has expired and was released")
    if isinstance(exc, ledger_errors.PendingTransferError):
        return errors.HoldNotOpen(f"the hold cannot be changed: {exc.result.value}")
    if isinstance(exc, ledger_errors.IdempotencyConflict):
        return errors.TransferIdReused("this operation was already done with other details")
    return errors.LedgerRefused(f"the ledger refused the transfer: {exc.result.value}")
