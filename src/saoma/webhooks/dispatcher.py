"""Delivering the outbox: webhooks to merchants (Standard Webhooks) with retries, at least once.

Events of one subject (an order, or a payment without one) are delivered in the order they were
written: a later event waits while an earlier one is undelivered. Several processes may run a
dispatcher on one database: each claims an event by moving its next attempt time forward with a
compare-and-set, so an event is sent by one process at a time. Every attempt is logged.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma import signing, targets
from saoma.core.ids import now_us
from saoma.db import Bare, alone, driver_write, is_sqlite, read, write, write_one
from saoma.libpq import int_array, text_array
from saoma.merchants import tables as merchant_tables
from saoma.merchants.service import WEBHOOK_SECRET_OVERLAP_US
from saoma.observe import metrics
from saoma.webhooks import tables as m

log = logging.getLogger(__name__)

S = 1_000_000
# Retry schedule after each failed attempt: about 3 days in all, well past the promised 24 hours.
BACKOFF_US = [5 * S, 30 * S, 120 * S, 600 * S, 1800 * S, 3600 * S, 2 * 3600 * S, 4 * 3600 * S]
BACKOFF_US += [8 * 3600 * S] * 8
GAVE_UP_US = 2**62  # next attempt "never": the event shows as failed; a replay revives it
TIMEOUT_S = 5.0
# A claim's lease covers its whole batch: every round of deliveries taking its longest (TIMEOUT_S)
# and this much besides for recording them. A lease that ran out while its batch was still being
# sent would let another process claim and send the same events again.
LEASE_MARGIN_US = 15 * S
BATCH_ROUNDS_MAX = 4  # a batch is at most this many rounds of the pool's deliveries
REQUEST_ID_HEADER = "Saoma-Request-Id"  # the API request that caused the event
# After a rotation, deliveries are signed with the new secret and the previous one for a day.


# Statements built once: building and keying one of these on every call cost more Python than
# the round trip it makes. Due events are found and claimed in ``outbox_due``, a small table whose
# claims (the lease) are updated in place; the outbox's own row is read, and written only when
# the attempt is recorded.
_D = m.outbox_due.c
_EARLIER = m.outbox_due.alias("earlier")
_UNCLAIMED = (
    _D.next_attempt_at_us <= bindparam("now"),
    _D.leased_until_us <= bindparam("now"),
)
DUE = (
    select(_D.seq)
    .where(
        *_UNCLAIMED,
        # An earlier event of the subject still to deliver (being sent, waiting for its retry,
        # or given up) holds the later ones back.
        ~select(_EARLIER.c.seq)
        .where(_EARLIER.c.subject == _D.subject, _EARLIER.c.seq < _D.seq)
        .exists(),
    )
    .order_by(_D.seq)
    .limit(bindparam("limit", type_=Integer))
)
# A claim returns the events with their merchant's webhook secrets.
_MERCHANT = merchant_tables.merchants.c
_CLAIMED = (
    *m.outbox.c,
    select(_MERCHANT.webhook_secret)
    .where(_MERCHANT.id == m.outbox.c.merchant_id)
    .scalar_subquery()
    .label("webhook_secret"),
    select(_MERCHANT.webhook_secret_previous)
    .where(
        _MERCHANT.id == m.outbox.c.merchant_id,
        _MERCHANT.webhook_secret_rotated_at_us > bindparam("now") - WEBHOOK_SECRET_OVERLAP_US,
    )
    .scalar_subquery()
    .label("webhook_secret_previous"),
)
# SQLite: one statement leases the events found due, the next reads them.
CLAIM = (
    update(m.outbox_due)
    .where(_D.seq.in_(bindparam("seqs", expanding=True)), *_UNCLAIMED)
    .values(leased_until_us=bindparam("lease"))
    .returning(_D.seq)
)
CLAIMED = (
    select(*_CLAIMED, _D.next_attempt_at_us.label("due_at"))
    .join_from(m.outbox, m.outbox_due, m.outbox_due.c.seq == m.outbox.c.seq)
    .where(m.outbox.c.seq.in_(bindparam("seqs", expanding=True)))
)
# PostgreSQL: the due events found, leased and read in one statement, one round trip where DUE,
# CLAIM and CLAIMED took three; the lease covers as many rounds of deliveries as the events found
# need. Under READ COMMITTED an event another process claimed meanwhile fails the re-checked
# conditions.
_DUE = DUE.cte("due")
_ROUNDS = (select(func.count()).select_from(_DUE).scalar_subquery() + bindparam("workers") - 1) // (
    bindparam("workers")
)
_LEASED = (
    update(m.outbox_due)
    .where(_D.seq.in_(select(_DUE.c.seq)), *_UNCLAIMED)
    .values(
        leased_until_us=bindparam("leased_from", type_=BigInteger)
        + _ROUNDS * bindparam("round_us", type_=BigInteger)
    )
    .returning(_D.seq, _D.next_attempt_at_us)
    .cte("leased")
)
CLAIM_DUE = Bare(
    select(
        *_CLAIMED,
        _LEASED.c.next_attempt_at_us.label("due_at"),
        select(func.count()).select_from(_DUE).scalar_subquery().label("found"),
    )
    .select_from(m.outbox)
    .join(_LEASED, _LEASED.c.seq == m.outbox.c.seq)
)
INSERT_ATTEMPT = insert(m.webhook_attempts)
ATTEMPTED = (
    update(m.outbox)
    .where(m.outbox.c.seq == bindparam("event_seq"))
    .values(
        attempts=bindparam("tries"),
        delivered_at_us=bindparam("delivered"),
        next_attempt_at_us=bindparam("next_at"),
    )
)
# A delivered event leaves the events to deliver; a failed one waits there for its next attempt.
# An event replayed while its attempt was under way has another due time than the one it was
# claimed at (``due_at``; no clock is compared): it stays, due as the replay said, its lease ended.
_REPLAYED = _D.next_attempt_at_us != bindparam("due_at")
DELIVERED = delete(m.outbox_due).where(_D.seq == bindparam("event_seq"), ~_REPLAYED)
RETRY = (
    update(m.outbox_due)
    .where(_D.seq == bindparam("event_seq"), bindparam("delivered").is_(None) | _REPLAYED)
    .values(
        next_attempt_at_us=case((_REPLAYED, _D.next_attempt_at_us), else_=bindparam("next_at")),
        leased_until_us=0,
    )
)

# Webhooks that reached the outbox without a due row: written by a process still running a version
# from before migration 0021 (a rolling upgrade). A dispatcher adopts them when it starts, among
# the newest STRAYS_WINDOW events (a range of the outbox's key, not a scan of the whole outbox),
# and again every ADOPT_EVERY_S while it runs (an old process may outlive the new ones' start).
STRAYS_WINDOW = 100_000
ADOPT_EVERY_S = 300.0
_O = m.outbox.c
_NEWEST = m.outbox.alias("newest")
ADOPT = (
    insert(m.outbox_due)
    .from_select(
        ["seq", "subject", "next_attempt_at_us", "leased_until_us"],
        select(_O.seq, _O.subject, _O.next_attempt_at_us, literal(0, BigInteger)).where(
            _O.seq > select(func.max(_NEWEST.c.seq)).scalar_subquery() - STRAYS_WINDOW,
            _O.delivered_at_us.is_(None),
            _O.url != "",
            ~select(_D.seq).where(_D.seq == _O.seq).exists(),
        ),
    )
    .returning(_D.seq)
)

# PostgreSQL: a batch's attempts logged and its events rescheduled or marked delivered in one
# statement that commits on its own (one round trip where BEGIN, four statements and COMMIT took
# six), the rows passed as arrays (literals the server reads: ``saoma.libpq.int_array``).
RECORDED = """
WITH logged AS (
    INSERT INTO webhook_attempts
        (event_id, merchant_id, url, status_code, error, duration_ms, attempted_at_us, request_id)
    SELECT * FROM unnest(
        %(event_id)s::text[], %(merchant_id)s::text[], %(url)s::text[], %(status_code)s::int4[],
        %(error)s::text[], %(duration_ms)s::int4[], %(attempted_at_us)s::int8[],
        %(request_id)s::text[])
), outcome AS (
    SELECT * FROM unnest(
        %(event_seq)s::int8[], %(tries)s::int4[], %(delivered)s::int8[], %(next_at)s::int8[],
        %(due_at)s::int8[])
        AS v(seq, tries, delivered, next_at, due_at)
), done AS (
    DELETE FROM outbox_due AS d USING outcome AS v
    WHERE d.seq = v.seq AND v.delivered IS NOT NULL
        AND d.next_attempt_at_us = v.due_at
), retried AS (
    UPDATE outbox_due AS d
    SET next_attempt_at_us = CASE WHEN d.next_attempt_at_us <> v.due_at
            THEN d.next_attempt_at_us ELSE v.next_at END,
        leased_until_us = 0
    FROM outcome AS v
    WHERE d.seq = v.seq AND (v.delivered IS NULL OR d.next_attempt_at_us <> v.due_at)
)
UPDATE outbox AS o
SET attempts = v.tries, delivered_at_us = v.delivered, next_attempt_at_us = v.next_at
FROM outcome AS v
WHERE o.seq = v.seq
"""


def _columns(rows: list[dict[str, Any]], texts: frozenset[str]) -> dict[str, str]:
    """Rows of the same keys as one array literal per key: the arrays of ``RECORDED`` (the keys
    in ``texts`` hold text, the others integers)."""
    return {
        key: (text_array if key in texts else int_array)([row[key] for row in rows])
        for key in rows[0]
    }


_ATTEMPT_TEXTS = frozenset({"event_id", "merchant_id", "url", "error", "request_id"})


def signed_headers(row: Any, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers; during a rotation the signature list has both secrets'
    signatures, new first, so a receiver with either secret accepts the delivery."""
    headers = signing.webhook_headers(row.webhook_secret, row.id, timestamp, body)
    if row.webhook_secret_previous:
        previous = signing.webhook_signature(row.webhook_secret_previous, row.id, timestamp, body)
        headers["webhook-signature"] += " " + previous
    return headers


