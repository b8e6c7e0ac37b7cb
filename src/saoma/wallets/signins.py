"""How many wrong passwords a login, and an address, may send: sign-ins cannot be guessed at speed.

A sign-in claims a try for its login (``PER_LOGIN_MAX`` in ``WINDOW_US``) and one for the address
it comes from (``PER_ADDRESS_MAX``), each counted as a failure by one conditional upsert
(saoma.windows), both in one transaction and before any password is checked: concurrent wrong
tries never check more passwords than the limits allow. A right password gives its tries back
and clears its login's count. An unknown login is counted like a known one, so the limit does not
show which logins exist. The rows are keyed by a hash: the table holds no login or address.
Consumers and merchants count their logins apart (``kind``) and share the addresses' counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import case, delete, select, update
from sqlalchemy.engine import Engine

from saoma.core.errors import TooManySignIns
from saoma.core.ids import now_us
from saoma.db import write
from saoma.wallets.tables import sign_in_tries
from saoma.windows import claim_params, claim_statement

PER_LOGIN_MAX = 10  # wrong passwords for one login in a window; then even the right one waits
PER_ADDRESS_MAX = 100  # wrong passwords from one address, whatever logins they name
WINDOW_US = 15 * 60 * 1_000_000

_T = sign_in_tries.c


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class SignInTries:
    def __init__(
        self,
        engine: Engine,
        kind: str,
        *,
        per_login: int = PER_LOGIN_MAX,
        per_address: int = PER_ADDRESS_MAX,
        window_us: int = WINDOW_US,
    ) -> None:
        self.engine = engine
        self.kind = kind
        self.per_login = per_login
        self.per_address = per_address
        self.window_us = window_us
        self.clock: Callable[[], int] = now_us  # microseconds; tests move it

    def claim(self, login: str, address: str) -> list[str]:
        """Count a failed try for ``login`` and for ``address`` (none when it is ""), or refuse
        with 429 and nothing counted; the keys counted, for :meth:`give_back`."""
        tries = [(_key(self.kind, "login", login), self.per_login, "login")]
        if address:
            tries.append((_key("address", address), self.per_address, "address"))
        claim = claim_statement(
            self.engine, sign_in_tries, key_column="key", count_column="failures"
        )
        now = self.clock()
        with write(self.engine) as conn:
            for key, most, what in tries:
                params = claim_params(key, most, self.window_us, now)
                if conn.execute(claim, params).first() is None:
                    start = conn.execute(select(_T.window_start_us).where(_T.key == key)).scalar()
                    raise self._refusal(what, most, (start or now) + self.window_us - now)
        return [key for key, _, _ in tries]

    def give_back(self, keys: list[str]) -> None:
        """The password was right: the login's count starts again, the address's try is given
        back."""
        login_key, *address_keys = keys
        with write(self.engine) as conn:
            conn.execute(update(sign_in_tries).where(_T.key == login_key).values(failures=0))
            for key in address_keys:
                conn.execute(
                    update(sign_in_tries)
                    .where(_T.key == key)
                    .values(failures=case((_T.failures > 0, _T.failures - 1), else_=0))
                )

    def forget_old(self) -> int:
        """Rows whose window ran out: they count nothing any more (maintenance)."""
        with write(self.engine) as conn:
            cutoff = self.clock() - self.window_us
            return conn.execute(delete(sign_in_tries).where(_T.window_start_us <= cutoff)).rowcount

    def _refusal(self, what: str, most: int, left_us: int) -> TooManySignIns:
        wait_s = max(1, (left_us + 999_999) // 1_000_000)
        minutes = max(1, self.window_us // 60_000_000)
        where = "this login" if what == "login" else "this address"
        return TooManySignIns(
            f"{most} wrong passwords for {where} in {minutes} minutes: try again in {wait_s} s",
            limit=most,
            window_s=self.window_us // 1_000_000,
            retry_after_s=wait_s,
        )
