"""Idempotency-Key for every POST that moves money, scoped to the caller.

``begin`` claims a key before the work starts; the money movement's own transaction marks it
done and stores the response (see :func:`done_sql`), so a replay can never disagree with what
happened. Same key and body → the stored response, marked as a replay; same key, other body →
422; the first request still running → 409. A request that was refused moved nothing: its key is
released so the caller may fix the cause (top up, say) and retry with it.

A claim is a lease: the process working on it renews it every ``RENEW_EVERY_S`` while the work
runs (:func:`leased`), so a key whose first request died with its process (not renewed for
``LEASE_US``, never done) can be taken over within seconds, while one whose request is merely slow
stays its own. The money movement's transfer ids derive from the request, so even a takeover of a
request that was still alive (a process stalled past its lease) cannot move money twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Select,
    String,
    bindparam,
    delete,
    exists,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidRequest,
    RequestInProgress,
)
from saoma.core.ids import now_us
from saoma.db import Bare, alone, driver_write, is_sqlite, read, write, write_one
from saoma.movements import Unit
from saoma.payments import tables as m

log = logging.getLogger(__name__)

KEY_LENGTH_MAX = 255
KEY_PATTERN = rf"^[ -~]{{1,{KEY_LENGTH_MAX}}}$"  # printable ASCII, as Stripe's keys
_KEY = re.compile(KEY_PATTERN.strip("^$"))
KEY_RULE = f"must be 1 to {KEY_LENGTH_MAX} printable ASCII characters"

LEASE_US = 3 * 1_000_000  # a claim not renewed for this long belongs to a process that is gone
RENEW_EVERY_S = 0.5  # well inside the lease, so a renewal delayed by a busy database still counts
KEEP_US = 48 * 3600 * 1_000_000  # honoured for at least 24 hours; kept for 48


def key_is_valid(key: str) -> bool:
    """The one rule for an Idempotency-Key, checked at the edge and again where it is claimed."""
    return _KEY.fullmatch(key) is not None


@dataclass(slots=True)
class Claim:
    scope: str
    key: str
    stored: bool = False  # set once the response was stored with the money movement

    @property
    def seed(self) -> str:
        """What the ids of the request's money movement derive from: the caller and the key,
        and nothing that changes with time or a key file, so the same request retried (a
        takeover, a retry after its claim was released, or after the key was purged) meets
        the same ids and its money moves once. Another request under a key that once moved
        money meets them too, and is refused (:func:`same_request`)."""
        return f"{self.scope}\x1f{self.key}"


def same_request(stored: Any, asked: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Refuse (422) a request that meets the money movement an earlier request under its
    Idempotency-Key made (the key purged since, or taken over) unless it asked the same:
    ``stored``'s ``fields`` against ``asked``'s."""
    if any(getattr(stored, f, None) != asked.get(f) for f in fields):
        raise reused()


def reused() -> IdempotencyKeyReused:
    """A request under an Idempotency-Key that moved money for another request."""
    return IdempotencyKeyReused(
        "this Idempotency-Key moved money for a different request: send a new key for a new"
        " operation",
        field="Idempotency-Key",
    )


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    body: bytes  # exactly the bytes of the first response's body


def render(body: Any) -> bytes:
    """A response body's bytes, as the API sends them (Starlette's JSONResponse rendering)."""
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


def request_message(method: str, path: str, body: bytes) -> bytes:
    """What a request's fingerprint is made of."""
    return f"{method} {path}\n".encode() + body