def _recordable(error: str) -> str:
    """An attempt's error as the database takes it: a receiver's answer may put a NUL (which
    PostgreSQL's text refuses, and the whole batch's record with it) or a lone surrogate in the
    exception's text."""
    text = error.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")[:256]


def backoff_us(attempts: int) -> int:
    return BACKOFF_US[min(attempts, len(BACKOFF_US)) - 1] if attempts else 0


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        *,
        workers: int = 8,
        poll_s: float = 1.0,
        sender: targets.Sender | None = None,
    ) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self._sender = sender or targets.Sender(TIMEOUT_S, allow_private=targets.private_allowed())
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self._wake = threading.Event()
        self._alone = threading.Event()  # a lone event being sent on the dispatcher's thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)
        if self._thread is not None and self._alone.is_set():
            # A lone event is being sent on the dispatcher's own thread: as for the pool's
            # deliveries above, its connection is not closed under it while it may still end.
            self._thread.join(timeout=2 * TIMEOUT_S + 1)
        self._sender.close()

    def adopt_strays(self) -> int:
        """Put the newest webhooks written without a due row (see ``ADOPT``) among the events
        to deliver; how many."""
        try:
            with write(self.engine) as conn:
                adopted = len(conn.execute(ADOPT).all())
        except IntegrityError:  # another process adopting the same ones at once
            return 0
        if adopted:
            log.warning("%d webhooks written without a due row are now due", adopted)
        return adopted

    def _loop(self) -> None:
        adopted_at = -ADOPT_EVERY_S
        while not self._stop.is_set():
            if time.monotonic() - adopted_at >= ADOPT_EVERY_S:  # at the start, then now and then
                adopted_at = time.monotonic()
                try:
                    self.adopt_strays()
                except Exception:
                    log.exception("adopting webhooks written without a due row failed")
            try:
                busy = self.run_once()
            except Exception:
                log.exception("webhook dispatch failed")
                busy = False
            if not busy:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def run_once(self, limit: int | None = None) -> bool:
        """Deliver what is due now (a batch of ``limit``, by default as many as the pool sends in
        ``BATCH_ROUNDS_MAX`` rounds); True if there may be more."""
        limit = limit or self.workers * BATCH_ROUNDS_MAX
        now = now_us()
        if not is_sqlite(self.engine):
            return self._claim_due(now, limit)
        with read(self.engine) as conn:
            due = conn.execute(DUE, {"now": now, "limit": limit}).scalars().all()
        if not due:
            return False
        claimed = self._claim(list(due), now)
        if claimed:
            self._record(claimed, self._deliver_all(claimed))
        return len(due) == limit

    def _claim_due(self, now: int, limit: int) -> bool:
        """``run_once`` on PostgreSQL, the due events found and claimed by one statement."""
        lease = {"leased_from": now_us() + LEASE_MARGIN_US, "round_us": int(TIMEOUT_S * S)}
        with write_one(self.engine) as conn:
            rows = CLAIM_DUE.all(
                conn, {"now": now, "limit": limit, "workers": self.workers} | lease
            )
        if rows:
            claimed = sorted(rows, key=lambda row: row.seq)  # a subject's events in order
            self._record(claimed, self._deliver_all(claimed))
        # As many found due as asked for (some perhaps claimed by another process): maybe more.
        return bool(rows) and rows[0].found == limit

    def _claim(self, seqs: list[int], now: int) -> list[Any]:
        """Take the events for this process: one UPDATE stamps them with a lease of our own, long
        enough to send them all (``now``: when they were found due); then read them."""
        rounds = -(-len(seqs) // self.workers)
        lease = now_us() + rounds * int(TIMEOUT_S * S) + LEASE_MARGIN_US
        with write(self.engine) as conn:
            leased = conn.execute(CLAIM, {"seqs": seqs, "now": now, "lease": lease}).scalars().all()
            if not leased:
                return []
            rows = conn.execute(CLAIMED, {"seqs": list(leased), "now": now}).all()
        return sorted(rows, key=lambda row: row.seq)  # a subject's events in the order written

    def _deliver_all(self, rows: list[Any]) -> list[tuple[int, str, int, int]]:
        """Each row sent: several at once on the pool, one on this thread (no hand-over)."""
        if len(rows) == 1:
            self._alone.set()
            try:
                return [self._deliver(rows[0])]
            finally:
                self._alone.clear()
        return list(self._pool.map(self._deliver, rows))

    def _deliver(self, row: Any) -> tuple[int, str, int, int]:
        body = row.payload.encode()
        headers = signed_headers(row, now_us() // S, body)
        if row.request_id:
            headers[REQUEST_ID_HEADER] = row.request_id
        started = time.perf_counter()
        status, error = 0, ""
        try:
            status = self._sender.post(row.url, body, headers)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except targets.TargetRefused as exc:  # nothing was sent
            error = _recordable(str(exc))
        except (OSError, http.client.HTTPException) as exc:
            error = _recordable(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a URL no check refused (stored before one): this event fails,
            # recorded like any other failure, and the batch's other deliveries are recorded too.
            # The URL may hold the merchant's token: the log names the event and merchant only.
            log.warning("webhook %s of %s could not be sent: %r", row.id, row.merchant_id, exc)
            error = _recordable(f"{type(exc).__name__}: {exc}")
        return status, error, int((time.perf_counter() - started) * 1000), now_us()

    def _record(self, rows: list[Any], outcomes: list[tuple[int, str, int, int]]) -> None:
        """Every attempt logged and every event rescheduled or marked delivered, in one commit.

        An event replayed while its attempt was under way (due at another time than it was
        claimed at) stays due, and its lease ends: it is sent again, whatever this attempt's
        outcome."""
        attempts = []
        changes = []
        for row, (status, error, duration_ms, at) in zip(rows, outcomes, strict=True):
            attempts.append(
                {
                    "event_id": row.id,
                    "merchant_id": row.merchant_id,
                    "url": row.url,
                    "status_code": status,
                    "error": error,
                    "duration_ms": duration_ms,
                    "attempted_at_us": at,
                    "request_id": row.request_id,
                }
            )
            tries = row.attempts + 1
            delivered, next_at = (None, at + backoff_us(tries)) if error else (at, at)
            if error and tries > len(BACKOFF_US):
                next_at = GAVE_UP_US
            changes.append(
                {
                    "event_seq": row.seq,
                    "tries": tries,
                    "delivered": delivered,
                    "next_at": next_at,
                    "due_at": row.due_at,
                }
            )
        if is_sqlite(self.engine):
            with write(self.engine) as conn:
                conn.execute(INSERT_ATTEMPT, attempts)
                conn.execute(ATTEMPTED, changes)
                conn.execute(RETRY, changes)
                sent = [c for c in changes if c["delivered"] is not None]
                if sent:
                    conn.execute(DELIVERED, sent)
        else:
            with alone(self.engine, writes=True) as conn:
                driver_write(
                    conn,
                    RECORDED,
                    _columns(attempts, _ATTEMPT_TEXTS) | _columns(changes, frozenset()),
                )
        for row, (_status, error, _ms, at) in zip(rows, outcomes, strict=True):
            if error:
                log.info("a webhook delivery failed: %s", error)
            else:
                self.delivered += 1
                metrics.webhook_delivered(row.created_at_us, at)
