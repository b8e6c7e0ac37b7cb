"""Proof that no consumer wallet was debited without its owner's authorisation.

Every transfer that debits a consumer wallet must trace back to a consent by the payer, and the
consent must be one the rules in force allowed:

- a debit confirmed with the PIN says ``pin:<check id>``: that check is recorded (``pin_checks``),
  for the same wallet, no later than the debit, and no other debit rests on it. A bare ``pin``
  (written before migration 0008) is accepted only for debits made before that migration;
- a debit without the PIN (``no_pin_limit:...``, a payment-code charge) is within the limits the
  payer had set at that moment (``no_pin_limit_changes``; none recorded means none allowed): at
  most the per-payment limit, and, counted per wallet and calendar day (in the zone the server
  runs the allowance in, SAOMA_TIMEZONE), never beyond the daily one;
- transfers to people and red packets always rest on the PIN (before migration 0008 they could go
  under the no-PIN limit: they are then counted in its daily allowance);
- a hold the payer consented to (the pending transfer, itself resting on a PIN check), and the
  capture posting it; a withdrawal (a pending transfer, then its post);
- a debit under a mandate (``mandate:<debit id>``) fit the mandate the payer agreed to with the
  PIN and a notice sent a day before it (:mod:`saoma.mandates.proof`).

Voids and expiries give money back and need no consent, and so do refunds: a merchant's refund
and a dispute refunded or decided for the payer debit the merchant and credit the wallet (a
frozen wallet still receives them), so no wallet debit comes of them. And no new debit (a
payment, a hold, a transfer, a red packet, a withdrawal) is ever made while the wallet is frozen:
the movement's own check refuses it (:mod:`saoma.freezes.guard`), so one recorded during a freeze
is a problem whatever its consent.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from saoma.freezes import tables as freeze_tables
from saoma.funding import tables as funding_tables
from saoma.ledger.domain import AccountKind, TransferCode, TransferFlags
from saoma.ledger.tables import accounts, transfers
from saoma.mandates.proof import MandateProof
from saoma.p2p import tables as p2p
from saoma.payments import tables as payment_tables
from saoma.wallets import tables as wm
from saoma.wallets.service import NO_PIN_ZONE_DEFAULT, day_of


@dataclass(frozen=True, slots=True)
class Consent:
    """What a debit's own record says about it."""

    what: str  # "payment pay_…", "transfer tr_…", "red packet rp_…", "hold ha_…"
    consumer_id: str
    amount: int
    authorisation: str
    at_us: int
    to_person: bool = False


@dataclass
class _Limits:
    """A wallet's no-PIN limits over time: (since, per payment, per day), oldest first."""

    since: list[int]
    values: list[tuple[int, int]]

    def at(self, at_us: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.since, at_us)
        return self.values[i - 1] if i else (0, 0)


def _consents(conn: Connection) -> tuple[dict[str, Consent], dict[str, Consent]]:
    """Debit records by ledger transfer id: the plain debits, and the consented holds."""
    records: dict[str, Consent] = {}
    p = payment_tables.payments.c
    for r in conn.execute(
        select(
            p.id,
            p.transfer_id,
            p.consumer_id,
            p.amount,
            p.subsidy,
            p.authorisation,
            p.created_at_us,
        )
    ):
        paid = r.amount - (r.subsidy or 0)  # what left the wallet; a campaign paid the rest
        records[r.transfer_id] = Consent(
            f"payment {r.id}", r.consumer_id, paid, r.authorisation, r.created_at_us
        )
    for table, name in ((p2p.p2p_transfers, "transfer"), (p2p.red_packets, "red packet")):
        c = table.c
        for r in conn.execute(
            select(c.id, c.transfer_id, c.sender_id, c.amount, c.authorisation, c.created_at_us)
        ):
            records[r.transfer_id] = Consent(
                f"{name} {r.id}",
                r.sender_id,
                r.amount,
                r.authorisation,
                r.created_at_us,
                to_person=True,
            )
    h = payment_tables.hold_consents.c
    holds = {
        r.transfer_id: Consent(
            f"hold {r.preauth_id}", r.consumer_id, 0, r.authorisation, r.created_at_us
        )
        for r in conn.execute(
            select(h.preauth_id, h.transfer_id, h.consumer_id, h.authorisation, h.created_at_us)
        )
    }
    return records, holds


