"""The ledger's storage: one database transaction per batch of transfers.

A batch locks what it touches once (holds, then accounts, each in id order so two processes
can never deadlock each other), runs the pure rules in :mod:`saoma.ledger.engine`, and writes the
new transfers, holds and balances with a handful of set-based statements. A hot merchant's row is
locked once per batch, not once per payment.

Longer than usual: the batch's statements for SQLite and PostgreSQL read best side by side, and
``_apply_once`` is the one transaction, step by step, in the order the database sees it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.core.money import BY_ALPHA
from saoma.db import chunks, read, sqlite_write_lock, write
from saoma.ledger import engine as rules
from saoma.ledger.domain import (
    Account,
    AccountFlags,
    AccountKind,
    AccountResult,
    Hold,
    HoldState,
    Page,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)
from saoma.ledger.tx import Tx
from saoma.libpq import int_array, text_array

BeforeCommit = Callable[[Tx, list[Result]], None]

BATCH_RETRIES_MAX = 20
PAGE_LIMIT_MAX = 1000
SQLITE_CHUNK = 900  # bound parameters per IN (...) list
ROWS_KEPT_MAX = 100_000  # PostgreSQL: accounts whose rows a store remembers

_ACCOUNT_COLS = (
    "id, currency, kind, flags, debits_pending, debits_posted, credits_pending, credits_posted,"
    " user_data, created_at_us"
)
_TRANSFER_COLS = (
    "id, debit_account_id, credit_account_id, amount, code, flags, pending_id, timeout_s, ref,"
    " user_data, created_at_us, seq"
)
_INSERT_TRANSFER_COLS = (
    "id, debit_account_id, credit_account_id, amount, code, flags, pending_id, timeout_s, ref,"
    " user_data, created_at_us"
)
_HOLD_COLS = (
    "transfer_id, debit_account_id, credit_account_id, amount, expires_at_us, state, resolved_by"
)


_NOT_PLAIN = (TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING).value
_SET_BALANCES = (
    "UPDATE accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo,"
    " credits_pending = v.cp, credits_posted = v.cpo FROM unnest(%s::int8[], %s::int8[],"
    " %s::int8[], %s::int8[], %s::int8[]"
)
# ``id = ANY`` lets the planner walk the primary key instead of hashing the whole table.
_UPDATE_BALANCES = (
    _SET_BALANCES + ") AS v(id, dp, dpo, cp, cpo) WHERE a.id = ANY(%s::int8[]) AND a.id = v.id"
)
_INSERT_TRANSFERS = (
    f"INSERT INTO transfers ({_INSERT_TRANSFER_COLS}) SELECT * FROM unnest("
    "%s::text[], %s::int8[], %s::int8[], %s::int8[], %s::int2[], %s::int4[], %s::text[],"
    " %s::int4[], %s::text[], %s::text[], %s::int8[])"
)

# A batch's balances and its new transfers written by one statement (different tables: the
# one snapshot they share changes nothing).
_WRITE_BALANCES_AND_TRANSFERS = f"WITH balances AS ({_UPDATE_BALANCES}) {_INSERT_TRANSFERS}"


def _numbered(sql: str) -> bytes:
    """``sql`` with its ``%s`` placeholders as PostgreSQL's ``$1``, ``$2``, ..."""
    parts = sql.split("%s")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1)).encode()


_UPDATE_EXPECTED_BALANCES = _numbered(
    "WITH u AS ("
    + _SET_BALANCES
    + ", %s::int8[], %s::int8[], %s::int8[], %s::int8[]) AS v(id, dp, dpo, cp, cpo, odp, odpo,"
    " ocp, ocpo) WHERE a.id = ANY(%s::int8[]) AND a.id = v.id AND a.debits_pending = v.odp"
    " AND a.debits_posted = v.odpo AND a.credits_pending = v.ocp AND a.credits_posted = v.ocpo"
    " RETURNING 1) SELECT 1 / (count(*) = %s)::int FROM u"
)
# The statements of a batch worked out from remembered rows (see LedgerStore.prepare).
PIPELINED = {
    b"ledger_balances": _UPDATE_EXPECTED_BALANCES,
    b"ledger_transfers": _numbered(_INSERT_TRANSFERS),
}


