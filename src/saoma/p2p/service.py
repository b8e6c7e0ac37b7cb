"""Transfers between people and red packets, through the ledger like every other movement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.db import read, write
from saoma.ledger import Account, AccountFlags, AccountKind, Result, Transfer, TransferCode
from saoma.ledger.domain import AccountResult
from saoma.ledger.tx import Tx
from saoma.merchants.service import check_text
from saoma.p2p import models as m
from saoma.p2p.rules import equal_shares, random_shares
from saoma.pagination import (
    PAGE_LIMIT_MAX,
    check_limit,
    choice,
    newest_first,
    parse_time_cursor,
    time_page_of,
)
from saoma.payments import idempotency
from saoma.payments import models as pm
from saoma.payments.ids import new_account_id, new_id, now_us
from saoma.payments.service import Payments, _insert, check_amount, derived_id
from saoma.problems import Problem, invalid, not_found
from saoma.wallets.service import Consumer, Wallets, check_login, day_of
from saoma.webhooks.outbox import emit_in, rfc3339

WAIT_US = 24 * 3600 * 1_000_000  # unclaimed money goes back after a day
DAILY_LIMIT = 2_000_000  # ¥20,000 a day (in SAOMA_TIMEZONE) sent to people, transfers and packets
PACKET_SHARES_MAX = 1_000
PACKET_AMOUNT_MAX = 2_000_000
DAY_US = 24 * 3600 * 1_000_000
TRANSFER_STATES = ("done", "waiting", "claimed", "returned")


def escrow_account_id(payments: Payments) -> int:
    """Where money for someone without a wallet yet waits: slot 3 of the platform's accounts."""
    return payments.fees_account + 2