def request_hash(method: str, path: str, body: bytes) -> str:
    """The unkeyed fingerprint stored before fingerprints were keyed: a key claimed then is
    still recognised by it (:class:`Fingerprint`)."""
    return hashlib.sha256(request_message(method, path, body)).hexdigest()


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A request's fingerprint as it is stored with its key, and the forms it may have been
    stored in before (under a PIN key since rotated, or unkeyed), made only when needed.

    Stored under a key held outside the database (HMAC-SHA256 under the PIN keys), because the
    request's body may hold a PIN: an unkeyed hash of it would give the PIN away to whoever
    reads the database, by trying its million values."""

    value: str
    earlier: Callable[[], Iterable[str]] = tuple

    def matches(self, stored: str) -> bool:
        return stored == self.value or stored in self.earlier()


# Statements built once; values bound per call.
_K = m.idempotency_keys.c
# The claim every request that moves money makes: run on the driver directly (``Bare``).
_INSERT_KEY = Bare(
    insert(m.idempotency_keys).values(
        scope=bindparam("s"),
        key=bindparam("k"),
        request_hash=bindparam("hash"),
        state="running",
        locked_at_us=bindparam("now"),
        created_at_us=bindparam("now"),
    )
)
# Only a claim still running is finished: one taken over and finished by another request keeps
# the answer that request gave.
_FINISH = (
    update(m.idempotency_keys)
    .where(_K.scope == bindparam("s"), _K.key == bindparam("k"), _K.state == "running")
    .values(state="done", status_code=bindparam("code"), response=bindparam("body"))
)


def required() -> IdempotencyKeyRequired:
    return IdempotencyKeyRequired(
        "this request moves or reserves money: send an Idempotency-Key header (a new random"
        " value per operation, the same one when retrying it)",
        field="Idempotency-Key",
    )


# The statements of the rarer turns (a key claimed already, a claim given up, a lease renewed
# on SQLite), built once like the claim's own.
_KEYS = m.idempotency_keys
_THIS_KEY = (_KEYS.c.scope == bindparam("s"), _KEYS.c.key == bindparam("k"))
_READ_KEY = select(_KEYS).where(*_THIS_KEY)
# A lapsed lease is taken over only while its request has not finished meanwhile (between this
# request's look and its UPDATE): a finished one is answered from its stored response.
_TAKE_OVER = (
    update(_KEYS)
    .where(*_THIS_KEY, _KEYS.c.locked_at_us == bindparam("seen"), _KEYS.c.state == "running")
    .values(locked_at_us=bindparam("now"))
)
_RELEASE = delete(_KEYS).where(*_THIS_KEY, _KEYS.c.state == "running")
_RENEW = (
    update(_KEYS)
    .where(*_THIS_KEY, _KEYS.c.state == "running")
    .values(locked_at_us=bindparam("now"))
)


def claim_with(scopes: Select[Any]) -> CTE:
    """PostgreSQL: a CTE that makes ``begin``'s first claim, of key ``idem_key`` (the request's
    ``idem_fingerprint``, at ``idem_now``) in the scope that ``scopes`` selects (one column, at
    most one row), for a statement that finds the caller: it has a row when the key was claimed.
    If it has none (another request holds the key, or there was no caller), ``begin`` says why."""
    return (
        pg_insert(_KEYS)
        .from_select(
            ["scope", "key", "request_hash", "state", "locked_at_us", "created_at_us"],
            select(
                scopes.subquery().c[0],
                bindparam("idem_key", type_=String),
                bindparam("idem_fingerprint", type_=String),
                literal("running"),
                bindparam("idem_now", type_=BigInteger),
                bindparam("idem_now", type_=BigInteger),
            ),
        )
        .on_conflict_do_nothing()
        .returning(_KEYS.c.key)
        .cte("idem_claimed")
    )


@cache
def _finding_and_claiming(finder: Select[Any], scopes: Select[Any]) -> Bare:
    claimed = claim_with(scopes)
    return Bare(finder.add_columns(exists(select(claimed.c.key)).label("idem_claimed")))


def find_and_claim(
    engine: Engine,
    finder: tuple[Select[Any], Select[Any], dict[str, Any]],
    key: str,
    fingerprint: str,
) -> Any:
    """PostgreSQL: the caller's row (or None) and Idempotency-Key ``key`` claimed in the
    caller's scope, in one statement that commits on its own. ``finder``: the statement that
    finds the caller's row, the one that selects the caller's id alone, and their parameters.
    The row's ``idem_claimed`` says the key was claimed; if not, ``begin`` says why."""
    found, scopes, params = finder
    claims = {"idem_key": key, "idem_fingerprint": fingerprint, "idem_now": now_us()}
    with alone(engine, writes=True) as conn:
        return _finding_and_claiming(found, scopes).first(conn, params | claims)