def _limits(conn: Connection) -> dict[str, _Limits]:
    c = wm.no_pin_limit_changes.c
    out: dict[str, _Limits] = defaultdict(lambda: _Limits([], []))
    for r in conn.execute(
        select(c.consumer_id, c.per_payment, c.per_day, c.changed_at_us).order_by(
            c.consumer_id, c.changed_at_us, c.seq
        )
    ):
        limits = out[r.consumer_id]
        limits.since.append(r.changed_at_us)
        limits.values.append((r.per_payment, r.per_day))
    return out


class _Proof:
    def __init__(self, conn: Connection, tz: ZoneInfo) -> None:
        c = wm.pin_checks.c
        self.checks = {
            r.id: (r.consumer_id, r.checked_at_us)
            for r in conn.execute(select(c.id, c.consumer_id, c.checked_at_us))
        }
        self.mandates = MandateProof(conn, self.checks, tz)
        since = conn.execute(
            select(wm.consent_rules.c.since_us).where(wm.consent_rules.c.rule == "pin-checks")
        ).scalar()
        self.rules_since_us = int(since) if since is not None else 0
        self.used: dict[str, str] = {}

    def pin(self, transfer_id: str, record: Consent) -> str | None:
        """Why a PIN authorisation is not proven, or None when it is."""
        auth = record.authorisation
        if auth == "pin":
            if record.at_us < self.rules_since_us:
                return None
            return "says it was confirmed with the PIN, but no PIN check is recorded"
        check_id = auth.removeprefix("pin:")
        check = self.checks.get(check_id)
        if check is None:
            return f"rests on PIN check {check_id!r}, which is not recorded"
        if check[0] != record.consumer_id:
            return f"rests on PIN check {check_id!r}, made by another wallet"
        if check[1] > record.at_us:
            return f"rests on PIN check {check_id!r}, made after the debit"
        first = self.used.setdefault(check_id, transfer_id)
        if first != transfer_id:
            return f"rests on PIN check {check_id!r}, already used by transfer {first!r}"
        return None


def check_authorisations(engine: Engine, *, tz: ZoneInfo | None = None) -> list[str]:
    """Every wallet debit the rules did not allow, as a sentence naming the transfer."""
    tz = tz or ZoneInfo(NO_PIN_ZONE_DEFAULT)
    with engine.connect() as conn:
        debits = conn.execute(
            select(
                transfers.c.id,
                transfers.c.flags,
                transfers.c.code,
                transfers.c.pending_id,
                transfers.c.ref,
                transfers.c.debit_account_id,
                transfers.c.seq,
            )
            .join(accounts, accounts.c.id == transfers.c.debit_account_id)
            .where(accounts.c.kind == AccountKind.CONSUMER_WALLET.value)
            .order_by(transfers.c.seq)
        ).all()
        records, holds = _consents(conn)
        bank = funding_tables.bank_transfers
        withdrawals = set(
            conn.execute(select(bank.c.id).where(bank.c.direction == "withdraw")).scalars()
        )
        wallets = {
            r.account_id: r.id
            for r in conn.execute(select(wm.consumers.c.account_id, wm.consumers.c.id))
        }
        limits = _limits(conn)
        proof = _Proof(conn, tz)
        frozen = _frozen(conn)
    problems = _debits_while_frozen(debits, frozen, wallets, withdrawals)
    authorised_pending: set[str] = set()
    no_pin: list[tuple[str, Consent]] = []
    for t in debits:
        owner = wallets.get(t.debit_account_id, f"account {t.debit_account_id}")
        if t.flags & TransferFlags.VOID_PENDING:
            continue
        if t.flags & TransferFlags.POST_PENDING:
            if t.pending_id not in authorised_pending:
                problems.append(
                    f"transfer {t.id!r} posts a hold on the wallet of {owner} that was not "
                    "authorised"
                )
            continue
        pending = bool(t.flags & TransferFlags.PENDING)
        if t.code == TransferCode.WITHDRAWAL and t.ref in withdrawals:
            # The consumer asked for this withdrawal: its hold, or, when the bank paid it after
            # Saoma had given up and released the hold, the debit booked on that late answer.
            if pending:
                authorised_pending.add(t.id)
            continue
        record = holds.get(t.id) if pending else records.get(t.id)
        if record is None:
            problems.append(f"transfer {t.id!r} debits the wallet of {owner} with no authorisation")
            continue
        if record.consumer_id != owner:
            why: str | None = f"is recorded for {record.consumer_id} but debits {owner}'s wallet"
        else:
            why = _why_not(t.id, record, owner, proof, no_pin)
        if why is not None:
            problems.append(f"transfer {t.id!r} ({record.what}) {why}")
        elif pending:
            authorised_pending.add(t.id)
    problems.extend(_over_allowance(no_pin, limits, tz))
    problems.extend(proof.mandates.after_revocation())
    return problems


