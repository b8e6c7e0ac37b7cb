"""Reading the audit log: a person's own entries (what they see), the whole log (admins), and
the head copied to a file outside the database by the maintenance loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.audit.chain import COLUMNS, Entry, append
from saoma.audit.verify import Verdict, read_head_file, verify
from saoma.core.errors import InvalidRequest
from saoma.core.ids import now_us, rfc3339
from saoma.db import read, write

PAGE_MAX = 100


def _after(cursor: str | None) -> int | None:
    if not cursor:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidRequest("cursor: the next_cursor of the page before", field="cursor")
    return int(cursor)


class Audit:
    def __init__(self, engine: Engine, head_file: Path | None = None) -> None:
        self.engine = engine
        self.head_file = head_file
        self._written: int | None = None  # the head seq last written to the file

    def of_subject(
        self, subject_id: str, *, cursor: str | None = None, limit: int = PAGE_MAX
    ) -> dict[str, Any]:
        """Who looked at this person's data, newest first: when, which role, what and why --
        never which operator."""
        before = _after(cursor)
        where = "subject_id = :sid" + (" AND seq < :before" if before is not None else "")
        with read(self.engine) as conn:
            rows = conn.execute(
                text(
                    "SELECT seq, at_us, role, action, what, reason FROM audit_log"
                    f" WHERE {where} ORDER BY seq DESC LIMIT :limit"
                ),
                {"sid": subject_id, "before": before, "limit": limit + 1},
            ).all()
        entries = [
            {
                "at": rfc3339(r.at_us),
                "role": r.role,
                "action": r.action,
                "what": r.what,
                "reason": r.reason,
            }
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return {"entries": entries, "next_cursor": str(rows[limit - 1].seq) if more else None}

    def page(self, *, cursor: str | None = None, limit: int = PAGE_MAX) -> dict[str, Any]:
        """The whole log, newest first, every column."""
        before = _after(cursor)
        where = " WHERE seq < :before" if before is not None else ""
        with read(self.engine) as conn:
            rows = (
                conn.execute(
                    text(f"SELECT {COLUMNS} FROM audit_log{where} ORDER BY seq DESC LIMIT :limit"),
                    {"before": before, "limit": limit + 1},
                )
                .mappings()
                .all()
            )
        data = [
            {**{k: v for k, v in r.items() if k != "at_us"}, "at": rfc3339(r["at_us"])}
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return {"data": data, "next_cursor": str(rows[limit - 1]["seq"]) if more else None}

    def record(
        self,
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
        """Append an entry in a transaction of its own, committed when this returns: for a read,
        called before the data is read, so the look is on record even if the answer is lost."""
        with write(self.engine) as conn:
            return append(
                conn,
                operator_id=operator_id,
                role=role,
                action=action,
                subject_kind=subject_kind,
                subject_id=subject_id,
                what=what,
                reason=reason,
                address=address,
            )

    def verify(self) -> Verdict:
        return verify(self.engine, self.head_file)

    def record_head(self) -> bool:
        """Append the head (``seq hash time``) to the head file if it moved; True if written."""
        if self.head_file is None:
            return False
        with read(self.engine) as conn:
            head = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
        if head is None or int(head[0]) == 0:
            return False
        seq = int(head[0])
        if self._written is None:
            written = read_head_file(self.head_file)
            self._written = max(written) if written else 0
        if seq == self._written:
            return False
        self.head_file.parent.mkdir(parents=True, exist_ok=True)
        with self.head_file.open("a", encoding="utf-8") as out:
            out.write(f"{seq} {head[1]} {rfc3339(now_us())}\n")
        self._written = seq
        return True