class People:
    def __init__(self, engine: Engine, payments: Payments, wallets: Wallets) -> None:
        self.engine = engine
        self.payments = payments
        self.wallets = wallets
        self.ledger = payments.ledger
        self.escrow = escrow_account_id(payments)

    def ensure_accounts(self) -> None:
        self.ledger.create_accounts(
            [
                Account(
                    self.escrow,
                    self.payments.currency,
                    AccountKind.SUSPENSE,
                    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                )
            ]
        )

    # --- limits and consent ----------------------------------------------------------------------

    def _sent_today(self, sender: Consumer) -> int:
        """What the sender has sent to people today (a first look; ``_take_from_daily_limit``
        decides, inside the transfer's transaction)."""
        c = pm.consumers.c
        with read(self.engine) as conn:
            row = conn.execute(select(c.p2p_day, c.p2p_sent).where(c.id == sender.id)).one()
        return int(row.p2p_sent) if row.p2p_day == day_of(now_us(), self.wallets.tz) else 0

    def _take_from_daily_limit(self, tx: Tx, sender: Consumer, amount: int) -> None:
        """Count ``amount`` against today's limit for money sent to people, with ONE conditional
        UPDATE in the transaction that moves it: racing transfers never send more than it."""
        day = day_of(now_us(), self.wallets.tz)
        taken = tx.execute(
            "UPDATE consumers SET"
            " p2p_sent = CASE WHEN p2p_day = :day THEN p2p_sent + :amount ELSE :amount END,"
            " p2p_day = :day"
            " WHERE id = :id"
            " AND CASE WHEN p2p_day = :day THEN p2p_sent ELSE 0 END + :amount <= :limit",
            {"id": sender.id, "amount": amount, "day": day, "limit": DAILY_LIMIT},
        )
        if taken.rowcount != 1:
            raise Problem(
                "daily-limit",
                422,
                "that would go past today's limit for sending money",
                field="amount",
            )

    def _consent(self, sender: Consumer, amount: int, pin: str | None) -> str:
        left = DAILY_LIMIT - self._sent_today(sender)
        if amount > left:
            raise Problem(
                "daily-limit",
                422,
                f"you can send {max(left, 0)} more today",
                field="amount",
                remaining=max(left, 0),
            )
        # Money to people always needs the PIN, whatever the no-PIN limit (as Alipay and
        # WeChat Pay do): that limit is for paying merchants at a till.
        if pin is None:
            raise Problem("pin-required", 401, "confirm with your PIN", field="pin")
        return "pin:" + self.wallets.verify_pin(sender.id, pin)

    # --- transfers -------------------------------------------------------------------------------

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
        recipient: Consumer | None
        login = ""
        if to.startswith("c_"):
            recipient = self.wallets.get(to)
        else:
            try:
                login = check_login(to) if to else ""
            except Problem:
                login = ""
            if not login:
                raise invalid("to", "to is a wallet id, a phone number or an e-mail address")
            # Only a wallet that proved it owns the phone or e-mail receives at once; for
            # anyone else the money waits until the owner verifies it, or goes back in a day.
            recipient = self.wallets.verified_owner(login)
        if recipient is not None and recipient.id == sender.id:
            raise Problem("self-transfer", 422, "you cannot send money to yourself", field="to")
        if recipient is not None and recipient.currency != sender.currency:
            raise Problem(
                "currency-mismatch", 422, "that wallet holds another currency", field="to"
            )
        authorisation = self._consent(sender, amount, pin)
        now = now_us()
        seed = f"{claim.scope}\x1f{claim.key}" if claim else new_id("x")
        transfer_id = derived_id("p2p", seed)
        tr_id = new_id("tr")
        row = {
            "id": tr_id,
            "sender_id": sender.id,
            "recipient_id": recipient.id if recipient else None,
            "recipient_login": login if recipient is None else "",
            "amount": amount,
            "currency": sender.currency,
            "note": note,
            "state": "done" if recipient else "waiting",
            "authorisation": authorisation,
            "transfer_id": transfer_id,
            "expires_at_us": now + WAIT_US,
            "created_at_us": now,
        }
        credit = recipient.account_id if recipient else self.escrow
        move = Transfer(
            transfer_id, sender.account_id, credit, amount, TransferCode.TRANSFER, ref=tr_id
        )
        view = self.transfer_view(row, sender.id)
        events: list[str] = []

        def record(tx: Tx) -> None:
            self._take_from_daily_limit(tx, sender, amount)
            _insert(tx, "p2p_transfers", row)
            data = self.transfer_view(row, None)
            events.append(
                emit_in(
                    tx,
                    "transfer.sent",
                    subject=tr_id,
                    data=data,
                    at_us=now,
                    consumer_id=sender.id,
                )
            )
            if recipient is not None:
                events.append(
                    emit_in(
                        tx,
                        "transfer.received",
                        subject=tr_id,
                        data=data,
                        at_us=now,
                        consumer_id=recipient.id,
                    )
                )
            idempotency.finish_in(tx, claim, 201, view)

        results, sent = self.payments._move([move], record)
        if sent.wrote:
            self.payments._events_committed(events)
            return view
        if results[0] is Result.EXISTS:
            with read(self.engine) as conn:
                stored = conn.execute(
                    select(m.p2p_transfers).where(m.p2p_transfers.c.transfer_id == transfer_id)
                ).first()
            if stored is not None:
                return self.transfer_view(dict(stored._mapping), sender.id)
        self.payments._raise_for(results, [move])
        raise Problem("conflict", 409, "the transfer could not be recorded; retry")

    @staticmethod
    def transfer_view(row: dict[str, Any], viewer: str | None) -> dict[str, Any]:
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
        data = [self.transfer_view(dict(r._mapping), consumer.id) for r in page]
        return {"data": data, "next_cursor": next_cursor}

    def claim_waiting(self, consumer: Consumer, identifier: str | None = None) -> int:
        """Money sent to a phone or e-mail before its owner proved it arrives now, once.

        Only for the wallet holding ``identifier`` verified: sent before the verification and
        not yet gone back. Each waiting transfer is released by a conditional update with a
        derived ledger id, so a second call (maintenance, a retry) delivers nothing twice.
        """
        identifier = identifier or consumer.login
        owner = self.wallets.verified_owner(identifier)
        if owner is None or owner.id != consumer.id:
            return 0
        with read(self.engine) as conn:
            waiting = conn.execute(
                select(m.p2p_transfers).where(
                    m.p2p_transfers.c.state == "waiting",
                    m.p2p_transfers.c.recipient_login == identifier,
                    m.p2p_transfers.c.expires_at_us > now_us(),
                )
            ).all()
        for row in waiting:
            self._release(row, to=owner, state="claimed")
        return len(waiting)

    def deliver_verified(self) -> int:
        """Maintenance: waiting money whose phone or e-mail was verified before it was due back
        (delivery right after a verification that a crash interrupted)."""
        from saoma.wallets.models import identifiers

        with read(self.engine) as conn:
            due = conn.execute(
                select(m.p2p_transfers, identifiers.c.consumer_id.label("owner_id"))
                .join(identifiers, identifiers.c.value == m.p2p_transfers.c.recipient_login)
                .where(
                    m.p2p_transfers.c.state == "waiting",
                    identifiers.c.verified_at_us > 0,
                    identifiers.c.verified_at_us < m.p2p_transfers.c.expires_at_us,
                )
            ).all()
        for row in due:
            self._release(row, to=self.wallets.get(row.owner_id), state="claimed")
        return len(due)

    def return_unclaimed(self) -> int:
        with read(self.engine) as conn:
            due = conn.execute(
                select(m.p2p_transfers).where(
                    m.p2p_transfers.c.state == "waiting",
                    m.p2p_transfers.c.expires_at_us <= now_us(),
                )
            ).all()
        for row in due:
            self._release(row, to=self.wallets.get(row.sender_id), state="returned")
        return len(due)

    def _release(self, row: Any, *, to: Consumer, state: str) -> None:
        now = now_us()
        move = Transfer(
            derived_id("esc", row.id),
            self.escrow,
            to.account_id,
            row.amount,
            TransferCode.TRANSFER,
            ref=row.id,
        )
        events: list[str] = []

        def record(tx: Tx) -> None:
            done = tx.execute(
                "UPDATE p2p_transfers SET state = :state, recipient_id = :rid"
                " WHERE id = :id AND state = 'waiting'",
                {"state": state, "rid": to.id if state == "claimed" else None, "id": row.id},
            )
            if done.rowcount != 1:
                raise Problem("conflict", 409, "the transfer was already settled")
            data = {"id": row.id, "amount": row.amount, "state": state}
            events.append(
                emit_in(
                    tx, f"transfer.{state}", subject=row.id, data=data, at_us=now, consumer_id=to.id
                )
            )

        _results, sent = self.payments._move([move], record)
        if sent.wrote:
            self.payments._events_committed(events)

    # --- red packets ----------------------------------------------------------------------------

    def create_packet(
        self,
        sender: Consumer,
        *,
        amount: int,
        shares: int,
        mode: str = "random",
        greeting: str = "",
        pin: str | None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        amount = check_amount(amount)
        if amount > PACKET_AMOUNT_MAX:
            raise invalid("amount", f"a red packet holds at most {PACKET_AMOUNT_MAX}")
        if isinstance(shares, bool) or not 1 <= shares <= PACKET_SHARES_MAX:
            raise invalid("shares", f"shares must be between 1 and {PACKET_SHARES_MAX}")
        if amount < shares:
            raise invalid("amount", "every share needs at least 0.01: raise the amount")
        if mode not in ("equal", "random"):
            raise invalid("mode", "mode is equal or random")
        greeting = check_text("greeting", greeting, 64, required=False)
        authorisation = self._consent(sender, amount, pin)
        account_id = self._open_packet_account()
        now = now_us()
        packet_id = new_id("rp")
        split = equal_shares(amount, shares) if mode == "equal" else random_shares(amount, shares)
        seed = f"{claim.scope}\x1f{claim.key}" if claim else packet_id
        fund_id = derived_id("rpf", seed)
        row = {
            "id": packet_id,
            "sender_id": sender.id,
            "account_id": account_id,
            "amount": amount,
            "currency": sender.currency,
            "shares": shares,
            "mode": mode,
            "greeting": greeting,
            "claimed": 0,
            "state": "open",
            "authorisation": authorisation,
            "transfer_id": fund_id,
            "returned": 0,
            "expires_at_us": now + WAIT_US,
            "created_at_us": now,
        }
        fund = Transfer(
            fund_id,
            sender.account_id,
            account_id,
            amount,
            TransferCode.RED_PACKET,
            ref=packet_id,
        )

        def record(tx: Tx) -> None:
            self._take_from_daily_limit(tx, sender, amount)
            _insert(tx, "red_packets", row)
            for idx, share in enumerate(split, start=1):
                _insert(
                    tx,
                    "red_packet_shares",
                    {"packet_id": packet_id, "idx": idx, "amount": share, "state": "free"},
                )
            # A replay answers what the first request did: the packet as it was just made.
            idempotency.finish_in(tx, claim, 201, packet_view(row, sender, "open", []))

        results, sent = self.payments._move([fund], record)
        if not sent.wrote:
            if results[0] is Result.EXISTS:
                with read(self.engine) as conn:
                    existing = conn.execute(
                        select(m.red_packets.c.id).where(m.red_packets.c.transfer_id == fund_id)
                    ).scalar_one()
                return self.packet(existing, sender)
            self.payments._raise_for(results, [fund])
        return self.packet(packet_id, sender)

    def _open_packet_account(self) -> int:
        for _ in range(5):
            account_id = new_account_id()
            (result,) = self.ledger.create_accounts(
                [
                    Account(
                        account_id,
                        self.payments.currency,
                        AccountKind.RED_PACKET,
                        AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                    )
                ]
            )
            if result is AccountResult.OK:
                return account_id
        raise RuntimeError("could not allocate a red packet account id")

    def packet(self, packet_id: str, viewer: Consumer | None = None) -> dict[str, Any]:
        """The packet as anyone with its link sees it: who got how much, and the luckiest."""
        with read(self.engine) as conn:
            row = conn.execute(select(m.red_packets).where(m.red_packets.c.id == packet_id)).first()
            if row is None:
                raise not_found("red packet", packet_id)
            claims = conn.execute(
                select(
                    m.red_packet_shares.c.claimer_id,
                    m.red_packet_shares.c.amount,
                    m.red_packet_shares.c.claimed_at_us,
                    m.red_packet_shares.c.state,
                )
                .where(
                    m.red_packet_shares.c.packet_id == packet_id,
                    m.red_packet_shares.c.claimer_id.is_not(None),
                )
                .order_by(m.red_packet_shares.c.idx)
            ).all()
        sender = self.wallets.get(row.sender_id)  # after the connection is back in the pool
        from saoma.payments import models as pm

        names: dict[str, str] = {}
        if claims:
            with read(self.engine) as conn:
                names = {
                    r.id: r.display_name
                    for r in conn.execute(
                        select(pm.consumers.c.id, pm.consumers.c.display_name).where(
                            pm.consumers.c.id.in_([c.claimer_id for c in claims])
                        )
                    )
                }
        state = row.state
        if state == "open" and row.expires_at_us <= now_us():
            state = "expired"
        listed = [
            {
                "name": names.get(c.claimer_id, ""),
                "amount": c.amount,
                "claimed_at": rfc3339(c.claimed_at_us or 0),
                "mine": viewer is not None and c.claimer_id == viewer.id,
            }
            for c in claims
        ]
        return packet_view(dict(row._mapping), sender, state, listed)

    def claim_packet(self, consumer: Consumer, packet_id: str) -> dict[str, Any]:
        """Take one share: at most one per person, exactly ``shares`` in all, under any race."""
        with read(self.engine) as conn:
            row = conn.execute(select(m.red_packets).where(m.red_packets.c.id == packet_id)).first()
            mine = conn.execute(
                select(m.red_packet_shares).where(
                    m.red_packet_shares.c.packet_id == packet_id,
                    m.red_packet_shares.c.claimer_id == consumer.id,
                )
            ).first()
        if row is None:
            raise not_found("red packet", packet_id)
        if row.currency != consumer.currency:
            raise Problem("currency-mismatch", 422, "this packet is in another currency")
        if mine is None:
            if row.state == "emptied" or row.claimed >= row.shares:
                raise Problem("packet-empty", 409, "too late: every share has been taken")
            if row.state != "open" or row.expires_at_us <= now_us():
                raise Problem("packet-closed", 409, "this red packet has expired")
            mine = self._reserve(row, consumer)
        if mine.state != "paid":
            self._pay_share(row, mine, consumer)
        return {
            "packet_id": packet_id,
            "amount": mine.amount,
            "shares": row.shares,
            "greeting": row.greeting,
            "details_url": f"/v1/red-packets/{packet_id}",
        }

    def _reserve(self, row: Any, consumer: Consumer) -> Any:
        now = now_us()
        try:
            with write(self.engine) as conn:
                taken = conn.execute(
                    update(m.red_packets)
                    .where(
                        m.red_packets.c.id == row.id,
                        m.red_packets.c.state == "open",
                        m.red_packets.c.claimed < m.red_packets.c.shares,
                        m.red_packets.c.expires_at_us > now,
                    )
                    .values(claimed=m.red_packets.c.claimed + 1)
                )
                if taken.rowcount != 1:
                    raise Problem("packet-empty", 409, "too late: every share has been taken")
                idx = conn.execute(
                    select(m.red_packets.c.claimed).where(m.red_packets.c.id == row.id)
                ).scalar_one()
                conn.execute(
                    update(m.red_packet_shares)
                    .where(
                        m.red_packet_shares.c.packet_id == row.id,
                        m.red_packet_shares.c.idx == idx,
                    )
                    .values(claimer_id=consumer.id, state="claimed", claimed_at_us=now)
                )
                if idx == row.shares:
                    conn.execute(
                        update(m.red_packets)
                        .where(m.red_packets.c.id == row.id)
                        .values(state="emptied")
                    )
                share = conn.execute(
                    select(m.red_packet_shares).where(
                        m.red_packet_shares.c.packet_id == row.id,
                        m.red_packet_shares.c.idx == idx,
                    )
                ).one()
        except IntegrityError:  # the same person claiming twice at once: one claim stands
            with read(self.engine) as conn:
                return conn.execute(
                    select(m.red_packet_shares).where(
                        m.red_packet_shares.c.packet_id == row.id,
                        m.red_packet_shares.c.claimer_id == consumer.id,
                    )
                ).one()
        return share

    def _pay_share(self, row: Any, share: Any, consumer: Consumer) -> None:
        """Move a reserved share from the packet's account; idempotent, so a retry can finish it."""
        move = Transfer(
            derived_id("rpc", row.id, str(share.idx)),
            row.account_id,
            consumer.account_id,
            share.amount,
            TransferCode.RED_PACKET,
            ref=row.id,
        )
        now = now_us()
        events: list[str] = []

        def record(tx: Tx) -> None:
            tx.execute(
                "UPDATE red_packet_shares SET state = 'paid' WHERE packet_id = :p AND idx = :i",
                {"p": row.id, "i": share.idx},
            )
            events.append(
                emit_in(
                    tx,
                    "red_packet.claimed",
                    subject=row.id,
                    data={"packet_id": row.id, "amount": share.amount},
                    at_us=now,
                    consumer_id=consumer.id,
                )
            )

        results, sent = self.payments._move([move], record)
        if sent.wrote:
            self.payments._events_committed(events)
        elif results[0] is Result.EXISTS:
            with write(self.engine) as conn:
                conn.execute(
                    update(m.red_packet_shares)
                    .where(
                        m.red_packet_shares.c.packet_id == row.id,
                        m.red_packet_shares.c.idx == share.idx,
                    )
                    .values(state="paid")
                )
        else:
            self.payments._raise_for(results, [move])

    def settle_packets(self) -> int:
        """Finish claims a crash interrupted; send back what is left of packets past their day."""
        now = now_us()
        with read(self.engine) as conn:
            stuck = conn.execute(
                select(m.red_packet_shares, m.red_packets)
                .join(m.red_packets, m.red_packets.c.id == m.red_packet_shares.c.packet_id)
                .where(m.red_packet_shares.c.state == "claimed")
            ).all()
            due = conn.execute(
                select(m.red_packets).where(
                    m.red_packets.c.state == "open", m.red_packets.c.expires_at_us <= now
                )
            ).all()
        for s in stuck:
            if s.claimed_at_us is not None and s.claimed_at_us < now - 30 * 1_000_000:
                self._pay_share(s, s, self.wallets.get(s.claimer_id))
        for row in due:
            self._expire_packet(row)
        return len(due)

    def _expire_packet(self, row: Any) -> None:
        with write(self.engine) as conn:
            done = conn.execute(
                update(m.red_packets)
                .where(m.red_packets.c.id == row.id, m.red_packets.c.state == "open")
                .values(state="expired")
            )
        if done.rowcount != 1:
            return
        with read(self.engine) as conn:
            unpaid = conn.execute(
                select(func.coalesce(func.sum(m.red_packet_shares.c.amount), 0)).where(
                    m.red_packet_shares.c.packet_id == row.id,
                    m.red_packet_shares.c.state == "claimed",
                )
            ).scalar_one()
        account = self.ledger.account(row.account_id)
        left = (account.balance if account else 0) - int(unpaid)  # claimed shares still get paid
        if left <= 0:
            return
        back = Transfer(
            derived_id("rpr", row.id),
            row.account_id,
            self.wallets.get(row.sender_id).account_id,
            left,
            TransferCode.RED_PACKET,
            ref=row.id,
        )

        def record(tx: Tx) -> None:
            tx.execute(
                "UPDATE red_packets SET returned = :left WHERE id = :id",
                {"left": left, "id": row.id},
            )

        self.payments._move([back], record)


def packet_view(
    row: dict[str, Any], sender: Consumer, state: str, listed: list[dict[str, Any]]
) -> dict[str, Any]:
    done = state != "open" or len(listed) == row["shares"]
    luckiest = max(listed, key=lambda c: c["amount"])["name"] if done and listed else None
    return {
        "id": row["id"],
        "from": sender.display_name or "a friend",
        "greeting": row["greeting"],
        "amount": row["amount"],
        "currency": row["currency"],
        "shares": row["shares"],
        "mode": row["mode"],
        "claimed": len(listed),
        "state": state,
        "claims": listed,
        "luckiest": luckiest,
        "returned": row["returned"],
        "expires_at": rfc3339(row["expires_at_us"]),
        "link": f"/p/{row['id']}",
        "claim_url": f"/v1/red-packets/{row['id']}/claim",
    }
