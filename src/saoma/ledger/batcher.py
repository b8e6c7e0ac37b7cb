"""Group commit: many callers' transfers ride in one database transaction.

Callers submit a list of transfers and get a future. A worker thread takes everything queued (up
to ``batch_max`` transfers), applies it in one transaction through the store, and resolves each
caller's future with that caller's own results, only after the commit: a result the caller sees
is durable. Under load batches grow by themselves; with one caller a batch is one request, so
latency stays that of a single transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from saoma.db import database_unavailable
from saoma.ledger.domain import BATCH_TRANSFERS_MAX, Result, Transfer, TransferFlags
from saoma.ledger.pipeline import Pipeline
from saoma.ledger.store import PIPELINED, LedgerStore, Prepared
from saoma.ledger.tx import Hook, Refusal, Tx

log = logging.getLogger(__name__)

_LINKED = TransferFlags.LINKED.value
HELD_MAX_S = 0.02  # longest a committed caller waits for the next batch to send its writes


class Reply:
    """A caller's answer from the commit thread: the part of a Future's interface callers use.

    The caller sleeps on one bare lock that the commit thread releases. A Future wakes through a
    Condition, and with hundreds of callers that waking was half of the process's Python time.
    """

    __slots__ = ("_callbacks", "_error", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._value: list[Result] = []
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Reply], object]] | None = []

    def set_result(self, value: list[Result]) -> None:
        self._value = value
        self._finish()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._finish()

    def _finish(self) -> None:
        with _CALLBACKS:
            callbacks, self._callbacks = self._callbacks, None
        self._lock.release()
        for callback in callbacks or ():
            try:
                callback(self)
            except Exception:
                log.exception("a ledger reply's callback failed")

    def done(self) -> bool:
        return self._callbacks is None

    def _wait(self) -> None:
        if self._callbacks is not None:
            with self._lock:
                pass

    def result(self) -> list[Result]:
        self._wait()
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self) -> BaseException | None:
        self._wait()
        return self._error

    def add_done_callback(self, callback: Callable[[Reply], object]) -> None:
        """``callback(reply)`` once answered: at once if it is, else on the commit thread."""
        with _CALLBACKS:
            if self._callbacks is not None:
                self._callbacks.append(callback)
                return
        callback(self)


_CALLBACKS = threading.Lock()  # guards every Reply's callback list; held for an append at most


@dataclass(slots=True)
class _Request:
    transfers: list[Transfer]
    future: Reply
    hook: Hook | None = None
    locked: bool = False  # apply reading under lock (a pipelined attempt did not commit)


class GroupCommitter:
    def __init__(
        self, store: LedgerStore, *, batch_max: int = BATCH_TRANSFERS_MAX, workers: int = 1
    ) -> None:
        if not 1 <= batch_max <= BATCH_TRANSFERS_MAX:
            raise ValueError(f"batch_max must be between 1 and {BATCH_TRANSFERS_MAX}")
        self._store = store
        self._batch_max = batch_max
        self._queue: deque[_Request] = deque()
        self._again: deque[_Request] = deque()  # from pipelined batches that did not commit
        self._cond = threading.Condition()
        self._closed = False
        self.batches = 0  # counters for metrics and benchmarks
        self.transfers = 0
        self.pipelined = 0  # batches committed through the pipeline
        self.pipelined_again = 0  # pipelined batches that did not commit and went again
        # Committed requests whose callers are not answered yet (see _run), since when, and a
        # watchdog that answers them if the next batch is slow to send its writes.
        self._held: list[tuple[_Request, list[Result]]] = []
        self._held_since = 0.0
        self._held_lock = threading.Lock()
        self._holding = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"ledger-commit-{i}", daemon=True)
            for i in range(workers)
        ]
        self._threads.append(
            threading.Thread(target=self._watch_held, name="ledger-answers", daemon=True)
        )
        # PostgreSQL, one commit thread: batches worked out from remembered rows go on a
        # pipelined connection of their own (see saoma.ledger.pipeline).
        self._pipeline: Pipeline | None = None
        if not store.sqlite and workers == 1:
            self._pipeline = Pipeline(self._connect_detached, PIPELINED, self._pipelined)
        for thread in self._threads:
            thread.start()

    def submit(self, transfers: list[Transfer], hook: Hook | None = None) -> Reply:
        """Queue ``transfers`` (at most ``batch_max``); the future resolves after the commit.

        ``hook`` runs inside the batch's transaction with this request's results (see
        :mod:`saoma.ledger.tx`); if it raises, this request is rolled back and its future gets
        the exception, while the other requests of the batch still commit.
        """
        future = Reply()
        if len(transfers) > self._batch_max:
            future.set_exception(ValueError(f"at most {self._batch_max} transfers per call"))
            return future
        if not transfers:
            future.set_result([])
            return future
        head, open_tail = _split_open_chain(transfers)
        if open_tail:
            # A chain must close inside one call, or it would swallow the next caller's transfers.
            inner = self.submit(head, hook) if head else _done([])
            tail = [Result.LINKED_EVENT_CHAIN_OPEN] * open_tail
            inner.add_done_callback(lambda f: _chain(f, future, tail))
            return future
        with self._cond:
            if self._closed:
                raise RuntimeError("the ledger is closed")
            self._queue.append(_Request(transfers, future, hook))
            self._cond.notify()
        return future

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._holding.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _take(self, wait: bool = True) -> list[_Request] | None:
        """The next batch; None once closed and drained; [] if not ``wait`` and nothing queued.

        Requests whose pipelined batch did not commit come first, on their own.
        """
        with self._cond:
            while not self._queue and not self._again:
                if self._closed:
                    return None
                if not wait or self._held:
                    return []
                self._cond.wait()
            source = self._again or self._queue
            taken: list[_Request] = []
            count = 0
            while source and count + len(source[0].transfers) <= self._batch_max:
                request = source.popleft()
                taken.append(request)
                count += len(request.transfers)
            return taken

    def _run(self) -> None:
        raw: Any = None
        # The callers of a committed batch are answered while the next batch is in the
        # database, if a next batch is queued: a third once its reads are sent, the rest once
        # its writes are sent (PostgreSQL; on SQLite all once its writes are made). Their Python
        # then runs while this thread waits for the database, in proportion to the two waits
        # (the reads take about a third of them). Woken before the next batch, or all at one
        # point, they held this thread back, each waiting its turn for the GIL. If the next
        # batch waits (on another process's locks, say), the watchdog answers them after
        # HELD_MAX_S. Batches sent on the pipeline are answered likewise (see _pipelined).
        while True:
            requests = self._take(wait=not self._held)
            if not requests:
                self._answer_held()
                if requests is None:
                    if self._pipeline is not None and self._pipeline.busy():
                        self._pipeline.wait_idle()  # what did not commit comes back queued
                        continue
                    if self._reported_meanwhile():
                        continue
                    break
                continue
            try:
                if raw is None:
                    raw = self._store.engine.raw_connection()
                if self._pipeline is not None and self._send_prepared(requests, raw):
                    continue
                self._hold(self._commit(requests, raw, self._answer_held, self._answer_third))
            except Refusal:
                # A hook refused its request (rolled back): the others go through without it.
                self._answer_held()
                self._commit_one_by_one(requests)
            except Exception as exc:
                if database_unavailable(exc):  # a failover: each request learns it, in turn
                    log.warning("ledger batch failed, the database is away: %s", exc)
                else:
                    log.exception("ledger batch failed")
                self._answer_held()
                _discard(raw)
                raw = None
                # The remembered rows may be a lost primary's: read them again from the new one.
                self._store.rows.clear()
                self._commit_one_by_one(requests)
        if raw is not None:
            raw.close()
        if self._pipeline is not None:
            self._pipeline.close()

    def _reported_meanwhile(self) -> bool:
        """Closing, with nothing queued and nothing on the pipeline: whether a batch reported
        between the two looks queued requests again (it did not commit) or held callers (it
        did). Those are answered; nothing else can be sent, so a second look is the last."""
        self._answer_held()
        with self._cond:
            return bool(self._queue or self._again)

    def _send_prepared(self, requests: list[_Request], raw: Any) -> bool:
        """Send ``requests`` on the pipeline if they can be worked out from remembered rows.

        Otherwise (a hook to run, a hold, a refusal, a request that already failed there) they
        are applied reading under lock, once the pipeline has nothing on its way, so that the
        locked reads see its batches committed.
        """
        assert self._pipeline is not None
        prepared = None
        if not any(r.hook is not None or r.locked for r in requests):
            batch = [t for r in requests for t in r.transfers]
            prepared = self._store.prepare(batch, raw.driver_connection)
        if prepared is None:
            self._pipeline.wait_idle()
            if self._again and not requests[0].locked:
                # A batch sent before these did not commit: it goes first, as it was queued.
                with self._cond:
                    self._queue.extendleft(reversed(requests))
                return True
            return False
        self._answer_held()
        self._pipeline.send(prepared.statements, (requests, prepared))
        return True

    def _pipelined(self, job: tuple[list[_Request], Prepared], committed: bool) -> None:
        """From the pipeline's reader: hold a committed batch's callers, or queue it again.

        Held callers are answered by this committer's thread, when it next sends a batch or has
        nothing queued: answered from the reader, they woke while this thread worked the next
        batch out and made it wait its turn for the GIL (a tenth fewer transfers/s with 256
        threads).
        """
        requests, prepared = job
        if not committed:
            # Another writer moved an account, a transfer was written before, or the
            # connection broke: forget the remembered rows; the batch goes again, reading.
            self._store.rows.clear()
            with self._cond:
                self.pipelined_again += 1
                for request in requests:
                    request.locked = True
                self._again.extend(requests)  # in the order the batches were sent
                self._cond.notify()
            return
        self.pipelined += 1
        self.batches += 1
        self.transfers += len(prepared.results)
        self._hold(_per_request(requests, prepared.results))
        with self._cond:
            self._cond.notify()

    def _connect_detached(self) -> Any:
        raw = self._store.engine.raw_connection()
        raw.rollback()  # idle: each batch is then a transaction of its own
        raw.detach()
        return raw

    def _hold(self, done: list[tuple[_Request, list[Result]]]) -> None:
        with self._held_lock:
            if not self._held:
                self._held_since = time.monotonic()
            self._held.extend(done)
        self._holding.set()

    def _answer_third(self) -> None:
        """A third of the held callers, while the next batch's reads are in the database."""
        self._answer_held(thirds=1)

    def _answer_held(self, thirds: int = 3) -> None:
        with self._held_lock:
            n = (len(self._held) * thirds + 2) // 3  # rounded up
            taken, self._held = self._held[:n], self._held[n:]
        for request, results in taken:
            request.future.set_result(results)

    def _watch_held(self) -> None:
        while True:
            self._holding.wait()
            with self._cond:
                if self._closed and not self._held:
                    return
            time.sleep(HELD_MAX_S / 2)
            with self._held_lock:
                overdue = bool(self._held) and time.monotonic() - self._held_since >= HELD_MAX_S
                if not self._held:
                    with self._cond:  # close() sets the event after marking closed, under _cond
                        if not self._closed:
                            self._holding.clear()
            if overdue:
                self._answer_held()

    def _commit(
        self,
        requests: list[_Request],
        raw: Any,
        on_sent: Callable[[], None],
        on_read: Callable[[], None] | None = None,
    ) -> list[tuple[_Request, list[Result]]]:
        """Apply ``requests`` in one transaction: each with its results, committed."""
        batch = [t for r in requests for t in r.transfers]
        hooked = [r for r in requests if r.hook is not None]

        def before_commit(tx: Tx, results: list[Result]) -> None:
            for request, own in _per_request(requests, results):
                if request.hook is not None:
                    request.hook(tx, own)
                    tx.flush()  # its writes, joined in one statement, and nobody else's
            tx.run_later()  # the hooks' looks at their answers, after one wait for them all

        outcome = self._store.apply_batch(
            batch, raw.driver_connection, before_commit if hooked else None, on_sent, on_read
        )
        self.batches += 1
        self.transfers += len(batch)
        return _per_request(requests, outcome.results)

    def _commit_one_by_one(self, requests: list[_Request]) -> None:
        """After a failed batch, isolate the request at fault so the others still go through."""
        for request in requests:
            raw = None
            try:
                raw = self._store.engine.raw_connection()
                ((_, results),) = self._commit([request], raw, lambda: None)
                request.future.set_result(results)
            except Exception as exc:
                # Not committed, or (the connection lost at COMMIT) not known to be: either way
                # the caller is not answered with success, and its retry is applied by id.
                request.future.set_exception(exc)
                if raw is not None and database_unavailable(exc):
                    _discard(raw)  # not back into the pool
                    raw = None
            finally:
                if raw is not None:
                    raw.close()


def _per_request(
    requests: list[_Request], results: list[Result]
) -> list[tuple[_Request, list[Result]]]:
    """Each request with its own part of a batch's ``results``."""
    done = []
    offset = 0
    for request in requests:
        n = len(request.transfers)
        done.append((request, results[offset : offset + n]))
        offset += n
    return done


def _split_open_chain(transfers: list[Transfer]) -> tuple[list[Transfer], int]:
    if not transfers[-1].flags & _LINKED:
        return transfers, 0
    start = len(transfers)
    while start > 0 and transfers[start - 1].flags & _LINKED:
        start -= 1
    return transfers[:start], len(transfers) - start


def _done(value: list[Result]) -> Reply:
    reply = Reply()
    reply.set_result(value)
    return reply


def _chain(inner: Reply, outer: Reply, tail: list[Result]) -> None:
    exc = inner.exception()
    if exc is not None:
        outer.set_exception(exc)
    else:
        outer.set_result(inner.result() + tail)


def _discard(raw: Any) -> None:
    try:
        raw.invalidate()
    except Exception:
        log.debug("could not invalidate a broken connection", exc_info=True)
