"""Enrolling devices, resolving a scanned code to the wallet, refusing what must be refused."""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    CodeExpired,
    CodeMalformed,
    CodeUnknown,
    CodeUsed,
    NotFound,
    TooManyTries,
)
from saoma.core.ids import new_id, now_us
from saoma.db import read, write
from saoma.paycode import codes
from saoma.paycode import tables as m
from saoma.windows import claim_params, claim_statement

HANDLES_PER_DEVICE = 100
FAILURES_MAX = 5  # per terminal per minute; then the terminal waits
MERCHANT_FAILURES_MAX = 20  # per merchant per minute, whatever terminal ids it sends
FAILURE_WINDOW_US = 60 * 1_000_000
CLAIM_WAIT_S = 5.0  # how long a check waits for a try while every try is taken
CLAIM_RETRY_S = 0.02

# Statements every charge runs, built once.
_H, _D, _F = m.paycode_handles.c, m.paycode_devices.c, m.paycode_failures.c
HANDLE = (
    select(m.paycode_handles, m.paycode_devices)
    .join(m.paycode_devices, _D.id == _H.device_id)
    .where(_H.handle == bindparam("h"))
)
USE_HANDLE = (
    update(m.paycode_handles)
    .where(_H.handle == bindparam("h"), _H.used_at_us.is_(None))
    .values(used_at_us=bindparam("at"))
)
GIVE_BACK = (
    update(m.paycode_failures)
    .where(
        _F.terminal == bindparam("k"),
        _F.window_start_us == bindparam("w"),  # not into a window started since
        _F.failures > 0,
    )
    .values(failures=_F.failures - 1)
)


@dataclass(frozen=True, slots=True)
class Resolved:
    wallet_id: str
    device_id: str
    handle: str


