"""PIN tries: each claimed by one atomic statement before the PIN is checked, locked after five
wrong ones, for a consumer's payment PIN and a merchant's manager PIN alike."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.engine import Connection, Engine

# OverNoPinLimit is raised here; payments imports it from here.
from saoma.core.errors import OverNoPinLimit as OverNoPinLimit
from saoma.core.errors import (
    PinBusy,
    PinLocked,
    PinNotSet,
    PinWrong,
)
from saoma.core.ids import now_us
from saoma.db import Bare, alone, read, write

PIN_TRIES_MAX = 5


PIN_LOCK_US = 15 * 60 * 1_000_000  # locked for 15 minutes after 5 wrong PINs


PIN_WAIT_S = 5.0  # how long a PIN check waits while every try is being checked
PIN_POLL_FIRST_S = 0.005  # its first pause before claiming again; each next pause doubles
PIN_POLL_MAX_S = 0.08  # up to this


PIN_PENDING_STALE_US = 10 * 1_000_000  # a try claimed this long ago was lost with its process


def pin_locked(until_us: int, now: int, field: str) -> PinLocked:
    minutes = max(1, -(-(until_us - now) // 60_000_000))
    return PinLocked(
        f"too many wrong PINs: try again in {minutes} minute(s)",
        field=field,
        locked_until_us=until_us,
    )


@dataclass(frozen=True, slots=True)
class PinTry:
    """A try claimed: the row's hash, the failures counted when it was claimed, and when."""

    pin_hash: str
    failures_before: int
    claimed_at_us: int


@cache
def claim_update(table: Table, row_param: str = "row_id") -> Any:
    """The claim of a try on the row whose id is parameter ``row_param`` (parameters ``now``
    and ``stale`` besides), built once per table: an ``UPDATE … RETURNING`` the hash and the
    failures it left, for a statement that joins more to it (``claim_pin_try`` runs it alone).
    The conditions are the claim's rule; a caller may add its own."""
    c = table.c
    now: Any = bindparam("now")
    pending = case((c.pin_pending_since_us < bindparam("stale"), 0), else_=c.pin_pending)
    failures = case((c.pin_failures >= PIN_TRIES_MAX, 0), else_=c.pin_failures)
    return (
        update(table)
        .where(
            c.id == bindparam(row_param),
            c.pin_hash.is_not(None),
            c.pin_locked_until_us <= now,
            failures + pending < PIN_TRIES_MAX,
        )
        .values(pin_failures=failures, pin_pending=pending + 1, pin_pending_since_us=now)
        .returning(c.pin_hash, c.pin_failures)
    )


@cache
def _claim_statement(table: Table) -> Any:
    """The claim of a try, built once per table: building and keying it on every payment cost
    more Python than the round trip. It returns the hash and the failures it left, so a claim
    is one statement."""
    return Bare(claim_update(table))  # run on the driver directly: one per payment with the PIN


@cache
def _state_statement(table: Table) -> Any:
    c = table.c
    return select(c.pin_hash, c.pin_locked_until_us).where(c.id == bindparam("row_id"))


