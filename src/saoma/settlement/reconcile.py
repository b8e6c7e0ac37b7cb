"""Reconciliation: the bank's statement of a day against what Saoma recorded as paid that day.

The bank sends an end-of-day statement of the platform's account (ISO 20022 camt.053). Each of
its lines names the instruction it booked (``EndToEndId``: Saoma's instruction id) and an
amount, signed here as the ledger sees the account: + money in (a top-up collected), - money out
(a withdrawal or a merchant's payout). Saoma's side of a statement date is every instruction it
recorded as succeeded on that UTC date (the date the bank books by, whatever SAOMA_TIMEZONE
says): ``bank_transfers`` and ``payouts``. Every line that does not match is a break:

- ``missing``: Saoma has it, the bank does not;
- ``amount``: both have it, with different amounts (or currencies);
- ``unknown``: the bank has it, Saoma never sent it or did not record it as succeeded;
- ``duplicate``: the bank has the reference more than once.

An instruction the bank booked just before midnight and Saoma recorded just after is on two
dates: on the bank's statement of one, in Saoma's records of the next. A line whose instruction
Saoma recorded on an adjacent date matches; and an instruction of Saoma's date that the previous
day's statement has (given as ``previous``; :func:`reconcile_day` fetches it) is not missing.

A statement is stored once (``bank_statements``, by its own id): importing it again changes
nothing and reports the breaks found the first time. A break stays open until a person resolves
it with a note.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# Only the type: the parsing is defusedxml's.
from xml.etree.ElementTree import Element  # nosec B405

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from sqlalchemy import select, union_all
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import Conflict, InvalidRequest, NotFound
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.core.money import UnknownCurrency, parse_major
from saoma.db import read, write
from saoma.funding.bank import BankConnector
from saoma.funding.tables import bank_transfers
from saoma.settlement.tables import bank_statements, payouts, recon_breaks

CAMT053 = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.[0-9]{2}")
FILE_MAX_BYTES = 64 * 1024 * 1024
NOTE_MAX = 500
KINDS = ("missing", "amount", "unknown", "duplicate")
DAY_US = 86_400 * 1_000_000


class StatementRefused(ValueError):
    """The file is not a camt.053 statement Saoma can read; the message says why."""


@dataclass(frozen=True, slots=True)
class Line:
    reference: str  # the EndToEndId (the bank's own reference when there is none)
    amount: int  # minor units, signed: + credit, - debit
    currency: str


@dataclass(frozen=True, slots=True)
class Statement:
    id: str
    day: date
    lines: list[Line]


@dataclass(frozen=True, slots=True)
class Report:
    statement_id: str
    day: date
    lines: int
    breaks: list[dict[str, Any]]
    imported: bool  # False: the statement was imported before, and nothing changed


# -- reading the file ---------------------------------------------------------------------------


def parse_statement(data: bytes) -> Statement:
    """The statement in ``data``, read with entities and DTDs refused (no XML bomb, no file or
    network access); :class:`StatementRefused` if it is not one camt.053 statement."""
    if len(data) > FILE_MAX_BYTES:
        raise StatementRefused(f"the file is larger than {FILE_MAX_BYTES // 2**20} MiB")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise StatementRefused(f"the file declares a DTD or entities, refused ({exc})") from exc
    except (SafeET.ParseError, LookupError, ValueError) as exc:  # LookupError: an encoding
        raise StatementRefused(f"the file is not well-formed XML ({exc})") from exc
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", "")
    if local != "Document" or not CAMT053.fullmatch(namespace):
        raise StatementRefused(
            f"not a camt.053 bank statement (the root element is {root.tag!r}; expected a "
            "Document in urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx)"
        )
    ns = {"c": namespace}
    stmts = root.findall("c:BkToCstmrStmt/c:Stmt", ns)
    if len(stmts) != 1:
        raise StatementRefused(f"expected one statement (Stmt) in the file, found {len(stmts)}")
    stmt = stmts[0]
    ident = _text(stmt, "c:Id", ns)
    day = _statement_day(stmt, ns)
    lines = [
        line
        for entry in stmt.findall("c:Ntry", ns)
        if _status(entry, ns) == "BOOK"
        for line in _lines(entry, ns)
    ]
    return Statement(ident, day, lines)


def _text(element: Element, path: str, ns: dict[str, str]) -> str:
    found = element.find(path, ns)
    if found is None or not (found.text or "").strip():
        where = path.replace("c:", "")
        raise StatementRefused(f"the statement has no {where} (in {element.tag.split('}')[-1]})")
    return (found.text or "").strip()


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise StatementRefused(f"{what} {text!r} is not a date") from exc


def _statement_day(stmt: Element, ns: dict[str, str]) -> date:
    """The closing balance's date, else the first day of the period the statement covers."""
    for bal in stmt.findall("c:Bal", ns):
        if (bal.findtext("c:Tp/c:CdOrPrtry/c:Cd", "", ns) or "").strip() == "CLBD":
            return _date(_text(bal, "c:Dt/c:Dt", ns), "the closing balance's date")
    start = stmt.findtext("c:FrToDt/c:FrDtTm", "", ns) or ""
    if start.strip():
        return _date(start.strip(), "the statement's period")
    raise StatementRefused("the statement has neither a closing balance (CLBD) nor a period")


