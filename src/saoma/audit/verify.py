"""Checking the audit log: the chain recomputed entry by entry, and the head copied outside.

:func:`verify` walks the log in pages of ``PAGE`` entries by sequence number and stops at the
first entry that does not fit: a missing sequence number (a deleted entry), a ``prev_hash`` that
is not the hash before it (an entry removed and the chain patched), or a hash that is not the
entry's own (an edited entry). It then checks the head row and every line of the head file: a
head ahead of the last entry means the tail was cut off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.audit.chain import COLUMNS, GENESIS, Entry
from saoma.db import read

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    checked: int  # entries whose hash was recomputed
    seq: int | None = None  # the first entry that does not fit
    problem: str = ""


def _page(engine: Engine, after: int) -> list[Entry]:
    with read(engine) as conn:
        rows = conn.execute(
            text(f"SELECT {COLUMNS} FROM audit_log WHERE seq > :after ORDER BY seq LIMIT {PAGE}"),
            {"after": after, "n": PAGE},
        ).all()
    return [Entry(int(r[0]), int(r[1]), *(str(v) for v in r[2:])) for r in rows]


def read_head_file(path: Path) -> dict[int, str]:
    """Each ``seq hash`` line of the head file (later lines win)."""
    heads: dict[int, str] = {}
    if not path.exists():
        return heads
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            heads[int(parts[0])] = parts[1]
    return heads


def verify(engine: Engine, head_file: Path | None = None) -> Verdict:
    """The chain from the first entry to the head, checked; the first problem found named."""
    seq, prev = 0, GENESIS
    while True:
        entries = _page(engine, seq)
        for entry in entries:
            if entry.seq != seq + 1:
                return Verdict(False, seq, seq + 1, f"entry {seq + 1} is missing")
            if entry.prev_hash != prev:
                return Verdict(False, seq, entry.seq, f"entry {entry.seq} does not follow {seq}")
            if entry.computed_hash() != entry.hash:
                return Verdict(False, seq, entry.seq, f"entry {entry.seq} was changed")
            seq, prev = entry.seq, entry.hash
        if len(entries) < PAGE:
            break
    with read(engine) as conn:
        head = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    if head is not None and (int(head[0]), str(head[1])) != (seq, prev):
        return _beyond(seq, prev, int(head[0]), "the head row")
    return _against_file(engine, head_file, seq, prev) or Verdict(True, seq)


def _beyond(last: int, last_hash: str, head_seq: int, where: str) -> Verdict:
    if head_seq > last:
        return Verdict(
            False, last, last + 1, f"entry {last + 1} is missing ({where} is at {head_seq})"
        )
    return Verdict(False, last, head_seq, f"entry {head_seq} does not match {where}")


def _against_file(engine: Engine, path: Path | None, last: int, last_hash: str) -> Verdict | None:
    heads = read_head_file(path) if path is not None else {}
    if not heads:
        return None
    for seq, expected in sorted(heads.items()):
        if seq > last:
            return _beyond(last, last_hash, seq, "the head file")
        with read(engine) as conn:
            found = conn.execute(
                text("SELECT hash FROM audit_log WHERE seq = :seq"), {"seq": seq}
            ).scalar()
        if found != expected:
            return Verdict(False, last, seq, f"entry {seq} does not match the head file")
    return None
