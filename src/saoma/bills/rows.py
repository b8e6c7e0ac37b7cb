"""Bill rows: a ledger transfer of the wallet, named from the business row it was made for.

Each row says what happened (``kind``), which way the money went (``direction``: ``out`` and
``in`` change the balance; ``none`` only reserves or frees money, as a hold does), how much moved,
with whom (``name``: the merchant's name, or another person's masked name) and how it stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from saoma.core.ids import rfc3339
from saoma.funding import tables as ft
from saoma.ledger import HoldState
from saoma.ledger import TransferCode as C
from saoma.mandates import tables as mdt
from saoma.merchants import tables as mt
from saoma.operators.people import mask
from saoma.p2p import tables as pt
from saoma.payments import tables as m
from saoma.payments.views import masked_name
from saoma.wallets import tables as wt
from saoma.wallets.service import Consumer

HOLD_STATES = {
    HoldState.PENDING: "held",
    HoldState.POSTED: "captured",
    HoldState.VOIDED: "released",
    HoldState.EXPIRED: "expired",
}
WITHDRAWAL_STATES = {
    HoldState.PENDING: "pending",
    HoldState.POSTED: "done",
    HoldState.VOIDED: "failed",
    HoldState.EXPIRED: "failed",
}


class Found:
    """The business rows behind a page of transfers, read in one query per table."""

    def __init__(self, conn: Connection, transfers: Sequence[Any]) -> None:
        refs = {t.ref for t in transfers} | {t.pending_ref for t in transfers if t.pending_ref}
        paid = [t.id for t in transfers if t.code in (C.PAYMENT, C.CAPTURE)]
        self.payments = _by(conn, m.payments, m.payments.c.transfer_id, paid, "transfer_id")
        refunded = [t.ref for t in transfers if t.code == C.REFUND]
        self.payments |= _by(conn, m.payments, m.payments.c.id, refunded, "id")
        self.holds = _by(conn, m.preauths, m.preauths.c.id, refs)
        self.p2p = _by(conn, pt.p2p_transfers, pt.p2p_transfers.c.id, refs)
        self.packets = _by(conn, pt.red_packets, pt.red_packets.c.id, refs)
        self.bank = _by(conn, ft.bank_transfers, ft.bank_transfers.c.id, refs)
        merchant_ids = {r.merchant_id for r in [*self.payments.values(), *self.holds.values()]}
        self.merchants = _by(conn, mt.merchants, mt.merchants.c.id, merchant_ids)
        self.mandates = _mandates(
            conn, [p.id for p in self.payments.values() if p.kind == "mandate"]
        )
        people = {r.sender_id for r in [*self.p2p.values(), *self.packets.values()]}
        people |= {r.recipient_id for r in self.p2p.values() if r.recipient_id}
        self.people = _by(conn, wt.consumers, wt.consumers.c.id, people)

    def person(self, consumer_id: str | None) -> str:
        """Another person as the wallet shows them: the name masked (``*敏``), else the login."""
        row = self.people.get(consumer_id or "")
        if row is None:
            return ""
        return masked_name(row.display_name) or mask(row.login)

    def merchant(self, merchant_id: str) -> tuple[str, str]:
        row = self.merchants.get(merchant_id)
        return (row.name, row.name_zh) if row is not None else ("", "")


def _by(conn: Connection, table: Any, column: Any, keys: Iterable[str], key: str = "id") -> Any:
    keys = sorted({k for k in keys if k})
    if not keys:
        return {}
    return {getattr(r, key): r for r in conn.execute(select(table).where(column.in_(keys)))}


def _mandates(conn: Connection, payment_ids: list[str]) -> dict[str, Any]:
    """The mandate each mandate debit rests on, by payment id."""
    if not payment_ids:
        return {}
    d, m = mdt.mandate_debits.c, mdt.mandates.c
    query = (
        select(d.payment_id, m.id, m.purpose)
        .join(mdt.mandates, m.id == d.mandate_id)
        .where(d.payment_id.in_(sorted(payment_ids)))
    )
    return {r.payment_id: r for r in conn.execute(query)}


def rows(conn: Connection, consumer: Consumer, transfers: Sequence[Any]) -> list[dict[str, Any]]:
    found = Found(conn, transfers)
    return [row(t, t.debit_account_id == consumer.account_id, consumer, found) for t in transfers]


def row(t: Any, out: bool, consumer: Consumer, found: Found) -> dict[str, Any]:
    """One transfer as a bill row."""
    view: dict[str, Any] = {
        "id": t.id,
        "kind": "",
        "direction": "out" if out else "in",
        "amount": t.amount,
        "currency": consumer.currency,
        "name": "",
        "name_zh": "",
        "note": "",
        "state": "done",
        "reference": t.ref,
        "payment_id": "",
        "discount": 0,
        "held": 0,
        "greeting": "",
        "bank_reference": "",
        "expires_at": None,
        "created_at": rfc3339(t.created_at_us),
        "mandate_id": None,
        "mandate_purpose": "",
    }
    code = t.code
    if code in (C.PAYMENT, C.CAPTURE, C.REFUND):
        _payment(view, t, found)
    elif code in (C.HOLD, C.RELEASE, C.EXPIRY):
        _hold(view, t, found)
    elif code == C.TRANSFER:
        _transfer(view, t, out, consumer, found)
    elif code == C.RED_PACKET:
        _packet(view, t, out, found)
    else:
        _bank(view, t, found)
    return view


def _payment(view: dict[str, Any], t: Any, found: Found) -> None:
    p = found.payments.get(t.id if t.code != C.REFUND else t.ref)
    view["kind"] = {C.PAYMENT: "payment", C.CAPTURE: "capture", C.REFUND: "refund"}[t.code]
    if t.code == C.CAPTURE:
        view["held"] = t.pending_amount or 0
        view["reference"] = t.pending_ref or t.ref
    if p is None:
        return
    view["name"], view["name_zh"] = found.merchant(p.merchant_id)
    view["payment_id"] = p.id
    mandate = found.mandates.get(p.id)
    if mandate is not None:  # a debit under a mandate, or its refund: the mandate it rests on
        view["mandate_id"], view["mandate_purpose"] = mandate.id, mandate.purpose
    if t.code == C.REFUND:
        return
    view["discount"] = p.subsidy
    # A payment code's note is the merchant's order number: internal, not the payer's words.
    view["note"] = "" if p.kind == "paycode" else p.note
    if p.refunded:
        view["state"] = "refunded" if p.refunded >= p.amount else "partly_refunded"


def _hold(view: dict[str, Any], t: Any, found: Found) -> None:
    view["direction"] = "none"  # reserved or freed: the balance itself does not change
    hold_id = t.ref if t.code == C.HOLD else (t.pending_ref or t.ref)
    view["reference"] = hold_id
    if t.code == C.HOLD:
        view["kind"] = "hold"
        view["state"] = HOLD_STATES.get(t.hold_state, "held")
    else:
        view["kind"] = "release"
        view["state"] = "expired" if t.code == C.EXPIRY else "released"
    h = found.holds.get(hold_id)
    if h is None:
        return
    view["name"], view["name_zh"] = found.merchant(h.merchant_id)
    view["note"] = h.description
    view["held"] = h.amount
    view["expires_at"] = rfc3339(h.expires_at_us)


def _transfer(view: dict[str, Any], t: Any, out: bool, consumer: Consumer, found: Found) -> None:
    p = found.p2p.get(t.ref)
    if p is None:
        view["kind"] = "transfer_out" if out else "transfer_in"
        return
    view["note"] = p.note
    returned = not out and p.sender_id == consumer.id
    if out or returned:
        view["kind"] = "transfer_returned" if returned else "transfer_out"
        view["name"] = found.person(p.recipient_id) or mask(p.recipient_login)
        view["state"] = {"done": "done", "claimed": "done"}.get(p.state, p.state)
        if p.state == "waiting":
            view["expires_at"] = rfc3339(p.expires_at_us)
    else:
        view["kind"] = "transfer_in"
        view["name"] = found.person(p.sender_id)


def _packet(view: dict[str, Any], t: Any, out: bool, found: Found) -> None:
    p = found.packets.get(t.ref)
    returned = not out and t.id.startswith("rpr:")
    view["kind"] = (
        "red_packet_sent" if out else ("red_packet_returned" if returned else "red_packet_claimed")
    )
    if p is None:
        return
    view["greeting"] = p.greeting
    if not out and not returned:
        view["name"] = found.person(p.sender_id)
    if out:
        view["state"] = p.state
        view["expires_at"] = rfc3339(p.expires_at_us)


def _bank(view: dict[str, Any], t: Any, found: Found) -> None:
    b = found.bank.get(t.ref)
    if t.code == C.TOP_UP:
        view["kind"] = "top_up"
    else:
        view["kind"] = "withdrawal"
        if t.hold_state is not None:  # the bank's answer resolved this hold
            view["state"] = WITHDRAWAL_STATES.get(t.hold_state, "pending")
            if view["state"] == "failed":
                view["direction"] = "none"  # the money stayed in the wallet
    if b is not None:
        view["bank_reference"] = b.bank_reference
