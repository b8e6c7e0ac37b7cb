"""Idempotency-Key for every POST that moves money, scoped to the caller.

``begin`` claims a key before the work starts; the money movement's own transaction marks it
done and stores the response (see :func:`done_sql`), so a replay can never disagree with what
happened. Same key and body → the stored response, marked as a replay; same key, other body →
422; the first request still running → 409. A request that was refused moved nothing: its key is
released so the caller may fix the cause (top up, say) and retry with it. A key whose first
request died with its process (claimed more than ``STALE_US`` ago, never done) can be taken over:
the money movement's transfer ids derive from the request, so a takeover cannot move money twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.db import read, write
from saoma.ledger.tx import Tx
from saoma.payments import models as m
from saoma.payments.ids import now_us
from saoma.problems import Problem

KEY_LENGTH_MAX = 255
STALE_US = 60 * 1_000_000
KEEP_US = 48 * 3600 * 1_000_000  # honoured for at least 24 hours; kept for 48


@dataclass(slots=True)
class Claim:
    scope: str
    key: str
    stored: bool = False  # set once the response was stored with the money movement


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    body: Any


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


_INSERT_KEY = insert(m.idempotency_keys)  # built once; values bound per call


def begin(engine: Engine, scope: str, key: str, fingerprint: str) -> Claim | Replay:
    if not 1 <= len(key) <= KEY_LENGTH_MAX or not key.isprintable():
        raise Problem(
            "invalid-request",
            422,
            "Idempotency-Key must be 1 to 255 printable characters",
            field="Idempotency-Key",
        )
    for _ in range(3):
        now = now_us()
        try:
            with write(engine) as conn:
                conn.execute(
                    _INSERT_KEY,
                    {
                        "scope": scope,
                        "key": key,
                        "request_hash": fingerprint,
                        "state": "running",
                        "locked_at_us": now,
                        "created_at_us": now,
                    },
                )
            return Claim(scope, key)
        except IntegrityError:
            pass
        with read(engine) as conn:
            row = conn.execute(
                select(m.idempotency_keys).where(
                    m.idempotency_keys.c.scope == scope, m.idempotency_keys.c.key == key
                )
            ).first()
        if row is None:  # released in between: claim it again
            continue
        if row.request_hash != fingerprint:
            raise Problem(
                "idempotency-key-reused",
                422,
                "this Idempotency-Key was used with a different request",
                field="Idempotency-Key",
            )
        if row.state == "done":
            return Replay(row.status_code, json.loads(row.response))
        if row.locked_at_us <= now - STALE_US:  # its first request died: take it over
            with write(engine) as conn:
                taken = conn.execute(
                    update(m.idempotency_keys)
                    .where(
                        m.idempotency_keys.c.scope == scope,
                        m.idempotency_keys.c.key == key,
                        m.idempotency_keys.c.locked_at_us == row.locked_at_us,
                    )
                    .values(locked_at_us=now)
                )
            if taken.rowcount == 1:
                return Claim(scope, key)
        break
    raise Problem(
        "request-in-progress",
        409,
        "a request with this Idempotency-Key is still in progress",
        field="Idempotency-Key",
    )


def release(engine: Engine, claim: Claim) -> None:
    with write(engine) as conn:
        conn.execute(
            delete(m.idempotency_keys).where(
                m.idempotency_keys.c.scope == claim.scope,
                m.idempotency_keys.c.key == claim.key,
                m.idempotency_keys.c.state == "running",
            )
        )


def finish(engine: Engine, claim: Claim, status_code: int, body: Any) -> None:
    """Store the response of a request that moved no money (it commits on its own)."""
    with write(engine) as conn:
        conn.execute(
            update(m.idempotency_keys)
            .where(m.idempotency_keys.c.scope == claim.scope, m.idempotency_keys.c.key == claim.key)
            .values(state="done", status_code=status_code, response=json.dumps(body))
        )


def finish_in(tx: Tx, claim: Claim | None, status_code: int, body: Any) -> None:
    """Store the response inside the money movement's own transaction."""
    if claim is None:
        return
    claim.stored = True
    tx.execute(
        "UPDATE idempotency_keys SET state = 'done', status_code = :status, response = :body"
        " WHERE scope = :scope AND key = :key",
        {"status": status_code, "body": json.dumps(body), "scope": claim.scope, "key": claim.key},
    )


def purge(engine: Engine) -> int:
    with write(engine) as conn:
        gone = conn.execute(
            delete(m.idempotency_keys).where(
                m.idempotency_keys.c.created_at_us < now_us() - KEEP_US
            )
        )
    return int(gone.rowcount or 0)
