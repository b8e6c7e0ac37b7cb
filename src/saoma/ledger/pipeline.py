"""Prepared batches sent back to back on one PostgreSQL connection in pipeline mode.

Each batch goes as its statements followed by a Sync. PostgreSQL runs the statements before a
Sync as one implicit transaction, commits it at the Sync (or rolls it back there if one of them
failed), and runs the batches in the order they were sent: a batch sees the one before it
committed. The commit thread works out the next batch while the database writes this one
(see :meth:`saoma.ledger.store.LedgerStore.prepare`); a reader thread takes the results and
reports each batch, in order, to ``done(job, committed)``.

If the connection breaks, every batch on its way is reported as not committed: whether its
commit happened is unknown, and the caller applies it again by its transfers' ids, which the
ledger answers idempotently.
"""

from __future__ import annotations

import logging
import select
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from psycopg import pq

log = logging.getLogger(__name__)

DEPTH = 3  # batches on their way at once

_SYNC = pq.ExecStatus.PIPELINE_SYNC
_DONE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)  # anything else fails the batch

Statements = list[tuple[bytes, list[bytes | None]]]  # (prepared statement's name, parameters)


class Pipeline:
    def __init__(
        self,
        connect: Callable[[], Any],
        prepare: dict[bytes, bytes],
        done: Callable[[Any, bool], None],
        depth: int = DEPTH,
    ) -> None:
        """``connect()`` gives a pool connection to psycopg, detached: this pipeline owns it.

        ``prepare`` names the statements batches are made of (numbered parameters): each
        connection prepares them once, so PostgreSQL parses them once, not per batch.
        """
        self._connect = connect
        self._prepare = prepare
        self._done = done
        self._slots = threading.Semaphore(depth)
        self._lock = threading.Condition()  # guards the connection and what is on its way
        self._conn: Any = None
        self._on_way: deque[list[Any]] = deque()  # [job, committed so far], in the order sent
        self._reporting = 0  # batches taken off the way whose done() has not returned

    def send(self, statements: Statements, job: Any) -> None:
        """Send one batch; blocks while ``depth`` batches are on their way."""
        self._slots.acquire()
        failed: list[list[Any]] = []
        with self._lock:
            self._on_way.append([job, True])
            self._lock.notify_all()
            try:
                if self._conn is None:
                    self._open()
                pg = self._conn.dbapi_connection.pgconn
                for name, params in statements:
                    pg.send_query_prepared(name, params)
                pg.pipeline_sync()
                # The connection does not block: send what libpq could not yet, reading
                # results meanwhile so that the server is never stuck writing them.
                while pg.flush():
                    _wait(pg.socket, select.POLLIN | select.POLLOUT)
                    pg.consume_input()
            except Exception:
                log.warning("the ledger's pipelined connection failed", exc_info=True)
                failed = self._break()
        self._report(failed)

    def busy(self) -> bool:
        """Whether a batch sent is not reported yet."""
        with self._lock:
            return bool(self._on_way or self._reporting)

    def wait_idle(self) -> None:
        """Until every batch sent is reported (its done() returned)."""
        with self._lock:
            while self._on_way or self._reporting:
                self._lock.wait()

    def close(self) -> None:
        self.wait_idle()
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _open(self) -> None:
        conn = self._connect()
        pg = conn.dbapi_connection.pgconn
        try:
            for name, sql in self._prepare.items():
                result = pg.prepare(name, sql)
                if result.status != pq.ExecStatus.COMMAND_OK:
                    raise RuntimeError(result.get_error_message())
            pg.enter_pipeline_mode()
        except Exception:
            conn.close()
            raise
        self._conn = conn
        threading.Thread(
            target=self._read, args=(conn,), name="ledger-pipeline", daemon=True
        ).start()

    def _break(self) -> list[list[Any]]:
        """Under the lock: drop the connection; everything on its way failed."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)
        failed = list(self._on_way)
        for entry in failed:
            entry[1] = False
        self._on_way.clear()
        self._reporting += len(failed)
        return failed

    def _report(self, finished: list[list[Any]]) -> None:
        for job, committed in finished:
            self._slots.release()
            try:
                self._done(job, committed)
            except Exception:
                log.exception("reporting a pipelined batch failed")
            finally:
                with self._lock:
                    self._reporting -= 1
                    self._lock.notify_all()

    def _read(self, conn: Any) -> None:
        try:
            self._read_results(conn)
        except Exception:
            log.warning("the ledger's pipeline reader failed", exc_info=True)
            with self._lock:
                failed = self._break() if self._conn is conn else []
            self._report(failed)

    def _read_results(self, conn: Any) -> None:
        pg = conn.dbapi_connection.pgconn
        socket = pg.socket
        while True:
            finished: list[list[Any]] = []
            with self._lock:
                if self._conn is not conn:
                    return
                if not self._on_way:
                    self._lock.wait(0.1)
                    continue
                try:
                    pg.consume_input()
                    while self._on_way and not pg.is_busy():
                        result = pg.get_result()
                        if result is None:
                            continue  # the end of one statement's results
                        if result.status == _SYNC:
                            finished.append(self._on_way.popleft())
                            self._reporting += 1
                        elif result.status not in _DONE:
                            self._on_way[0][1] = False
                except Exception:
                    log.warning("the ledger's pipelined connection failed", exc_info=True)
                    finished += self._break()
            if finished:
                self._report(finished)
            else:
                _wait(socket, select.POLLIN)


def _wait(socket: int, events: int) -> None:
    poller = select.poll()
    poller.register(socket, events)
    poller.poll(100)