def begin(engine: Engine, scope: str, key: str, fingerprint: str | Fingerprint) -> Claim | Replay:
    """Claim ``key`` for this request, or say why not: the first response to replay (the same
    request), 422 (another request), 409 (the first still running)."""
    printed = fingerprint if isinstance(fingerprint, Fingerprint) else Fingerprint(fingerprint)
    fingerprint = printed.value
    if not key_is_valid(key):
        raise InvalidRequest(f"Idempotency-Key {KEY_RULE}", field="Idempotency-Key")
    for _ in range(3):
        now = now_us()
        try:
            with alone(engine, writes=True) as conn:
                _INSERT_KEY.run(conn, {"s": scope, "k": key, "hash": fingerprint, "now": now})
            return Claim(scope, key)
        except IntegrityError:
            pass
        with read(engine) as conn:
            row = conn.execute(_READ_KEY, {"s": scope, "k": key}).first()
        if row is None:  # released in between: claim it again
            continue
        if not printed.matches(row.request_hash):
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request", field="Idempotency-Key"
            )
        if row.state == "done":
            # Rendered as the first response was: the same body, byte for byte.
            return Replay(row.status_code, render(json.loads(row.response)))
        if row.locked_at_us <= now - LEASE_US:  # its first request died: take it over
            with write_one(engine) as conn:
                params = {"s": scope, "k": key, "seen": row.locked_at_us, "now": now}
                taken = conn.execute(_TAKE_OVER, params)
            if taken.rowcount == 1:
                return Claim(scope, key)
            continue  # finished or taken over meanwhile: look again
        break
    raise RequestInProgress(
        "a request with this Idempotency-Key is still in progress", field="Idempotency-Key"
    )


def release(engine: Engine, claim: Claim) -> None:
    with write_one(engine) as conn:
        conn.execute(_RELEASE, {"s": claim.scope, "k": claim.key})


def finish(engine: Engine, claim: Claim, status_code: int, body: Any) -> None:
    """Store the response of a request that moved no money (it commits on its own)."""
    with write_one(engine) as conn:
        params = {"s": claim.scope, "k": claim.key, "code": status_code, "body": json.dumps(body)}
        conn.execute(_FINISH, params)


# PostgreSQL: a write of one statement and the response it answers with, stored in one
# statement (the write a data-modifying CTE), committed on its own in one round trip.
_FINISH_AFTER = (
    " UPDATE idempotency_keys SET state = 'done', status_code = %(idem_status)s,"
    " response = %(idem_body)s WHERE scope = %(idem_scope)s AND key = %(idem_key)s"
)


def finish_with(
    engine: Engine, claim: Claim, status_code: int, body: Any, write_sql: str, params: Any
) -> None:
    """Run ``write_sql`` (one INSERT or UPDATE, PostgreSQL's ``%(name)s`` parameters, none of
    them starting ``idem_``) and store the response with it, all or nothing: one statement that
    commits on its own. A write that fails (a unique key taken, say) stores nothing and raises.
    PostgreSQL only: SQLite has no data-modifying CTE."""
    stored = {
        "idem_status": status_code,
        "idem_body": json.dumps(body),
        "idem_scope": claim.scope,
        "idem_key": claim.key,
    }
    with alone(engine, writes=True) as conn:
        driver_write(conn, f"WITH written AS ({write_sql})" + _FINISH_AFTER, params | stored)
    claim.stored = True


