"""A monthly transit pass's rules, without I/O: the passes sold, the mandate asked for one, when
the operator's server announces and debits a month, and what the rider's page shows.

The pass is paid under a monthly mandate and follows Saoma's rules as they are: each debit needs
a notice sent at least a day before it, and one debit at most per calendar month (in the
server's zone). So the first month is debited a day after the rider agreed (the notice goes out
at once); the pass is valid from the agreement, and each debit pays for the calendar month it is
made in. The next month's notice goes out when its first day is at most two days ahead, and
its debit on that first day. Nothing here weakens those rules: the server only asks Saoma, and
Saoma refuses what they do not allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")  # Saoma's default SAOMA_TIMEZONE: its months are these
ANNOUNCE_AHEAD_S = 2 * 24 * 3600  # announce a month when its first debit is this near
TERM_DAYS = 364  # a subscription runs a year; the rider subscribes again after it


@dataclass(frozen=True, slots=True)
class Pass:
    code: str
    name: str
    name_zh: str
    price: int  # fen, a month


PASSES = {
    p.code: p
    for p in (
        Pass("SZM-MONTH", "Shenzhen Metro monthly pass", "深圳地铁月票", 15_000),
        Pass("SZ-BUS-MONTH", "Shenzhen Bus monthly pass", "深圳公交月票", 9_000),
    )
}


def pass_of(code: str) -> Pass:
    found = PASSES.get(code)
    if found is None:
        raise ValueError("no such pass")
    return found


def mandate_terms(chosen: Pass, today: date) -> dict[str, Any]:
    """What the operator asks the payer to agree to: one debit a month, at most the price."""
    return {
        "purpose": f"{chosen.name}, monthly",
        "amount_max": chosen.price,
        "frequency": "monthly",
        "start_on": today.isoformat(),
        "end_on": (today + timedelta(days=TERM_DAYS)).isoformat(),
    }


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def renewal_step(mandate: dict[str, Any], now: datetime) -> tuple[str, str | None] | None:
    """What the operator's server does now: ``("debit", notice_id)`` when an announced debit
    is due, ``("announce", None)`` when the next month is near and not yet announced, or None.
    Only an active mandate is debited or announced."""
    nxt = mandate.get("next_debit")
    if mandate["state"] != "active" or not nxt:
        return None
    at = _instant(nxt["at"])
    if nxt["notice_id"]:
        return ("debit", nxt["notice_id"]) if at <= now else None
    ahead = (at - now).total_seconds() - 24 * 3600  # a notice now allows a debit a day later
    return ("announce", None) if ahead <= ANNOUNCE_AHEAD_S else None


def _month_end(day: date) -> date:
    following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return following - timedelta(days=1)


def pass_view(mandate: dict[str, Any], chosen: Pass, *, cancelled: bool) -> dict[str, Any]:
    """The rider's pass as the mandate stands: active, paused, ended (revoked) or waiting for
    the rider's agreement; paid through the end of the month of the last debit made; the next
    renewal and any notice sent for it; the last refused debit's reason."""
    state = {"requested": "waiting", "active": "active", "paused": "paused"}.get(
        mandate["state"], "ended"
    )
    if state == "active" and cancelled:
        state = "cancelled"
    made = [d for d in mandate["debits"] if d["state"] == "made"]  # newest first
    paid_through = None
    if made:
        last = _instant(made[0]["created_at"]).astimezone(ZONE).date()
        paid_through = _month_end(last).isoformat()
    since = made[0]["created_at"] if made else ""
    refused = [d for d in mandate["debits"] if d["state"] == "refused" and d["created_at"] > since]
    nxt = mandate.get("next_debit") if state == "active" else None
    notice = next((n for n in mandate["notices"] if nxt and n["id"] == nxt.get("notice_id")), None)
    return {
        "state": state,
        "pass": chosen.code,
        "name": chosen.name,
        "price": chosen.price,
        "mandate_id": mandate["id"],
        "paid_through": paid_through,
        "months_paid": len(made),
        "next_renewal": nxt["at"] if nxt else None,
        "notice": {"amount": notice["amount"], "debit_from": notice["debit_from"]}
        if notice
        else None,
        "refused": refused[0]["reason"] if refused else None,
        "ended_at": mandate.get("revoked_at"),
    }
