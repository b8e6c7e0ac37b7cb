"""Transfers between people: to a wallet at once, or waiting for a phone or e-mail's owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import (
    CurrencyMismatch,
    InvalidRequest,
    NotFound,
    SaomaError,
    SelfTransfer,
)
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read
from saoma.ledger import Result, Transfer, TransferCode
from saoma.merchants.service import check_text
from saoma.movements import Moved, Unit
from saoma.p2p import tables as m
from saoma.p2p.consent import SendingLimit
from saoma.pagination import (
    PAGE_LIMIT_MAX,
    check_limit,
    choice,
    newest_first,
    parse_time_cursor,
    time_page_of,
)
from saoma.payments import idempotency
from saoma.payments.service import Payments, check_amount, derived_id
from saoma.payments.views import masked_name
from saoma.wallets.credentials import check_login
from saoma.wallets.service import Consumer, Wallets

WAIT_US = 24 * 3600 * 1_000_000  # unclaimed money goes back after a day
TRANSFER_STATES = ("done", "waiting", "claimed", "returned")
# What makes a transfer the same request as one made before under its Idempotency-Key (not its
# recipient: a retry looks it up again, and a phone's wallet may have claimed the money since).
SAME_TRANSFER = ("sender_id", "amount", "note")


def transfer_view(row: dict[str, Any], viewer: str | None) -> dict[str, Any]:
    """A transfer as its sender or recipient sees it (``viewer``), or as an event carries it."""
    view = {
        "id": row["id"],
        "sender_id": row["sender_id"],
        "recipient_id": row["recipient_id"],
        "amount": row["amount"],
        "currency": row["currency"],
        "note": row["note"],
        "state": row["state"],
        "created_at": rfc3339(row["created_at_us"]),
    }
    if row["state"] == "waiting":
        view["returns_at"] = rfc3339(row["expires_at_us"])
    if viewer is not None:
        view["direction"] = "out" if row["sender_id"] == viewer else "in"
    return view


def masked_login(login: str) -> str:
    """A phone or e-mail with its middle hidden (``139****7565``, ``l***@example.cn``)."""
    local, at, domain = login.partition("@")
    if at:
        return local[:1] + "***@" + domain
    return login[:-8] + "****" + login[-4:] if len(login) > 8 else "****"


class Transfers:
    def __init__(
        self,
        engine: Engine,
        payments: Payments,
        wallets: Wallets,
        limit: SendingLimit,
        escrow: int,
    ) -> None:
        self.engine = engine
        self.payments = payments
        self.wallets = wallets
        self.limit = limit
        self.escrow = escrow

    def recipient(self, sender: Consumer, to: str) -> tuple[Consumer | None, str]:
        """Who ``to`` names: a wallet, or (None, the login) when the money is to wait."""
        recipient: Consumer | None
        login = ""
        if to.startswith("c_"):
            recipient = self.wallets.get(to)
        else:
            try:
                login = check_login(to) if to else ""
            except SaomaError:
                login = ""
            if not login:
                raise InvalidRequest(
                    "to is a wallet id, a phone number or an e-mail address", field="to"
                )
            # Only a wallet that proved it owns the phone or e-mail receives at once; for
            # anyone else the money waits until the owner verifies it, or goes back in a day.
            recipient = self.wallets.verified_owner(login)
        if recipient is not None and recipient.id == sender.id:
            raise SelfTransfer("you cannot send money to yourself", field="to")
        if recipient is not None and recipient.currency != sender.currency:
            raise CurrencyMismatch("that wallet holds another currency", field="to")
        return recipient, login

    def preview(self, sender: Consumer, to: str) -> dict[str, Any]:
        """Who would get money sent to ``to``, shown before the PIN is asked: the masked name
        only (``*敏``), nothing the sender could not read on the recipient's own code.

        Nobody who has confirmed that phone or e-mail yet is a 404 naming ``to`` (the money
        would wait for its owner)."""
        try:
            recipient, _login = self.recipient(sender, (to or "").strip())
        except NotFound:  # a wallet id that names no wallet
            recipient = None
        if recipient is None:
            raise NotFound("no wallet has confirmed this phone or e-mail yet", field="to")
        name = masked_name(recipient.display_name) or masked_login(recipient.login)
        return {"to": to.strip(), "name": name}

    def send(
        self,
        sender: Consumer,
        *,
        to: str,
        amount: int,
        note: str = "",
        pin: str | None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Pay a friend by wallet id, phone or e-mail; to someone without a wallet it waits."""
        amount = check_amount(amount)
        note = check_text("note", note, 128, required=False)
        recipient, login = self.recipient(sender, to)
        authorisation = self.limit.consent(sender, amount, pin)
        now = now_us()
        seed = claim.seed if claim else new_id("x")
        row = {
            "id": new_id("tr"),
            "sender_id": sender.id,
            "recipient_id": recipient.id if recipient else None,
            "recipient_login": login if recipient is None else "",
            "amount": amount,
            "currency": sender.currency,
            "note": note,
            "state": "done" if recipient else "waiting",
            "authorisation": authorisation,
            "transfer_id": derived_id("p2p", seed),
            "expires_at_us": now + WAIT_US,
            "created_at_us": now,
        }
        return self._send_row(sender, recipient, row, claim)

    def _send_row(
        self,
        sender: Consumer,
        recipient: Consumer | None,
        row: dict[str, Any],
        claim: idempotency.Claim | None,
    ) -> dict[str, Any]:
        credit = recipient.account_id if recipient else self.escrow
        move = Transfer(
            row["transfer_id"],
            sender.account_id,
            credit,
            row["amount"],
            TransferCode.TRANSFER,
            ref=row["id"],
        )
        view = transfer_view(row, sender.id)

        def record(unit: Unit) -> None:
            self.limit.take(unit, sender, row["amount"])
            unit.insert(m.p2p_transfers, row)
            data = transfer_view(row, None)
            at = row["created_at_us"]
            unit.emit(
                "transfer.sent", subject=row["id"], data=data, at_us=at, consumer_id=sender.id
            )
            if recipient is not None:
                unit.emit(
                    "transfer.received",
                    subject=row["id"],
                    data=data,
                    at_us=at,
                    consumer_id=recipient.id,
                )
            idempotency.finish_in(unit, claim, 201, view)

        moved = self.payments.movements.move([move], record)
        if isinstance(moved, Moved):
            return view
        # Sent before under this key (asked again after the key was purged, the row's id is
        # another, so the ledger finds other details under the key's transfer id).
        if moved.results[0] in (Result.EXISTS, Result.EXISTS_WITH_DIFFERENT_FIELDS):
            with read(self.engine) as conn:
                stored = conn.execute(
                    select(m.p2p_transfers).where(
                        m.p2p_transfers.c.transfer_id == row["transfer_id"]
                    )
                ).first()
            if stored is not None:
                idempotency.same_request(stored, row, SAME_TRANSFER)
                return transfer_view(dict(stored._mapping), sender.id)
        raise moved.problem()

    def transfers_of(
        self,
        consumer: Consumer,
        *,
        cursor: str | None = None,
        limit: int = PAGE_LIMIT_MAX,
        direction: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of the money the consumer sent to people and received from them, newest first.

        Sent and received are read apart, each along its own index, and merged.
        """
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        direction = choice(direction, "direction", ("in", "out"))
        state = choice(state, "state", TRANSFER_STATES)
        t = m.p2p_transfers.c
        sides = {"out": t.sender_id, "in": t.recipient_id}
        rows: dict[str, Any] = {}
        with read(self.engine) as conn:
            for side, column in sides.items():
                if direction not in (None, side):
                    continue
                query = select(m.p2p_transfers).where(column == consumer.id)
                if state is not None:
                    query = query.where(t.state == state)
                query = newest_first(query, t.created_at_us, t.id, after, limit)
                rows.update((r.id, r) for r in conn.execute(query))
        merged = sorted(rows.values(), key=lambda r: (r.created_at_us, r.id), reverse=True)
        page, next_cursor = time_page_of(merged[: limit + 1], limit)
        data = [transfer_view(dict(r._mapping), consumer.id) for r in page]
        return {"data": data, "next_cursor": next_cursor}