def _status(entry: Element, ns: dict[str, str]) -> str:
    """``Sts/Cd`` (camt.053.001.08 on), or the text of ``Sts`` (earlier versions)."""
    code = entry.findtext("c:Sts/c:Cd", None, ns)
    return (code if code is not None else entry.findtext("c:Sts", "", ns) or "").strip()


def _amount(element: Element, ns: dict[str, str]) -> tuple[int, str]:
    amt = element.find("c:Amt", ns)
    if amt is None or not (amt.text or "").strip():
        raise StatementRefused("an entry has no amount (Amt)")
    code = amt.get("Ccy", "")
    try:
        value = parse_major((amt.text or "").strip(), code)
    except (ValueError, UnknownCurrency) as exc:
        raise StatementRefused(f"an entry's amount is wrong: {exc}") from exc
    indicator = (element.findtext("c:CdtDbtInd", "", ns) or "").strip()
    if indicator not in ("CRDT", "DBIT"):
        raise StatementRefused(f"an entry's CdtDbtInd is {indicator!r}, not CRDT or DBIT")
    return (value if indicator == "CRDT" else -value), code.upper()


def _lines(entry: Element, ns: dict[str, str]) -> list[Line]:
    """An entry's transactions: one for a single payment, several for a batch."""
    details = entry.findall("c:NtryDtls/c:TxDtls", ns)
    fallback = (entry.findtext("c:AcctSvcrRef", "", ns) or "").strip()
    if not details:
        return [Line(fallback, *_amount(entry, ns))]
    lines = []
    for tx in details:
        reference = (tx.findtext("c:Refs/c:EndToEndId", "", ns) or "").strip() or fallback
        source = tx if tx.find("c:Amt", ns) is not None or len(details) > 1 else entry
        lines.append(Line(reference, *_amount(source, ns)))
    return lines


# -- matching -----------------------------------------------------------------------------------


def _day_us(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp()) * 1_000_000


def _succeeded(conn: Connection, since_us: int, until_us: int) -> dict[str, Line]:
    """Instructions Saoma recorded as succeeded in [since, until): reference -> signed line."""
    bt, po = bank_transfers.c, payouts.c
    transfers = select(bt.id, bt.direction, bt.amount, bt.currency).where(
        bt.state == "succeeded", bt.updated_at_us >= since_us, bt.updated_at_us < until_us
    )
    paid = select(po.id, po.state.label("direction"), po.amount, po.currency).where(
        po.state == "succeeded", po.updated_at_us >= since_us, po.updated_at_us < until_us
    )
    rows = conn.execute(union_all(transfers, paid)).all()
    return {
        row.id: Line(row.id, row.amount if row.direction == "topup" else -row.amount, row.currency)
        for row in rows
    }


