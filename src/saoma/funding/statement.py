"""A bank's end-of-day statement as ISO 20022 camt.053.001.08, and the sandbox's faults in it.

The sandbox bank writes one for the platform's account from the entries it booked: each booked
instruction is an ``Ntry`` (``CRDT`` for a collection, ``DBIT`` for a payout) whose
``AcctSvcrRef`` is the bank's reference and whose ``EndToEndId`` is Saoma's instruction id.
Only writing happens here; a statement is read by :mod:`saoma.settlement.reconcile`.

The sandbox can break a statement on request, as real ones sometimes are, and always the same
way: ``missing`` drops a line, ``amount`` makes one a cent more, ``duplicate`` books one twice
(each of these takes its own line, the oldest first) and ``unknown`` adds a credit that no
instruction of Saoma's asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

# Only builds documents: statements are parsed with defusedxml (saoma.settlement.reconcile).
from xml.etree import ElementTree as ET  # nosec B405

from saoma.core.money import format_minor

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
FAULTS = ("missing", "amount", "duplicate", "unknown")
ACCOUNT = "SBX00000000000001"  # the platform's account at the sandbox bank
UNKNOWN_AMOUNT = 12_345


@dataclass(frozen=True, slots=True)
class Booked:
    """One entry on the platform's account."""

    reference: str  # Saoma's instruction id: the EndToEndId
    bank_reference: str  # the bank's own: the AcctSvcrRef
    amount: int  # minor units, signed: + a credit (money in), - a debit (money out)
    currency: str
    booked_at: datetime  # UTC

    @property
    def day(self) -> date:
        return self.booked_at.astimezone(UTC).date()


def statement_id(day: date, faults: Sequence[str] = ()) -> str:
    """The statement's ``Stmt/Id``: one per day (the sandbox's broken versions are others)."""
    base = f"SBX-{ACCOUNT[-4:]}-{day:%Y%m%d}"
    return "-".join([base, *(f.upper() for f in FAULTS if f in faults)])


def check_faults(faults: Sequence[str]) -> tuple[str, ...]:
    wrong = [f for f in faults if f not in FAULTS]
    if wrong:
        raise ValueError(f"unknown fault {wrong[0]!r} (one of {', '.join(FAULTS)})")
    return tuple(f for f in FAULTS if f in faults)


def with_faults(lines: list[Booked], day: date, faults: Sequence[str]) -> list[Booked]:
    """``lines`` broken as ``faults`` say; each fault but ``unknown`` takes a line of its own."""
    faults = check_faults(faults)
    needing = [f for f in faults if f != "unknown"]
    if len(needing) > len(lines):
        raise ValueError(
            f"the statement of {day} has {len(lines)} line(s): too few for {', '.join(needing)}"
        )
    out = list(lines)
    for line, fault in zip(lines, needing, strict=False):
        at = out.index(line)
        if fault == "missing":
            del out[at]
        elif fault == "amount":
            out[at] = replace(line, amount=line.amount + (1 if line.amount > 0 else -1))
        else:  # duplicate
            out.insert(at + 1, line)
    if "unknown" in faults:
        digest = hashlib.blake2b(day.isoformat().encode(), digest_size=6).hexdigest()
        currency = lines[0].currency if lines else "CNY"
        noon = datetime.combine(day, time(12), tzinfo=UTC)
        out.append(Booked(f"ext_{digest}", f"SBXX{digest.upper()}", UNKNOWN_AMOUNT, currency, noon))
    return out


def _sub(parent: ET.Element, path: str, text: str | None = None, **attrib: str) -> ET.Element:
    """A new element at ``path`` ("A/B/C") under ``parent`` (reusing A and B if there), given
    ``text``."""
    *above, name = path.split("/")
    for step in above:
        found = parent.find(step)
        parent = ET.SubElement(parent, step) if found is None else found
    element = ET.SubElement(parent, name)
    element.attrib.update(attrib)
    if text is not None:
        element.text = text
    return element


def _amount(parent: ET.Element, amount: int, currency: str) -> None:
    _sub(parent, "Amt", format_minor(abs(amount), currency), Ccy=currency)
    _sub(parent, "CdtDbtInd", "DBIT" if amount < 0 else "CRDT")


def _balance(stmt: ET.Element, code: str, amount: int, currency: str, day: date) -> None:
    bal = _sub(stmt, "Bal")
    _sub(bal, "Tp/CdOrPrtry/Cd", code)
    _amount(bal, amount, currency)
    _sub(bal, "Dt/Dt", day.isoformat())


def _entry(stmt: ET.Element, line: Booked) -> None:
    ntry = _sub(stmt, "Ntry")
    _amount(ntry, line.amount, line.currency)
    _sub(ntry, "Sts/Cd", "BOOK")
    _sub(ntry, "BookgDt/Dt", line.day.isoformat())
    _sub(ntry, "ValDt/DtTm", line.booked_at.astimezone(UTC).isoformat(timespec="seconds"))
    _sub(ntry, "AcctSvcrRef", line.bank_reference)
    domain = _sub(ntry, "BkTxCd/Domn")
    _sub(domain, "Cd", "PMNT")
    _sub(domain, "Fmly/Cd", "RCDT" if line.amount > 0 else "ICDT")
    _sub(domain, "Fmly/SubFmlyCd", "DMCT")
    tx = _sub(ntry, "NtryDtls/TxDtls")
    _sub(tx, "Refs/AcctSvcrRef", line.bank_reference)
    _sub(tx, "Refs/EndToEndId", line.reference)
    _amount(tx, line.amount, line.currency)


def camt053(
    journal: Sequence[Booked], day: date, *, faults: Sequence[str] = (), now: datetime | None = None
) -> bytes:
    """The statement of ``day`` (UTC booking date) from every entry in ``journal``."""
    faults = check_faults(faults)
    lines = sorted((b for b in journal if b.day == day), key=lambda b: b.booked_at)
    lines = with_faults(lines, day, faults)
    currency = lines[0].currency if lines else "CNY"
    opening = sum(b.amount for b in journal if b.day < day and b.currency == currency)
    closing = opening + sum(b.amount for b in lines if b.currency == currency)
    created = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    ident = statement_id(day, faults)

    document = ET.Element("Document", xmlns=NAMESPACE)  # the default namespace of every element
    root = _sub(document, "BkToCstmrStmt")
    _sub(root, "GrpHdr/MsgId", "MSG-" + ident)
    _sub(root, "GrpHdr/CreDtTm", created)
    stmt = _sub(root, "Stmt")
    _sub(stmt, "Id", ident)
    _sub(stmt, "ElctrncSeqNb", f"{day:%Y%m%d}")
    _sub(stmt, "CreDtTm", created)
    start = datetime.combine(day, time(0), tzinfo=UTC)
    _sub(stmt, "FrToDt/FrDtTm", start.isoformat())
    _sub(stmt, "FrToDt/ToDtTm", (start + timedelta(days=1, seconds=-1)).isoformat())
    _sub(stmt, "Acct/Id/Othr/Id", ACCOUNT)
    _sub(stmt, "Acct/Ccy", currency)
    _balance(stmt, "OPBD", opening, currency, day - timedelta(days=1))
    _balance(stmt, "CLBD", closing, currency, day)
    for line in lines:
        _entry(stmt, line)
    ET.indent(document)
    return bytes(ET.tostring(document, encoding="utf-8", xml_declaration=True))