def _frozen(conn: Connection) -> dict[int, list[tuple[int, int, str]]]:
    """Each wallet's freezes: (after seq, up to seq or none, freeze id) by ledger account."""
    c = freeze_tables.freezes.c
    out: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    query = select(c.account_id, c.since_seq, c.until_seq, c.lifted_at_us, c.id).where(
        c.subject_kind == "consumer"
    )
    for r in conn.execute(query):
        until = r.until_seq if r.lifted_at_us else 2**63 - 1
        out[r.account_id].append((r.since_seq, until, r.id))
    return out


def _debits_while_frozen(
    debits: Sequence[Any],
    frozen: dict[int, list[tuple[int, int, str]]],
    wallets: dict[int, str],
    withdrawals: set[str],
) -> list[str]:
    """The new debits of a wallet while it was frozen: not the post or void of an earlier hold,
    nor the booking of a withdrawal the bank paid after Saoma gave up on it (asked before)."""
    problems: list[str] = []
    resolves = TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING
    for t in debits:
        late = t.code == TransferCode.WITHDRAWAL and not t.flags & TransferFlags.PENDING
        if late and t.ref in withdrawals:
            continue
        for since, until, freeze_id in frozen.get(t.debit_account_id, ()):
            if since < t.seq <= until and not t.flags & resolves:
                owner = wallets.get(t.debit_account_id, f"account {t.debit_account_id}")
                problems.append(
                    f"transfer {t.id!r} debits the wallet of {owner} while it was frozen"
                    f" ({freeze_id})"
                )
    return problems


def _why_not(
    transfer_id: str, record: Consent, owner: str, proof: _Proof, no_pin: list[tuple[str, Consent]]
) -> str | None:
    """Why this debit's consent is not proven (None when it is); no-PIN debits are set aside
    in ``no_pin`` to be summed per day."""
    auth = record.authorisation
    if auth == "pin" or auth.startswith("pin:"):
        return proof.pin(transfer_id, record)
    if auth.startswith("mandate:"):
        args = (record.what, record.consumer_id, record.amount, record.at_us, auth)
        return proof.mandates.why_not(*args)
    if auth.startswith("no_pin_limit") and not record.what.startswith("hold"):
        if record.to_person and record.at_us >= proof.rules_since_us:
            return f"sent money from the wallet of {owner} to a person without the PIN"
        no_pin.append((transfer_id, record))
        return None
    return f"debits the wallet of {owner} on an authorisation it cannot rest on ({auth!r})"


def _over_allowance(
    no_pin: list[tuple[str, Consent]], limits: dict[str, _Limits], tz: ZoneInfo
) -> list[str]:
    """Per wallet and day, the no-PIN debits beyond the limits in force when each was made."""
    problems = []
    spent: dict[tuple[str, int], int] = defaultdict(int)
    for transfer_id, record in sorted(no_pin, key=lambda item: item[1].at_us):
        day = day_of(record.at_us, tz)
        spent[record.consumer_id, day] += record.amount
        per_payment, per_day = limits[record.consumer_id].at(record.at_us)
        total = spent[record.consumer_id, day]
        if record.amount > per_payment or total > per_day:
            problems.append(
                f"transfer {transfer_id!r} ({record.what}) took {record.amount} from the wallet "
                f"of {record.consumer_id} without the PIN beyond its allowance: {total} without "
                f"the PIN on {day}, where {per_payment} a payment and {per_day} a day were allowed"
            )
    return problems
