"""Proof that each debit under a mandate fit its mandate and its notice (read by
``saoma check-authorisations``).

A debit whose payment says ``mandate:<debit id>`` is accepted only if: the debit is recorded as
made for that payment; its mandate is the payer's, agreed with a PIN check the payer made before
the agreement, and the agreement came before the debit; the debit was within the mandate's
period and maximum; its notice is of that mandate, for that amount, used by that debit, sent at
least 24 hours before it and not expired; no two debits of a mandate fall in the same day, week
or month (its frequency); and a revoked mandate has no more debits than it had when revoked.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Connection

from saoma.mandates import rules
from saoma.mandates import tables as t

PREFIX = "mandate:"


class MandateProof:
    """Every mandate, notice and debit, read once; then each debit's sentence, if any."""

    def __init__(self, conn: Connection, pin_checks: dict[str, tuple[str, int]], tz: ZoneInfo):
        self.mandates = {r.id: r for r in conn.execute(select(t.mandates))}
        self.notices = {r.id: r for r in conn.execute(select(t.mandate_notices))}
        d = t.mandate_debits.c
        made = conn.execute(select(t.mandate_debits).where(d.state == "made"))
        self.debits = {r.id: r for r in made}
        self.pin_checks = pin_checks
        self.tz = tz
        self.periods: dict[tuple[str, int], str] = {}
        self.counted: dict[str, int] = defaultdict(int)

    def why_not(
        self, what: str, consumer_id: str, amount: int, at_us: int, auth: str
    ) -> str | None:
        """Why this debit (``what``, resting on ``auth``) did not fit its mandate and notice."""
        debit = self.debits.get(auth.removeprefix(PREFIX))
        if debit is None or f"payment {debit.payment_id}" != what:
            return f"rests on mandate debit {auth!r}, which is not recorded for it"
        mandate = self.mandates[debit.mandate_id]
        self.counted[mandate.id] += 1
        return (
            self._agreed(mandate, consumer_id, at_us)
            or self._within(mandate, debit, amount, at_us)
            or self._noticed(mandate, debit, amount, at_us)
        )

    def _agreed(self, mandate: Any, consumer_id: str, at_us: int) -> str | None:
        if mandate.consumer_id != consumer_id:
            return f"rests on mandate {mandate.id}, which is another payer's"
        check = self.pin_checks.get(str(mandate.agreement).removeprefix("pin:"))
        agreed = mandate.agreed_at_us
        if check is None or check[0] != consumer_id or agreed is None or check[1] > agreed:
            return f"rests on mandate {mandate.id}, which the payer did not agree to with the PIN"
        if agreed > at_us:
            return f"was made before the payer agreed to mandate {mandate.id}"
        return None

    def _within(self, mandate: Any, debit: Any, amount: int, at_us: int) -> str | None:
        if debit.amount != amount or amount > mandate.amount_max:
            return f"took {amount}, above the {mandate.amount_max} mandate {mandate.id} allows"
        if not mandate.starts_at_us <= at_us < mandate.ends_at_us:
            return f"was made outside the period of mandate {mandate.id}"
        period = rules.period_index(mandate.frequency, at_us, self.tz)
        first = self.periods.setdefault((mandate.id, period), debit.id)
        if first != debit.id:
            return f"is a second debit of mandate {mandate.id} in one {mandate.frequency} period"
        return None

    def _noticed(self, mandate: Any, debit: Any, amount: int, at_us: int) -> str | None:
        notice = self.notices.get(debit.notice_id or "")
        if notice is None or notice.mandate_id != mandate.id:
            return f"under mandate {mandate.id} had no notice"
        if notice.amount != amount or notice.state != "used" or notice.debit_id != debit.id:
            return f"under mandate {mandate.id} does not match notice {notice.id}"
        if notice.created_at_us + rules.NOTICE_LEAD_US > at_us or notice.expires_at_us <= at_us:
            return f"came less than 24 hours after notice {notice.id}, or after it expired"
        return None

    def after_revocation(self) -> list[str]:
        """The revoked mandates with more debits than they had when revoked."""
        return [
            f"mandate {m.id} has {self.counted[m.id]} debits, but {m.debits_at_revocation}"
            " when it was revoked"
            for m in self.mandates.values()
            if m.debits_at_revocation is not None and self.counted[m.id] > m.debits_at_revocation
        ]
