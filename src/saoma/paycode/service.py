"""Enrolling devices, resolving a scanned code to the wallet, refusing what must be refused."""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.db import read, write
from saoma.paycode import codes
from saoma.paycode import models as m
from saoma.payments.ids import new_id, now_us
from saoma.problems import Problem, not_found

HANDLES_PER_DEVICE = 100
FAILURES_MAX = 5  # per terminal per minute; then the terminal waits
FAILURE_WINDOW_US = 60 * 1_000_000


@dataclass(frozen=True, slots=True)
class Resolved:
    wallet_id: str
    device_id: str
    handle: str


def refusal(slug: str, detail: str, status: int = 422) -> Problem:
    return Problem(slug, status, detail, field="code")


class PaymentCodes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
            raise not_found("device", device_id)
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

    def resolve(self, code: str, terminal: str, *, at_s: float | None = None) -> Resolved:
        """The wallet behind a scanned code, consuming it; or why not."""
        self._check_rate(terminal)
        parts = codes.split(code)
        if parts is None:
            self._failed(terminal)
            raise refusal("code-malformed", "a payment code is 18 digits starting with 28")
        handle, given = parts
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.paycode_handles, m.paycode_devices)
                .join(m.paycode_devices, m.paycode_devices.c.id == m.paycode_handles.c.device_id)
                .where(m.paycode_handles.c.handle == handle)
            ).first()
        if row is None or row.revoked_at_us is not None:
            self._failed(terminal)
            raise refusal("code-unknown", "this payment code is not valid")
        step = codes.time_step(time.time() if at_s is None else at_s)
        fresh = any(
            hmac.compare_digest(codes.mac(row.secret, handle, s), given) for s in (step, step - 1)
        )
        if not fresh:
            self._failed(terminal)
            old = any(
                hmac.compare_digest(codes.mac(row.secret, handle, s), given)
                for s in range(step - 20, step - 1)
            )
            if old:
                raise refusal("code-expired", "this payment code has expired: refresh it")
            raise refusal("code-unknown", "this payment code is not valid")
        if row.used_at_us is not None:
            raise refusal("code-used", "this payment code was already used: refresh it", 409)
        with write(self.engine) as conn:
            taken = conn.execute(
                update(m.paycode_handles)
                .where(
                    m.paycode_handles.c.handle == handle, m.paycode_handles.c.used_at_us.is_(None)
                )
                .values(used_at_us=now_us())
            )
        if taken.rowcount != 1:  # the same code at two terminals at once: one wins
            raise refusal("code-used", "this payment code was already used: refresh it", 409)
        return Resolved(row.wallet_id, row.device_id, handle)

    def _check_rate(self, terminal: str) -> None:
        with read(self.engine) as conn:
            row = conn.execute(
                select(m.paycode_failures).where(m.paycode_failures.c.terminal == terminal)
            ).first()
        if (
            row is not None
            and row.failures >= FAILURES_MAX
            and row.window_start_us > now_us() - FAILURE_WINDOW_US
        ):
            raise Problem(
                "too-many-tries",
                429,
                "too many invalid codes at this terminal: wait a minute",
                field="terminal_id",
            )

    def _failed(self, terminal: str) -> None:
        now = now_us()
        with write(self.engine) as conn:
            row = conn.execute(
                select(m.paycode_failures).where(m.paycode_failures.c.terminal == terminal)
            ).first()
            if row is None:
                conn.execute(
                    insert(m.paycode_failures).values(
                        terminal=terminal, window_start_us=now, failures=1
                    )
                )
            elif row.window_start_us <= now - FAILURE_WINDOW_US:
                conn.execute(
                    update(m.paycode_failures)
                    .where(m.paycode_failures.c.terminal == terminal)
                    .values(window_start_us=now, failures=1)
                )
            else:
                conn.execute(
                    update(m.paycode_failures)
                    .where(m.paycode_failures.c.terminal == terminal)
                    .values(failures=m.paycode_failures.c.failures + 1)
                )