def find_breaks(
    conn: Connection, statement: Statement, booked_before: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Every break between ``statement`` and Saoma's records of its date (not stored);
    ``booked_before`` are the references on the previous day's statement."""
    start = _day_us(statement.day)
    expected = _succeeded(conn, start, start + DAY_US)
    nearby = _succeeded(conn, start - DAY_US, start + 2 * DAY_US)  # the adjacent dates too
    counts = Counter(line.reference for line in statement.lines)
    breaks: list[dict[str, Any]] = []

    def add(kind: str, reference: str, ours: Line | None, theirs: Line | None) -> None:
        breaks.append(
            {
                "kind": kind,
                "reference": reference,
                "expected": None if ours is None else ours.amount,
                "reported": None if theirs is None else theirs.amount,
            }
        )

    seen: set[str] = set()
    for line in statement.lines:
        if line.reference in seen:
            continue
        seen.add(line.reference)
        ours = nearby.get(line.reference)
        if counts[line.reference] > 1:
            add("duplicate", line.reference, ours, line)
        if ours is None:
            add("unknown", line.reference, None, line)
        elif (ours.amount, ours.currency) != (line.amount, line.currency):
            add("amount", line.reference, ours, line)
    for reference, ours in sorted(expected.items()):
        if reference not in seen and reference not in booked_before:
            add("missing", reference, ours, None)
    return breaks


# -- storing ------------------------------------------------------------------------------------


def reconcile(
    engine: Engine, data: bytes, *, file_name: str = "", previous: bytes | None = None
) -> Report:
    """Read a statement file, find its breaks and store them; a statement already imported is
    not imported again (its breaks as stored are reported). ``previous``, the bank's statement
    of the day before, if at hand, says what Saoma recorded just after midnight but the bank
    booked before. Raises :class:`StatementRefused`."""
    statement = parse_statement(data)
    before = (
        frozenset(line.reference for line in parse_statement(previous).lines)
        if previous
        else frozenset()
    )
    now = now_us()
    try:
        with write(engine) as conn:
            conn.execute(
                bank_statements.insert().values(
                    id=statement.id,
                    statement_date=statement.day.isoformat(),
                    file_name=file_name[-255:],
                    lines=len(statement.lines),
                    imported_at_us=now,
                )
            )
            found = find_breaks(conn, statement, before)
            for brk in found:
                row = {"id": new_id("brk"), "statement_id": statement.id, "state": "open"}
                conn.execute(recon_breaks.insert().values(**row, **brk, created_at_us=now))
        imported = True
    except IntegrityError:  # imported before (or right now, by another process)
        imported = False
    with read(engine) as conn:
        stored = conn.execute(
            select(bank_statements).where(bank_statements.c.id == statement.id)
        ).one()
    return Report(
        statement.id,
        date.fromisoformat(stored.statement_date),
        stored.lines,
        breaks_of(engine, statement_id=statement.id),
        imported,
    )


def reconcile_day(engine: Engine, bank: BankConnector, day: date) -> Report:
    """The scheduled run: the bank's statement of ``day`` (a UTC date; yesterday's, once the
    bank has closed it), fetched from the connector with the day before's, and reconciled."""
    return reconcile(
        engine,
        bank.statement(day),
        file_name=f"bank statement {day.isoformat()}",
        previous=bank.statement(day - timedelta(days=1)),
    )


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "statement_id": row.statement_id,
        "statement_date": row.statement_date,
        "kind": row.kind,
        "reference": row.reference,
        "expected": row.expected,
        "reported": row.reported,
        "state": row.state,
        "note": row.note,
        "created_at": rfc3339(row.created_at_us),
        "resolved_at": None if row.resolved_at_us is None else rfc3339(row.resolved_at_us),
    }


def breaks_of(
    engine: Engine,
    *,
    statement_id: str | None = None,
    state: str | None = None,
    break_id: str | None = None,
) -> list[dict[str, Any]]:
    """Breaks, oldest first: of one statement, in one state (``open``, ``resolved``), one."""
    rb = recon_breaks.c
    query = (
        select(recon_breaks, bank_statements.c.statement_date)
        .join(bank_statements, bank_statements.c.id == rb.statement_id)
        .order_by(rb.created_at_us, rb.kind, rb.reference)
    )
    if statement_id is not None:
        query = query.where(rb.statement_id == statement_id)
    if state is not None:
        query = query.where(rb.state == state)
    if break_id is not None:
        query = query.where(rb.id == break_id)
    with read(engine) as conn:
        return [_view(row) for row in conn.execute(query).all()]


def open_breaks(engine: Engine) -> list[dict[str, Any]]:
    """Every break no one has resolved yet, of every statement: reconciliation is done when
    this is empty."""
    return breaks_of(engine, state="open")


def resolve(engine: Engine, break_id: str, note: str) -> dict[str, Any]:
    """Mark an open break resolved, saying how (``note`` is required)."""
    note = note.strip()
    if not note:
        raise InvalidRequest("say how the break was resolved", field="note")
    if len(note) > NOTE_MAX:
        raise InvalidRequest(f"a note is at most {NOTE_MAX} characters", field="note")
    with write(engine) as conn:
        done = conn.execute(
            recon_breaks.update()
            .where(recon_breaks.c.id == break_id, recon_breaks.c.state == "open")
            .values(state="resolved", note=note, resolved_at_us=now_us())
        ).rowcount
    found = breaks_of(engine, break_id=break_id)
    if not found:
        raise NotFound.named("break", break_id)
    if done != 1:  # resolved before, by someone else or by this very command run twice
        raise Conflict(f"break {break_id} was already resolved: {found[0]['note']}")
    return found[0]
