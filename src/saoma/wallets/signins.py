"""How many wrong passwords an account, and an address, may take: passwords cannot be guessed at
speed, and a stranger cannot lock an owner out from one address.

Each check of a password (a sign-in, a password change, the first PIN set with the password)
first claims a try under three counts, in ``WINDOW_US``:

- the account from this address (``PER_PAIR_MAX``): a guesser at one address stops here;
- the account from anywhere (``PER_ACCOUNT_MAX``): guessers at many addresses stop here, and a
  stranger must send that many wrong passwords, from several addresses, to lock the owner out;
- the address, whatever accounts (``PER_ADDRESS_MAX``): one address trying a password on many
  accounts. An IPv6 address counts as its /64, which one client holds whole.

A browser or app the account signed in from before with its password (its ``saoma_device``
cookie: ``DEVICE_US``) is a known device: its checks of that account's password claim a count of
their own first (``PER_PAIR_MAX`` wrong passwords on that device, wherever it is, until the next
right one: no window renews it), and the counts above only once that is spent. Strangers
guessing from many addresses, or from the owner's carrier address, then lock out only devices
that never signed in; a copied device token adds ten guesses to the account's own until the
owner signs in again, and helps with no other account. A new password, or a sign-out everywhere,
forgets every device of the account; a device is remembered only while the password it was
signed in with is still the account's.

Each count is one conditional upsert (saoma.windows), all three in one transaction and before the
password is checked, so concurrent wrong tries never check more passwords than the counts allow.
A right password gives its own tries back (not the others': guesses made meanwhile stay counted).
The account is the wallet or shop a login names, whichever of its phones or e-mails was typed;
an unknown login is counted by itself, as a known one would be, so the counts do not show which
logins exist. The rows are keyed by hashes: the table holds no login or address. Consumers and
merchants count their accounts apart (``kind``) and share the addresses' counts.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    String,
    Table,
    bindparam,
    case,
    delete,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from saoma.core.errors import Conflict, NotFound, PasswordWrong, SignInFailed, TooManySignIns
from saoma.core.ids import now_us, token_hash
from saoma.db import is_sqlite, read, write
from saoma.wallets.credentials import check_password, hash_password, password_matches
from saoma.wallets.tables import sign_in_devices, sign_in_tries
from saoma.windows import claim_or_wait, too_many

PER_PAIR_MAX = 10  # wrong passwords for one account from one address; then it waits there
PER_ACCOUNT_MAX = 50  # for one account from anywhere; then even the right one waits
PER_ADDRESS_MAX = 100  # from one address, whatever accounts they name
WINDOW_US = 15 * 60 * 1_000_000
DEVICE_US = 90 * 24 * 3600 * 1_000_000  # a device is known this long after its last sign-in
FORGET_BATCH = 1000  # rows maintenance deletes per statement

_T = sign_in_tries.c
_WHERE = {  # what each count is of, as a refusal says
    "pair": "this account from this address",
    "account": "this account",
    "address": "this address",
}
_D = sign_in_devices.c
# A try claimed on a known device's own count: not past its time, fewer than ``most`` wrong
# passwords on it since its last right one.
_ON_DEVICE = (
    update(sign_in_devices)
    .where(
        _D.key == bindparam("device_key"),
        _D.expires_at_us > bindparam("now"),
        _D.failures < bindparam("most"),
    )
    .values(failures=_D.failures + 1)
)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _network(address: str) -> str:
    """The address as counted: an IPv4 address itself, an IPv6 address its /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class SignInTries:
    def __init__(
        self,
        engine: Engine,
        kind: str,
        *,
        accounts: Table | None = None,
        per_pair: int = PER_PAIR_MAX,
        per_account: int = PER_ACCOUNT_MAX,
        per_address: int = PER_ADDRESS_MAX,
        window_us: int = WINDOW_US,
    ) -> None:
        self.engine = engine
        self.kind = kind
        self.accounts = accounts  # the table of the accounts counted (``id``, ``password_hash``)
        self.per_pair = per_pair
        self.per_account = per_account
        self.per_address = per_address
        self.window_us = window_us
        self.clock: Callable[[], int] = now_us  # microseconds; tests move it

    @contextmanager
    def checking(
        self,
        account_id: str | None,
        login: str,
        address: str,
        device: str = "",
        checked: str = "",
    ) -> Iterator[None]:
        """Claim the tries of a password check for the account (``account_id``, or the unknown
        ``login`` when None) from ``address``, or refuse with 429 and nothing counted. The
        block checks the password: the tries stay counted if it raises ``SignInFailed`` or
        ``PasswordWrong``, and are given back otherwise (a right password, or a failure that
        was no guess). ``device``: the token of the browser or app asking; a right password
        (``checked``: the password hash checked) makes it known to the account, and a known one
        claims its own count first (an unknown login's device is looked for too, so the time
        taken does not tell it apart)."""
        who = ("account", account_id) if account_id is not None else ("login", login)
        on_device = _key(self.kind, *who, "device", device) if device else ""
        keys: list[str] = []
        given = on_device if on_device and self._claim_on_device(on_device) else ""
        if not given:
            keys = self.claim(account_id, login, address)
        try:
            yield
        except (SignInFailed, PasswordWrong):
            raise
        except BaseException:
            self.give_back(keys, on_device=given)
            raise
        self.give_back(keys, on_device=given)
        if device and account_id is not None and checked:
            self.remember(account_id, device, checked)

    def claim_on_device(self, account_id: str, device: str) -> str:
        """A try claimed on the count of ``device``, if it is a known device of the account
        with tries left: the key to give it back by (:meth:`give_back`); else "", and the try
        is for the account's own counts."""
        key = _key(self.kind, "account", account_id, "device", device)
        return key if self._claim_on_device(key) else ""

    def _claim_on_device(self, key: str) -> bool:
        """One try claimed on a known device's own count (one conditional UPDATE); False when
        the device is not known, or has spent its count since its last right password."""
        params = {"device_key": key, "now": self.clock(), "most": self.per_pair}
        with write(self.engine) as conn:
            return bool(conn.execute(_ON_DEVICE, params).rowcount == 1)

    def remember(self, account_id: str, device: str, password_hash: str) -> None:
        """The account's password was right on ``device``: known for ``DEVICE_US`` more, but
        only while the password is still ``password_hash``, the one checked, its row held
        (PostgreSQL: FOR SHARE). A new password committed meanwhile is seen, and one committed
        after waits and then forgets the device with the others."""
        assert self.accounts is not None, "remembering devices needs the accounts' table"
        a = self.accounts.c
        values = {
            "key": _key(self.kind, "account", account_id, "device", device),
            "account_key": _key(self.kind, "account", account_id),
            "failures": 0,
            "expires_at_us": self.clock() + DEVICE_US,
        }
        row = (
            select(
                literal(values["key"], String).label("key"),
                literal(values["account_key"], String).label("account_key"),
                literal(0, Integer).label("failures"),
                literal(values["expires_at_us"], BigInteger).label("expires_at_us"),
            )
            .where(a.id == account_id, a.password_hash == password_hash)
            .with_for_update(read=True)
        )
        insert_of = sqlite_insert if is_sqlite(self.engine) else pg_insert
        upsert = insert_of(sign_in_devices).from_select(list(values), row)
        upsert = upsert.on_conflict_do_update(
            index_elements=[_D.key],
            set_={"failures": 0, "expires_at_us": upsert.excluded.expires_at_us},
        )
        with write(self.engine) as conn:
            conn.execute(upsert)

    def forget_devices(self, conn: Connection, account_id: str) -> None:
        """Every device of the account forgotten, in ``conn``'s transaction (a new password,
        a sign-out everywhere): each signs in under the account's counts again."""
        account = _key(self.kind, "account", account_id)
        conn.execute(delete(sign_in_devices).where(_D.account_key == account))

    def claim(self, account_id: str | None, login: str, address: str) -> list[str]:
        """Count a failed try under each count, or refuse with 429 and nothing counted; the
        keys counted, for :meth:`give_back`."""
        who = ("account", account_id) if account_id is not None else ("login", login)
        tries = [(_key(self.kind, *who), self.per_account, "account")]
        if address:
            network = _network(address)
            tries.insert(0, (_key(self.kind, *who, network), self.per_pair, "pair"))
            tries.append((_key("address", network), self.per_address, "address"))
        now = self.clock()
        with write(self.engine) as conn:  # every claim takes its rows in this order
            for key, most, what in tries:
                wait_s = claim_or_wait(
                    conn,
                    sign_in_tries,
                    key_column="key",
                    count_column="failures",
                    key=key,
                    limit=most,
                    window_us=self.window_us,
                    now=now,
                )
                if wait_s:
                    counted = f"wrong passwords for {_WHERE[what]} in"
                    raise too_many(TooManySignIns, counted, most, self.window_us, wait_s)
        return [key for key, _, _ in tries]

    def give_back(self, keys: list[str], *, on_device: str = "") -> None:
        """The tries of a check that was not a wrong password, given back (in claim order), or
        the one claimed on the known device ``on_device``."""
        given = [(sign_in_tries, key) for key in keys]
        with write(self.engine) as conn:
            for table, key in given + ([(sign_in_devices, on_device)] if on_device else []):
                failures = table.c.failures  # one fewer, never below zero
                conn.execute(
                    update(table)
                    .where(table.c.key == key)
                    .values(failures=case((failures > 0, failures - 1), else_=0))
                )

    def change_password(
        self,
        accounts: Table,
        sessions_owner: Column[str],
        owner_id: str,
        passwords: tuple[str, str],
        *,
        keep_token_hash: str = "",
        address: str = "",
    ) -> int:
        """Change the password of ``accounts``' row ``owner_id`` from the current to the new
        one of ``passwords``, ending every session whose ``sessions_owner`` is ``owner_id`` but
        the one whose token hash is ``keep_token_hash``: how many ended. The current password is
        checked under the account's counts."""
        current, new = passwords
        check_password(new)
        a = accounts.c
        with read(self.engine) as conn:
            row = conn.execute(select(a.password_hash).where(a.id == owner_id)).first()
        if row is None:
            raise NotFound.named(self.kind, owner_id)
        sessions = sessions_owner.table
        with self.checking(owner_id, "", address):
            if not password_matches(row.password_hash, current):
                raise PasswordWrong("the current password is wrong", field="current_password")
            hashed = hash_password(new)
            with write(self.engine) as conn:
                changed = conn.execute(
                    update(accounts)
                    .where(a.id == owner_id, a.password_hash == row.password_hash)
                    .values(password_hash=hashed)
                ).rowcount
                if changed != 1:  # another change came first: no guess, so not counted
                    raise Conflict("the password was changed meanwhile: sign in with the new one")
                self.forget_devices(conn, owner_id)
                ended = conn.execute(
                    delete(sessions).where(
                        sessions_owner == owner_id, sessions.c.token_hash != keep_token_hash
                    )
                ).rowcount
        return int(ended)

    def end_sessions(
        self,
        sessions_owner: Column[str],
        owner_id: str,
        *,
        with_it: Callable[[Connection, str], int] | None = None,
    ) -> tuple[int, int]:
        """End every session whose ``sessions_owner`` is ``owner_id`` (a lost phone) and, in the
        same commit, forget its devices and do what ``with_it`` does (a wallet's payment codes
        stopped): how many sessions ended, and what ``with_it`` answered. The sessions first: a
        request still signed in finds none, and what one made under its session meanwhile
        (``hold_session``) is seen."""
        sessions = sessions_owner.table
        with write(self.engine) as conn:
            ended = conn.execute(delete(sessions).where(sessions_owner == owner_id)).rowcount
            self.forget_devices(conn, owner_id)
            more = with_it(conn, owner_id) if with_it is not None else 0
        return int(ended), more

    @staticmethod
    def hold_session(
        conn: Connection, sessions_owner: Column[str], owner_id: str, token: str
    ) -> bool:
        """Whether ``token`` is still a live session of ``owner_id``, its row held to the end
        of ``conn``'s transaction (PostgreSQL: FOR SHARE). What is made under a session (a
        payment-code device) is then made only while it lives: an ``end_sessions`` committed
        first is seen, and one that comes after waits, then finds what was made."""
        s = sessions_owner.table.c
        held = select(s.token_hash).where(
            s.token_hash == token_hash(token),
            sessions_owner == owner_id,
            s.expires_at_us > now_us(),
        )
        return conn.execute(held.with_for_update(read=True)).first() is not None

    def session_while_unchanged(
        self,
        accounts: Table,
        sessions_owner: Column[str],
        password_hash: str,
        values: dict[str, Any],
    ) -> None:
        """Insert the session ``values`` (its owner among them) only while the owner's password
        is still ``password_hash``, the one just checked, holding the account's row (PostgreSQL:
        FOR SHARE): a sign-in checked against the old password as the password changed makes no
        session, and one made first is seen and ended by the change (SignInFailed otherwise)."""
        sessions, a = sessions_owner.table, accounts.c
        row = (
            select(*(bindparam(k, v, type_=sessions.c[k].type).label(k) for k, v in values.items()))
            .select_from(accounts)
            .where(a.id == values[sessions_owner.name], a.password_hash == password_hash)
            .with_for_update(read=True)
        )
        made = insert(sessions).from_select(list(values), row).returning(sessions.c.token_hash)
        with write(self.engine) as conn:
            made_row = conn.execute(made).first()
        if made_row is None:
            raise SignInFailed("the password was changed meanwhile: sign in with the new one")

    def forget_old(self) -> int:
        """Rows whose window ran out, and devices not signed in from for ``DEVICE_US``, deleted
        (maintenance): they count nothing any more. On PostgreSQL a row a sign-in holds is
        skipped, never waited for, so a sign-in and this never wait on each other in a circle."""
        now = self.clock()
        forgotten = 0
        for table, old in (
            (sign_in_tries, select(_T.key).where(_T.window_start_us <= now - self.window_us)),
            (sign_in_devices, select(_D.key).where(_D.expires_at_us <= now)),
        ):
            old = old.limit(FORGET_BATCH)
            if not is_sqlite(self.engine):
                old = old.with_for_update(skip_locked=True)
            while True:
                with write(self.engine) as conn:
                    gone = conn.execute(delete(table).where(table.c.key.in_(old))).rowcount
                forgotten += gone
                if gone < FORGET_BATCH:
                    break
        return forgotten
