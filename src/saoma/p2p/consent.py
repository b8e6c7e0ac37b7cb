"""The sender's consent and the daily limit for money sent to people (transfers and packets)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import DailyLimit, PinRequired
from saoma.core.ids import now_us
from saoma.db import read
from saoma.movements import Unit
from saoma.wallets import tables as pm
from saoma.wallets.service import Consumer, Wallets, day_of


class SendingLimit:
    """Counts money sent to people against a daily limit, in the sender's time zone.

    ``daily_limit`` is read at each use, so the limit in force is the one set now.
    """

    def __init__(self, engine: Engine, wallets: Wallets, daily_limit: Callable[[], int]) -> None:
        self.engine = engine
        self.wallets = wallets
        self.daily_limit = daily_limit

    def sent_today(self, sender: Consumer) -> int:
        """What the sender has sent to people today (a first look; :meth:`take` decides, inside
        the transfer's transaction)."""
        c = pm.consumers.c
        with read(self.engine) as conn:
            row = conn.execute(select(c.p2p_day, c.p2p_sent).where(c.id == sender.id)).one()
        return int(row.p2p_sent) if row.p2p_day == day_of(now_us(), self.wallets.tz) else 0

    def take(self, unit: Unit, sender: Consumer, amount: int) -> None:
        """Count ``amount`` against today's limit with ONE conditional UPDATE in the unit that
        moves it: racing transfers never send more than the limit."""
        day = day_of(now_us(), self.wallets.tz)
        taken = unit.execute(
            "UPDATE consumers SET"
            " p2p_sent = CASE WHEN p2p_day = :day THEN p2p_sent + :amount ELSE :amount END,"
            " p2p_day = :day"
            " WHERE id = :id"
            " AND CASE WHEN p2p_day = :day THEN p2p_sent ELSE 0 END + :amount <= :limit",
            {"id": sender.id, "amount": amount, "day": day, "limit": self.daily_limit()},
        )
        if taken.rowcount != 1:
            raise DailyLimit("that would go past today's limit for sending money", field="amount")

    def consent(self, sender: Consumer, amount: int, pin: str | None) -> str:
        """The sender's authorisation for ``amount``: within today's limit, with the PIN."""
        left = self.daily_limit() - self.sent_today(sender)
        if amount > left:
            raise DailyLimit(
                f"you can send {max(left, 0)} more today", field="amount", remaining=max(left, 0)
            )
        # Money to people always needs the PIN, whatever the no-PIN limit (as Alipay and
        # WeChat Pay do): that limit is for paying merchants at a till.
        if pin is None:
            raise PinRequired("confirm with your PIN", field="pin")
        return "pin:" + self.wallets.verify_pin(sender.id, pin)
