"""Appending to the audit log, one entry at a time, each chained to the one before.

:func:`append` runs inside the caller's transaction -- the action's own, so the entry commits
with the action or not at all; for a read, a transaction of its own committed before the data is
returned. It locks the head row, so concurrent appends (from any number of processes) take turns
and the sequence has no gaps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from saoma.core.ids import now_us

GENESIS = "0" * 64
WHAT_MAX = 200
REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    at_us: int
    operator_id: str
    role: str
    action: str
    subject_kind: str
    subject_id: str
    what: str
    reason: str
    address: str
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        return entry_hash(
            self.prev_hash,
            [
                self.seq,
                self.at_us,
                self.operator_id,
                self.role,
                self.action,
                self.subject_kind,
                self.subject_id,
                self.what,
                self.reason,
                self.address,
            ],
        )


COLUMNS = (
    "seq, at_us, operator_id, role, action, subject_kind, subject_id, what, reason, address,"
    " prev_hash, hash"
)


def entry_hash(prev_hash: str, fields: list[Any]) -> str:
    """SHA-256 over the previous hash and the entry's fields as one JSON array."""
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class _Runner:
    """``execute(sql, params)`` with ``:name`` placeholders over a SQLAlchemy connection or a
    ledger ``Tx`` (anything with such an ``execute`` and a ``postgres`` flag)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        if isinstance(conn, Connection):
            self.postgres = conn.dialect.name != "sqlite"
        else:
            self.postgres = bool(conn.postgres)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        if isinstance(self._conn, Connection):
            return self._conn.execute(text(sql), dict(params or {}))
        return self._conn.execute(sql, params)


def append(
    conn: Any,
    *,
    operator_id: str,
    role: str,
    action: str,
    subject_kind: str = "",
    subject_id: str = "",
    what: str = "",
    reason: str = "",
    address: str = "",
) -> Entry:
    """Append one entry in ``conn``'s transaction (a SQLAlchemy connection or a ledger Tx)."""
    run = _Runner(conn)
    # The head row exists from the migration on; a database emptied by TRUNCATE gets it back.
    run.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :genesis)"
        " ON CONFLICT (id) DO NOTHING",
        {"genesis": GENESIS},
    )
    lock = " FOR UPDATE" if run.postgres else ""
    seq, prev = run.execute(f"SELECT seq, hash FROM audit_head WHERE id = 1{lock}").fetchone()
    seq, prev = int(seq), str(prev)
    entry = Entry(
        seq + 1,
        now_us(),
        operator_id,
        role,
        action,
        subject_kind,
        subject_id,
        what[:WHAT_MAX],
        reason[:REASON_MAX],
        address[:64],
        prev,
        "",
    )
    entry = Entry(**{**_fields(entry), "hash": entry.computed_hash()})
    params = _fields(entry)
    run.execute(
        f"INSERT INTO audit_log ({COLUMNS}) VALUES ("
        ":seq, :at_us, :operator_id, :role, :action, :subject_kind, :subject_id, :what,"
        " :reason, :address, :prev_hash, :hash)",
        params,
    )
    run.execute(
        "UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1",
        {"seq": entry.seq, "hash": entry.hash},
    )
    return entry


def _fields(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in Entry.__slots__}