class PaymentCodes:
    def __init__(
        self, engine: Engine, *, merchant_failures_max: int = MERCHANT_FAILURES_MAX
    ) -> None:
        self.engine = engine
        self.merchant_failures_max = merchant_failures_max

    def enrol(self, wallet_id: str, label: str = "") -> dict[str, Any]:
        """A new device: its secret and a first batch of handles, shown to the device once."""
        device_id = new_id("dev")
        secret = secrets.token_bytes(32)
        with write(self.engine) as conn:
            conn.execute(
                insert(m.paycode_devices).values(
                    id=device_id,
                    wallet_id=wallet_id,
                    secret=secret,
                    label=label[:64],
                    created_at_us=now_us(),
                )
            )
        return {
            "device_id": device_id,
            "secret": base64.b64encode(secret).decode(),
            "step_s": codes.STEP_S,
            "handles": self._issue(device_id),
        }

    def replenish(self, wallet_id: str, device_id: str) -> list[str]:
        self._device(wallet_id, device_id)
        return self._issue(device_id)

    def _device(self, wallet_id: str, device_id: str) -> Any:
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.paycode_devices).where(m.paycode_devices.c.id == device_id)
            ).first()
        if row is None or row.wallet_id != wallet_id or row.revoked_at_us is not None:
            raise NotFound.named("device", device_id)
        return row

    def _issue(self, device_id: str) -> list[str]:
        handles: list[str] = []
        while len(handles) < HANDLES_PER_DEVICE:
            batch = {f"{secrets.randbelow(10**codes.HANDLE_DIGITS):010d}" for _ in range(20)}
            try:
                with write(self.engine) as conn:
                    conn.execute(
                        insert(m.paycode_handles),
                        [{"handle": h, "device_id": device_id} for h in batch],
                    )
                handles.extend(batch)
            except IntegrityError:  # a handle already out there: draw that batch again
                continue
        return handles[:HANDLES_PER_DEVICE]

    def revoke(self, wallet_id: str, device_id: str) -> None:
        """The device's codes die at once: its handles are gone."""
        self._device(wallet_id, device_id)
        with write(self.engine) as conn:
            conn.execute(
                update(m.paycode_devices)
                .where(m.paycode_devices.c.id == device_id)
                .values(revoked_at_us=now_us())
            )
            conn.execute(
                delete(m.paycode_handles).where(
                    m.paycode_handles.c.device_id == device_id,
                    m.paycode_handles.c.used_at_us.is_(None),
                )
            )

    def devices(self, wallet_id: str) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.paycode_devices).where(
                    m.paycode_devices.c.wallet_id == wallet_id,
                    m.paycode_devices.c.revoked_at_us.is_(None),
                )
            ).all()
        return [{"id": r.id, "label": r.label} for r in rows]

    def resolve(
        self, code: str, terminal: str, *, at_s: float | None = None, merchant: str | None = None
    ) -> Resolved:
        """The wallet behind a scanned code, consuming it; or why not.

        ``terminal`` is "<merchant id>/<terminal id>"; guesses are limited per terminal and per
        merchant, a try being claimed from both before the code is checked (see ``_claim``).
        """
        claims = self._claim(terminal.partition("/")[0] if merchant is None else merchant, terminal)
        parts = codes.split(code)
        if parts is None:
            raise CodeMalformed("a payment code is 18 digits starting with 28", field="code")
        handle, given = parts
        with read(self.engine) as conn:
            row = conn.execute(HANDLE, {"h": handle}).first()
        if row is None or row.revoked_at_us is not None:
            raise CodeUnknown("this payment code is not valid", field="code")
        step = codes.time_step(time.time() if at_s is None else at_s)
        fresh = any(
            hmac.compare_digest(codes.mac(row.secret, handle, s), given) for s in (step, step - 1)
        )
        if not fresh:
            old = any(
                hmac.compare_digest(codes.mac(row.secret, handle, s), given)
                for s in range(step - 20, step - 1)
            )
            if old:
                raise CodeExpired("this payment code has expired: refresh it", field="code")
            raise CodeUnknown("this payment code is not valid", field="code")
        # A real code, used or not, was no guess: its tries are given back.
        with write(self.engine) as conn:
            taken = conn.execute(USE_HANDLE, {"h": handle, "at": now_us()})
            self._give_back(conn, claims)
        if taken.rowcount != 1:  # used before, or the same code at two terminals at once
            raise CodeUsed("this payment code was already used: refresh it", field="code")
        return Resolved(row.wallet_id, row.device_id, handle)

    def _claim(self, merchant: str, terminal: str) -> list[tuple[str, int]]:
        """Claim one try from the terminal's and the merchant's allowance before a code is
        checked, or refuse with 429; what a check claims stays counted unless given back.

        Each claim is one conditional upsert, so concurrent requests can never check more codes
        than the limits allow. Both claims commit together or not at all; the terminal's row is
        taken first, the merchant's (shared by all its terminals) last and held only until the
        commit that follows.
        """
        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            try:
                return self._claim_once(merchant, terminal)
            except TooManyTries:
                # A try is also held by every real code being checked right now, and given back
                # within milliseconds: a busy till waits for one rather than being refused.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(CLAIM_RETRY_S)

    def _claim_once(self, merchant: str, terminal: str) -> list[tuple[str, int]]:
        now = now_us()
        claims = []
        with write(self.engine) as conn:
            for key, limit, field, who in (
                (terminal, FAILURES_MAX, "terminal_id", "this terminal"),
                (merchant, self.merchant_failures_max, "code", "this merchant's terminals"),
            ):
                window = conn.execute(
                    self._claimed, claim_params(key, limit, FAILURE_WINDOW_US, now)
                ).scalar()
                if window is None:
                    raise TooManyTries(
                        f"too many invalid codes at {who}: wait a minute", field=field
                    )
                claims.append((key, int(window)))
        return claims

    @property
    def _claimed(self) -> Any:
        return claim_statement(
            self.engine, m.paycode_failures, key_column="terminal", count_column="failures"
        )

    @staticmethod
    def _give_back(conn: Connection, claims: list[tuple[str, int]]) -> None:
        conn.execute(GIVE_BACK, [{"k": key, "w": window} for key, window in claims])