def finish_in(unit: Unit, claim: Claim | None, status_code: int, body: Any) -> None:
    """Store the response inside the money movement's own transaction.

    The claim learns it was stored only once that transaction commits: a run the ledger rolls
    back and retries must not leave the request believing its answer is kept.
    """
    if claim is None:
        return

    def stored() -> None:
        claim.stored = True

    unit.after(stored)
    # Still running, still this request's: a claim another request took over and finished, or
    # released, is not this one's to answer; its movement is refused and rolled back.
    unit.tx.write_or_refuse(
        "UPDATE idempotency_keys SET state = 'done', status_code = :status, response = :body"
        " WHERE scope = :scope AND key = :key AND state = 'running'",
        {"status": status_code, "body": json.dumps(body), "scope": claim.scope, "key": claim.key},
        _not_this_requests,
    )


def _not_this_requests() -> RequestInProgress:
    return RequestInProgress(
        "another request with this Idempotency-Key took it over: retry to learn its answer",
        field="Idempotency-Key",
    )


def purge(engine: Engine) -> int:
    with write(engine) as conn:
        gone = conn.execute(
            delete(m.idempotency_keys).where(
                m.idempotency_keys.c.created_at_us < now_us() - KEEP_US
            )
        )
    return int(gone.rowcount or 0)


class _Renewer:
    """Renews the leases of one process's running claims on one database, while there are any.

    One thread per engine, started with the first claim and ending with the last, so a process
    that holds no claim runs nothing; one statement per claim every ``RENEW_EVERY_S``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = weakref.ref(engine)  # the renewer does not keep a closed platform's engine
        self.held: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def hold(self, claim: Claim) -> None:
        with self.lock:
            k = (claim.scope, claim.key)
            self.held[k] = self.held.get(k, 0) + 1
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self.thread.start()

    def drop(self, claim: Claim) -> None:
        with self.lock:
            k = (claim.scope, claim.key)
            self.held[k] -= 1
            if not self.held[k]:
                del self.held[k]

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(RENEW_EVERY_S):
            with self.lock:
                keys = list(self.held)
                if not keys:
                    self.thread = None
                    return
            engine = self.engine()
            if engine is None:  # pragma: no cover - whoever holds a claim holds the engine
                return
            try:
                renew(engine, keys)
            except Exception:  # the database is busy or away: the next round tries again
                log.warning("could not renew %d idempotency leases", len(keys), exc_info=True)


_renewers: weakref.WeakKeyDictionary[Engine, _Renewer] = weakref.WeakKeyDictionary()
_renewers_lock = threading.Lock()


# PostgreSQL: the leases renewed in one statement that waits for no row. A claim whose row is
# locked (its request's money movement is committing, and marks it done) is left to the next
# round. Renewing them one after another in a transaction locked some rows and then waited for
# others, which a batch of money movements marking its requests done may hold while it waits
# for the renewer's: a deadlock PostgreSQL breaks only after deadlock_timeout (1 s), failing one.
_RENEW_SKIPPING_LOCKED = text(
    "UPDATE idempotency_keys SET locked_at_us = :now WHERE (scope, key) IN ("
    " SELECT scope, key FROM idempotency_keys"
    " WHERE (scope, key) IN (SELECT * FROM unnest(CAST(:scopes AS varchar[]),"
    " CAST(:keys AS varchar[]))) AND state = 'running'"
    " FOR UPDATE SKIP LOCKED)"
)


def renew(engine: Engine, keys: list[tuple[str, str]]) -> None:
    now = now_us()
    if not is_sqlite(engine):
        with write_one(engine) as conn:
            params = {"now": now, "scopes": [s for s, _ in keys], "keys": [k for _, k in keys]}
            conn.execute(_RENEW_SKIPPING_LOCKED, params)
        return
    with write(engine) as conn:  # SQLite: one writer at a time, no row locks to wait for
        conn.execute(_RENEW, [{"s": scope, "k": key, "now": now} for scope, key in keys])


@contextmanager
def leased(engine: Engine, claim: Claim) -> Iterator[None]:
    """Keep ``claim`` this process's while the block runs."""
    with _renewers_lock:
        renewer = _renewers.get(engine)
        if renewer is None:
            renewer = _renewers[engine] = _Renewer(engine)
    renewer.hold(claim)
    try:
        yield
    finally:
        renewer.drop(claim)