def claim_pin_try(engine: Engine, table: Table, row_id: str, *, field: str = "pin") -> PinTry:
    """Claim one PIN try with ONE conditional UPDATE, before the PIN is checked.

    A row (a wallet; a merchant's manager PIN too, given the same columns) counts its wrong PINs
    since the last right one (``pin_failures``) and the tries being checked right now
    (``pin_pending``). A try is claimed only while the two together are below
    ``PIN_TRIES_MAX`` and the row is not locked, so however many guesses arrive at once, no more
    than the tries left are ever checked. The fifth wrong PIN locks the row until
    ``PIN_LOCK_US`` later, and a locked row claims nothing: the right PIN is refused too. While
    every try is taken by checks under way (many right PINs at once), a claim waits for them,
    up to ``PIN_WAIT_S``. A try left pending by a process that died is forgotten after
    ``PIN_PENDING_STALE_US``; once a lock has expired, the count starts again.
    """
    deadline = time.monotonic() + PIN_WAIT_S
    pause = PIN_POLL_FIRST_S
    while True:
        now = now_us()
        # One statement claims the try (on PostgreSQL it commits on its own, one round trip);
        # the state is read only to say why none was left.
        with alone(engine, writes=True) as held:
            params = {"row_id": row_id, "now": now, "stale": now - PIN_PENDING_STALE_US}
            claimed = _claim_statement(table).first(held, params)
        if claimed is not None:
            return PinTry(claimed.pin_hash, claimed.pin_failures, now)
        with read(engine) as conn:
            row = conn.execute(_state_statement(table), {"row_id": row_id}).first()
        if row is None or row.pin_hash is None:
            raise PinNotSet("set a payment PIN first", field=field)
        if row.pin_locked_until_us > now:
            raise pin_locked(row.pin_locked_until_us, now, field)
        if time.monotonic() > deadline:
            raise PinBusy("other PIN checks are under way: try again", field=field)
        # Waiters back off (with jitter), so that many of them do not crowd out the checks they
        # wait for: fifty waiters polling every 5 ms would send 20,000 statements a second.
        time.sleep(pause * (0.5 + random.random()))  # nosec B311  # jitter, not a secret
        pause = min(pause * 2, PIN_POLL_MAX_S)


def pin_try_failed(
    engine: Engine, table: Table, row_id: str, *, field: str = "pin"
) -> PinWrong | PinLocked:
    """Count a wrong PIN (locking the row with the fifth): the refusal to answer with."""
    c = table.c
    now = now_us()
    with write(engine) as conn:
        conn.execute(
            update(table)
            .where(c.id == row_id)
            .values(
                pin_failures=c.pin_failures + 1,
                pin_pending=case((c.pin_pending > 0, c.pin_pending - 1), else_=0),
                pin_locked_until_us=case(
                    (c.pin_failures + 1 >= PIN_TRIES_MAX, now + PIN_LOCK_US),
                    else_=c.pin_locked_until_us,
                ),
            )
        )
        row = conn.execute(
            select(c.pin_failures, c.pin_locked_until_us).where(c.id == row_id)
        ).one()
    if row.pin_failures >= PIN_TRIES_MAX:
        return pin_locked(row.pin_locked_until_us, now, field)
    left = PIN_TRIES_MAX - row.pin_failures
    return PinWrong(f"wrong PIN: {left} tries left", field=field, tries_left=left)


@cache
def passed_statement(table: Table) -> Any:
    """The statement :func:`pin_try_passed` runs, built once per table; public for a caller
    that sends it with others in one statement (a PostgreSQL data-modifying CTE).

    A try still pending ``PIN_PENDING_STALE_US`` after its claim may have been forgotten by a
    later claim, which then stamped the row later than that: such a row is left as it is, so
    a late give-back never takes back another check's try (nor clears wrong PINs counted).
    """
    c = table.c
    alone = (c.pin_pending <= 1) & (c.pin_failures == bindparam("failures_before"))
    return (
        update(table)
        .where(c.id == bindparam("row_id"), c.pin_pending_since_us <= bindparam("counted_until"))
        .values(
            pin_pending=case((c.pin_pending > 0, c.pin_pending - 1), else_=0),
            pin_failures=case((alone, 0), else_=c.pin_failures),
        )
    )


def pin_try_passed(conn: Connection, table: Table, row_id: str, claimed: PinTry) -> None:
    """The right PIN gives its try back, and starts the count again if it was the only check
    under way and no wrong PIN was counted meanwhile: a burst of guesses gets no tries back."""
    conn.execute(passed_statement(table), passed_params(row_id, claimed))


def passed_params(row_id: str, claimed: PinTry) -> dict[str, Any]:
    """The parameters of :func:`passed_statement`."""
    return {
        "row_id": row_id,
        "failures_before": claimed.failures_before,
        "counted_until": claimed.claimed_at_us + PIN_PENDING_STALE_US,
    }