@dataclass(slots=True)
class Prepared:
    """A batch worked out from remembered rows (see :meth:`LedgerStore.prepare`)."""

    results: list[Result]
    statements: list[tuple[bytes, list[bytes | None]]]  # a PIPELINED name, text parameters


def now_us() -> int:
    return time.time_ns() // 1000


def expiry_id(hold_id: str) -> str:
    """The id of the transfer that releases an expired hold: derived, so releasing is idempotent."""
    return "expiry:" + hashlib.blake2b(hold_id.encode(), digest_size=16).hexdigest()


def _account(row: Sequence[Any]) -> Account:
    return Account(*row)


def _transfer(row: Sequence[Any]) -> Transfer:
    return Transfer(*row)


class LedgerStore:
    """Reads and batch writes against SQLite or PostgreSQL through one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.write_lock = sqlite_write_lock(engine)
        # PostgreSQL: each account's row as the batches this store committed or sent leave it.
        # See prepare().
        self.rows: dict[int, Account] = {}

    # --- writes -------------------------------------------------------------------------------

    def apply_batch(
        self,
        transfers: list[Transfer],
        raw: Any,
        before_commit: BeforeCommit | None = None,
        on_sent: Callable[[], None] | None = None,
        on_read: Callable[[], None] | None = None,
    ) -> rules.Outcome:
        """Apply ``transfers`` in one transaction on the DBAPI connection ``raw``; commits.

        ``before_commit`` runs in that transaction with the callers' results, to record what the
        transfers are for (see :mod:`saoma.ledger.tx`); if it raises, nothing is committed.
        ``on_sent`` runs once the batch's writes are made or on their way, before the wait for
        the commit: Python work then (another thread's) overlaps the database's. ``on_read``
        runs in the same way once the batch's reads are sent (PostgreSQL only).
        """
        for attempt in range(BATCH_RETRIES_MAX):
            try:
                if self.write_lock is None:
                    return self._apply_once(transfers, raw, before_commit, on_sent, on_read)
                with self.write_lock:
                    return self._apply_once(transfers, raw, before_commit, on_sent, on_read)
            except Exception as exc:
                raw.rollback()
                if not _retryable(exc) or attempt == BATCH_RETRIES_MAX - 1:
                    raise
                time.sleep(0.001 * attempt)
        raise RuntimeError("unreachable")

    def _apply_once(
        self,
        transfers: list[Transfer],
        raw: Any,
        before_commit: BeforeCommit | None,
        on_sent: Callable[[], None] | None,
        on_read: Callable[[], None] | None = None,
    ) -> rules.Outcome:
        cur = raw.cursor()
        try:
            if self.sqlite:
                cur.execute("BEGIN IMMEDIATE")
            now = now_us()
            pending_ids = sorted(
                {
                    t.pending_id
                    for t in transfers
                    if t.pending_id
                    and t.flags & (TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)
                }
            )
            holds = self._lock_holds(cur, pending_ids)
            expiries = [
                Transfer(
                    expiry_id(h.transfer_id),
                    0,
                    0,
                    0,
                    TransferCode.EXPIRY,
                    TransferFlags.VOID_PENDING,
                    h.transfer_id,
                )
                for h in holds.values()
                if h.state == HoldState.PENDING
                and h.expires_at_us is not None
                and h.expires_at_us <= now
            ]
            batch = expiries + transfers if expiries else transfers
            account_ids = {t.debit_account_id for t in batch} | {t.credit_account_id for t in batch}
            for h in holds.values():
                account_ids.add(h.debit_account_id)
                account_ids.add(h.credit_account_id)
            account_ids.discard(0)
            accounts, existing = self._read(
                raw, cur, sorted(account_ids), [t.id for t in batch], on_read
            )
            outcome = rules.apply(batch, accounts, holds, existing, now)
            if expiries:
                outcome.results = outcome.results[len(expiries) :]
            if self.sqlite:
                self._write(cur, outcome, accounts)
                if before_commit is not None:
                    before_commit(Tx(raw, postgres=False), outcome.results)
                if on_sent is not None:
                    on_sent()
                raw.commit()
            else:
                # The writes, the hooks' statements and the COMMIT on one pipeline: a round trip
                # only where a hook looks at a result (see saoma.ledger.tx), while the accounts
                # stay locked.
                with raw.pipeline() as pipeline:
                    self._write(cur, outcome, accounts)
                    if on_sent is not None:
                        on_sent()
                    if before_commit is not None:
                        before_commit(Tx(raw, postgres=True, pipeline=pipeline), outcome.results)
                    raw.commit()
                self._remember(accounts)
        finally:
            cur.close()
        return outcome

    def prepare(self, transfers: list[Transfer], raw: Any) -> Prepared | None:
        """Work ``transfers`` out from the remembered rows, without locking (PostgreSQL).

        Accounts not remembered are read (not locked) on the DBAPI connection ``raw``. Only if
        every account exists, no transfer has to do with a hold, and every transfer goes
        through (a refusal must come from rows read under lock), the accounts are left as the
        batch leaves them, so that the next batch can be worked out while this one is still on
        its way (see :mod:`saoma.ledger.pipeline`). The batch's balances UPDATE changes the
        rows only if each still holds what the batch was worked out from; if one does not
        (another writer moved it), the division by zero aborts the transaction and the batch
        is applied again with :meth:`apply_batch`, which reads under lock. A transfer written
        before makes the INSERT fail (its id is unique), with the same remedy.
        """
        if self.sqlite:
            return None
        rows = self.rows
        accounts: dict[int, Account] = {}
        missing = []
        for t in transfers:
            if t.flags & _NOT_PLAIN:
                return None
            for i in (t.debit_account_id, t.credit_account_id):
                account = rows.get(i)
                if account is None:
                    missing.append(i)
                else:
                    accounts[i] = account
        if missing:
            cur = raw.cursor()
            try:
                cur.execute(
                    f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id = ANY(%s::int8[])",
                    (int_array(missing),),
                )
                read = {r[0]: _account(r) for r in cur.fetchall()}
            finally:
                cur.close()
                raw.rollback()
            self._remember(read)
            accounts.update(read)
        # The remembered accounts themselves are worked on, so that they are left as this batch
        # leaves them; if it cannot go this way, they are put back.
        expected = {
            i: (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
            for i, a in accounts.items()
        }
        outcome = rules.apply(transfers, accounts, {}, {}, now_us())  # a missing one refuses
        if outcome.accounts_touched != expected.keys() or any(
            r is not Result.OK for r in outcome.results
        ):
            for i, before in expected.items():
                a = accounts[i]
                a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted = before
            return None
        touched = [accounts[i] for i in sorted(expected)]
        ids, *balances, _ = _balance_arrays(touched)
        olds = [expected[a.id] for a in touched]
        checked = [ids, *balances, *(int_array([r[k] for r in olds]) for k in range(4)), ids]
        checked.append(str(len(touched)))
        inserted = _transfer_arrays(outcome.created)
        return Prepared(
            outcome.results,
            [
                (b"ledger_balances", [v.encode() for v in checked]),
                (b"ledger_transfers", [v.encode() for v in inserted]),
            ],
        )

    def _remember(self, accounts: dict[int, Account]) -> None:
        if len(self.rows) > ROWS_KEPT_MAX:
            self.rows.clear()
        self.rows.update(accounts)

    def _read(
        self,
        raw: Any,
        cur: Any,
        account_ids: list[int],
        transfer_ids: list[str],
        on_sent: Callable[[], None] | None = None,
    ) -> tuple[dict[int, Account], dict[str, Transfer]]:
        """Lock the accounts and find the transfers that exist already (one round trip on PG)."""
        if self.sqlite:
            return self._lock_accounts(cur, account_ids), self._existing(cur, transfer_ids)
        other = raw.cursor()
        try:
            with raw.pipeline():
                self._lock_accounts_send(cur, account_ids)
                other.execute(
                    f"SELECT {_TRANSFER_COLS} FROM transfers WHERE id = ANY(%s::text[])",
                    (text_array(transfer_ids),),
                )
                if on_sent is not None:
                    on_sent()
                accounts = {r[0]: _account(r) for r in cur.fetchall()} if account_ids else {}
                existing = {r[0]: _transfer(r) for r in other.fetchall()}
        finally:
            other.close()
        return accounts, existing

    def _lock_holds(self, cur: Any, ids: list[str]) -> dict[str, Hold]:
        if not ids:
            return {}
        rows: list[Any] = []
        if self.sqlite:
            for part in chunks(ids, SQLITE_CHUNK):
                marks = ",".join("?" * len(part))
                cur.execute(f"SELECT {_HOLD_COLS} FROM holds WHERE transfer_id IN ({marks})", part)
                rows.extend(cur.fetchall())
        else:
            cur.execute(
                f"SELECT {_HOLD_COLS} FROM holds WHERE transfer_id = ANY(%s::text[])"
                " ORDER BY transfer_id FOR UPDATE",
                (text_array(ids),),
            )
            rows = cur.fetchall()
        return {r[0]: Hold(*r) for r in rows}

    def _lock_accounts(self, cur: Any, ids: list[int]) -> dict[int, Account]:
        """SQLite: the accounts (the write lock taken at BEGIN IMMEDIATE covers them)."""
        rows: list[Any] = []
        for part in chunks(ids, SQLITE_CHUNK):
            marks = ",".join("?" * len(part))
            cur.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id IN ({marks})", part)
            rows.extend(cur.fetchall())
        return {r[0]: _account(r) for r in rows}

    def _lock_accounts_send(self, cur: Any, ids: list[int]) -> None:
        if ids:
            # NO KEY UPDATE: the lock the balance UPDATE takes anyway (it changes no key).
            cur.execute(
                f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id = ANY(%s::int8[])"
                " ORDER BY id FOR NO KEY UPDATE",
                (int_array(ids),),
            )

    def _existing(self, cur: Any, ids: list[str]) -> dict[str, Transfer]:
        """SQLite: the transfers of this batch that were written before (retries)."""
        rows: list[Any] = []
        for part in chunks(ids, SQLITE_CHUNK):
            marks = ",".join("?" * len(part))
            cur.execute(f"SELECT {_TRANSFER_COLS} FROM transfers WHERE id IN ({marks})", part)
            rows.extend(cur.fetchall())
        return {r[0]: _transfer(r) for r in rows}

    def _write(self, cur: Any, outcome: rules.Outcome, accounts: dict[int, Account]) -> None:
        created = outcome.created
        if not created:
            return
        new_holds = list(outcome.holds_created.values())
        changed_holds = [
            h for tid, h in outcome.holds_resolved.items() if tid not in outcome.holds_created
        ]
        touched = [accounts[i] for i in sorted(outcome.accounts_touched)]
        if self.sqlite:
            self._write_sqlite(cur, created, new_holds, changed_holds, touched)
        else:
            self._write_postgres(cur, created, new_holds, changed_holds, touched)

    def _write_sqlite(
        self,
        cur: Any,
        created: list[Transfer],
        new_holds: list[Hold],
        changed_holds: list[Hold],
        touched: list[Account],
    ) -> None:
        cur.executemany(
            f"INSERT INTO transfers ({_INSERT_TRANSFER_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    t.id,
                    t.debit_account_id,
                    t.credit_account_id,
                    t.amount,
                    int(t.code),
                    int(t.flags),
                    t.pending_id,
                    t.timeout_s,
                    t.ref,
                    t.user_data,
                    t.created_at_us,
                )
                for t in created
            ],
        )
        if new_holds:
            cur.executemany(
                f"INSERT INTO holds ({_HOLD_COLS}) VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        h.transfer_id,
                        h.debit_account_id,
                        h.credit_account_id,
                        h.amount,
                        h.expires_at_us,
                        int(h.state),
                        h.resolved_by,
                    )
                    for h in new_holds
                ],
            )
        if changed_holds:
            cur.executemany(
                "UPDATE holds SET state = ?, resolved_by = ? WHERE transfer_id = ?",
                [(int(h.state), h.resolved_by, h.transfer_id) for h in changed_holds],
            )
        cur.executemany(
            "UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?,"
            " credits_posted = ? WHERE id = ?",
            [
                (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.id)
                for a in touched
            ],
        )

    def _write_postgres(
        self,
        cur: Any,
        created: list[Transfer],
        new_holds: list[Hold],
        changed_holds: list[Hold],
        touched: list[Account],
    ) -> None:
        written = _balance_arrays(touched) + _transfer_arrays(created)
        cur.execute(_WRITE_BALANCES_AND_TRANSFERS, written)
        if new_holds:
            cur.execute(
                f"INSERT INTO holds ({_HOLD_COLS}) SELECT * FROM unnest(%s::text[], %s::int8[],"
                " %s::int8[], %s::int8[], %s::int8[], %s::int2[], %s::text[])",
                (
                    text_array([h.transfer_id for h in new_holds]),
                    int_array([h.debit_account_id for h in new_holds]),
                    int_array([h.credit_account_id for h in new_holds]),
                    int_array([h.amount for h in new_holds]),
                    int_array([h.expires_at_us for h in new_holds]),
                    int_array([int(h.state) for h in new_holds]),
                    text_array([h.resolved_by for h in new_holds]),
                ),
            )
        if changed_holds:
            cur.execute(
                "UPDATE holds AS h SET state = v.state, resolved_by = v.resolved_by"
                " FROM unnest(%s::text[], %s::int2[], %s::text[]) AS v(id, state, resolved_by)"
                " WHERE h.transfer_id = v.id",
                (
                    text_array([h.transfer_id for h in changed_holds]),
                    int_array([int(h.state) for h in changed_holds]),
                    text_array([h.resolved_by for h in changed_holds]),
                ),
            )

    def create_accounts(self, new: list[Account]) -> list[AccountResult]:
        """Create accounts; an id that exists with the same fields is ``EXISTS`` (idempotent)."""
        results: list[AccountResult] = []
        now = now_us()
        with write(self.engine) as conn:
            ids = [a.id for a in new]
            found = {
                r[0]: _account(r)
                for part in chunks(ids, SQLITE_CHUNK)
                for r in conn.execute(
                    text(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id IN :ids").bindparams(
                        _expanding("ids")
                    ),
                    {"ids": part},
                )
            }
            rows = []
            for account in new:
                result = _check_account(account, found.get(account.id))
                results.append(result)
                if result is AccountResult.OK:
                    account.created_at_us = now
                    found[account.id] = account
                    rows.append(
                        {
                            "id": account.id,
                            "currency": account.currency,
                            "kind": account.kind,
                            "flags": int(account.flags),
                            "user_data": account.user_data,
                            "created_at_us": now,
                        }
                    )
            if rows:
                conn.execute(
                    text(
                        "INSERT INTO accounts (id, currency, kind, flags, user_data, created_at_us)"
                        " VALUES (:id, :currency, :kind, :flags, :user_data, :created_at_us)"
                    ),
                    rows,
                )
        return results

    # --- reads --------------------------------------------------------------------------------

    def accounts(self, ids: Sequence[int]) -> dict[int, Account]:
        with read(self.engine) as conn:
            out: dict[int, Account] = {}
            for part in chunks(list(ids), SQLITE_CHUNK):
                rows = conn.execute(
                    text(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id IN :ids").bindparams(
                        _expanding("ids")
                    ),
                    {"ids": part},
                )
                out.update({r[0]: _account(r) for r in rows})
            return out

    def transfer(self, transfer_id: str) -> Transfer | None:
        with read(self.engine) as conn:
            row = conn.execute(
                text(f"SELECT {_TRANSFER_COLS} FROM transfers WHERE id = :id"), {"id": transfer_id}
            ).first()
            return _transfer(row) if row else None

    def hold(self, transfer_id: str) -> Hold | None:
        with read(self.engine) as conn:
            row = conn.execute(
                text(f"SELECT {_HOLD_COLS} FROM holds WHERE transfer_id = :id"), {"id": transfer_id}
            ).first()
            return Hold(*row) if row else None

    def account_transfers(self, account_id: int, after_seq: int, limit: int) -> Page:
        limit = max(1, min(limit, PAGE_LIMIT_MAX))
        sql = text(
            f"SELECT {_TRANSFER_COLS} FROM ("
            f" SELECT {_TRANSFER_COLS} FROM transfers WHERE debit_account_id = :a AND seq > :s"
            " UNION ALL"
            f" SELECT {_TRANSFER_COLS} FROM transfers WHERE credit_account_id = :a AND seq > :s"
            ") AS t ORDER BY seq LIMIT :n"
        )
        with read(self.engine) as conn:
            rows = conn.execute(sql, {"a": account_id, "s": after_seq, "n": limit + 1}).all()
        page = [_transfer(r) for r in rows[:limit]]
        cursor = str(page[-1].seq) if len(rows) > limit else None
        return Page(page, cursor)

    def due_holds(self, now: int, limit: int, account_id: int | None = None) -> list[str]:
        """Pending holds whose timeout has passed, oldest first (all, or one debit account's)."""
        where = "state = 1 AND expires_at_us IS NOT NULL AND expires_at_us <= :now"
        params: dict[str, Any] = {"now": now, "n": limit}
        if account_id is not None:
            where += " AND debit_account_id = :a"
            params["a"] = account_id
        sql = text(f"SELECT transfer_id FROM holds WHERE {where} ORDER BY expires_at_us LIMIT :n")
        with read(self.engine) as conn:
            return [r[0] for r in conn.execute(sql, params)]


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def _check_account(account: Account, stored: Account | None) -> AccountResult:
    both = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    if not 0 < account.id < 2**63:
        return AccountResult.ID_INVALID
    if account.currency not in BY_ALPHA:
        return AccountResult.CURRENCY_UNKNOWN
    if account.kind not in {k.value for k in AccountKind}:
        return AccountResult.KIND_UNKNOWN
    if account.flags & both == both or account.flags & ~both:
        return AccountResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if len(account.user_data) > 256:
        return AccountResult.FIELD_TOO_LONG
    if stored is None:
        return AccountResult.OK
    same = (stored.currency, stored.kind, stored.flags, stored.user_data) == (
        account.currency,
        account.kind,
        int(account.flags),
        account.user_data,
    )
    return AccountResult.EXISTS if same else AccountResult.EXISTS_WITH_DIFFERENT_FIELDS


def _balance_arrays(touched: list[Account]) -> tuple[str, ...]:
    # Arrays go as text literals built in C (str.join): psycopg's list dumper runs a Python
    # call per element, which was a third of the commit thread's time.
    ids = int_array([a.id for a in touched])
    return (
        ids,
        int_array([a.debits_pending for a in touched]),
        int_array([a.debits_posted for a in touched]),
        int_array([a.credits_pending for a in touched]),
        int_array([a.credits_posted for a in touched]),
        ids,
    )


def _transfer_arrays(created: list[Transfer]) -> tuple[str, ...]:
    return (
        text_array([t.id for t in created]),
        int_array([t.debit_account_id for t in created]),
        int_array([t.credit_account_id for t in created]),
        int_array([t.amount for t in created]),
        int_array([int(t.code) for t in created]),
        int_array([int(t.flags) for t in created]),
        text_array([t.pending_id for t in created]),
        int_array([t.timeout_s for t in created]),
        text_array([t.ref for t in created]),
        text_array([t.user_data for t in created]),
        int_array([t.created_at_us for t in created]),
    )


def _retryable(exc: Exception) -> bool:
    """Conflicts another writer caused: a duplicate id racing in, a deadlock, a busy database."""
    orig = getattr(exc, "orig", exc)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "diag", None), "sqlstate", None
    )
    if sqlstate in {"23505", "40001", "40P01"}:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "unique constraint failed: transfers.id" in message
