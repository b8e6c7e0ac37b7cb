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
_FAILED = (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.PIPELINE_ABORTED)

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
        self._closed = False

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
                pg.flush()
            except Exception:
                log.warning("the ledger's pipelined connection failed", exc_info=True)
                failed = self._break()
        self._report(failed)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._on_way)

    def wait_idle(self) -> None:
        """Until every batch sent is reported."""
        with self._lock:
            while self._on_way:
                self._lock.wait()

    def close(self) -> None:
        self.wait_idle()
        with self._lock:
            self._closed = True
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
        self._lock.notify_all()
        return failed

    def _report(self, finished: list[list[Any]]) -> None:
        for job, committed in finished:
            self._slots.release()
            try:
                self._done(job, committed)
            except Exception:
                log.exception("reporting a pipelined batch failed")

    def _read(self, conn: Any) -> None:
        pg = conn.dbapi_connection.pgconn
        readable = select.poll()
        readable.register(pg.socket, select.POLLIN)
        while True:
            with self._lock:
                if self._conn is not conn:
                    return
                if not self._on_way:
                    self._lock.wait(0.1)
                    continue
            readable.poll(100)
            finished: list[list[Any]] = []
            with self._lock:
                if self._conn is not conn:
                    return
                try:
                    pg.consume_input()
                    while self._on_way and not pg.is_busy():
                        result = pg.get_result()
                        if result is None:
                            continue  # the end of one statement's results
                        if result.status == _SYNC:
                            finished.append(self._on_way.popleft())
                        elif result.status in _FAILED:
                            self._on_way[0][1] = False
                    if not self._on_way:
                        self._lock.notify_all()
                except Exception:
                    log.warning("the ledger's pipelined connection failed", exc_info=True)
                    finished += self._break()
            self._report(finished)
