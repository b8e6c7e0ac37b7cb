"""Money out under crashes: settlement runs and payouts during the bank workload (``bank.py``).

Merchants get bank accounts at setup: all good but one, whose account is frozen (the bank rejects
its payouts) until, half-way through the load, it registers a good account with its manager PIN
and the rejected settlements are paid again; another holds a rolling reserve. During the load
merchants ask for instant payouts through random servers (some die with the request: an error is
fine, a payout twice is not) and ``saoma settle --at <a later day>`` runs as its own process, some
runs SIGKILLed mid-way. After the load every server is up, so what the bank has not answered is
sent again, and a last run settles everything before its cut-off. Then:

- every posted movement of a merchant's account (but settlement and allowance transfers) before
  that cut-off is in exactly one settlement line, and every line is such a movement or a carry;
- no settlement is paid twice: at most one succeeded payout, and the posted PAYOUT transfers of a
  settlement add up to at most its payout (to exactly it once paid);
- nothing waits for the bank any more (no payout pending, no settlement closed or paying);
- each merchant's money is conserved: what came in (payments less fees, less refunds) = paid to
  its bank + its own balance as GET /v1/merchant shows it (the overdraft allowance left out; what
  settlements carried over is in it) + reserves held + instant-payout fees.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.db import make_engine
from saoma.payments.rows import derived_id
from saoma.settlement.payouts import GAVE_UP
from support import PASSWORD, PIN

FROZEN_SUFFIX = "66"  # the sandbox bank verifies the account but rejects payouts to it
NOT_LINES = (14, 16)  # settlement and allowance transfers are never a settlement's lines
PAYOUT = 15
RESERVE_PERCENT = "10"
SETTLE_WAIT_S = 90.0  # a ``saoma settle`` run waits up to 30 s for its bank; a slow machine more
ANSWERED_WAIT_S = 40.0  # after the load, for every payout to be answered


def account_number(n: int, suffix: str = "88") -> str:
    """A bank account the sandbox verifies; it pays to it unless the number ends in 66."""
    return f"6222021001{n:06d}{suffix}"


def slug(response: Any) -> str:
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1] or str(response.status_code)
    except ValueError:
        return str(response.status_code)


class Payday:
    """Settlement and payouts for one run of the bank workload (``bank`` is its ``Bank``)."""

    def __init__(self, bank: Any, make_api: Callable[[random.Random], Any]) -> None:
        self.bank = bank
        self.settings = bank.settings
        self.history = bank.history
        self.cluster = bank.cluster
        self.make_api = make_api
        self.rng = random.Random(self.settings.seed + 11)
        self.frozen: Any = None  # the shop whose first account is frozen
        self.reserved: Any = None  # the shop with a rolling reserve
        self.terms: subprocess.Popen[bytes] | None = None  # ``saoma settle terms`` setting it
        self.figures: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.day = 0  # settlement runs so far; run k settles through midnight k days on
        self.final_cutoff = 0
        self.own: dict[str, int | None] = {}
        self.instant_fees = 0
        self.lines: list[str] = []
        tz = ZoneInfo(os.environ.get("SAOMA_TIMEZONE") or "Asia/Shanghai")
        now = datetime.now(tz)
        # The first run settles through a midnight a day away at least, so every movement of a
        # run that crosses midnight is before the cut-off of the last run.
        self.midnight = datetime(now.year, now.month, now.day, tzinfo=tz) + timedelta(days=2)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.figures[name] += n

    # --- setting up -------------------------------------------------------------------------------

    def begin(self) -> None:
        """Bank accounts for every merchant (the last one's frozen, with a manager PIN to change
        it later); a rolling reserve for the first."""
        shops = self.bank.shops
        if not shops:
            return
        self.frozen = shops[-1]
        self.reserved = shops[0] if len(shops) > 1 else None
        if self.reserved is not None:
            self.terms = self.cli(
                "settle",
                "terms",
                self.reserved.id,
                "--reserve-percent",
                RESERVE_PERCENT,
                "--reserve-days",
                "0",
                log="terms",
            )
        api = self.make_api(random.Random(self.settings.seed + 12))
        try:
            outcome, r = api.once(
                self.frozen,
                "PUT",
                "/v1/merchant/manager-pin",
                json.dumps({"pin": PIN, "password": PASSWORD}).encode(),
                None,
                30.0,
            )
            if outcome != "ok":
                raise RuntimeError(f"manager PIN not set: {outcome} {r.text if r else ''}")
            for n, shop in enumerate(shops):
                frozen = shop is self.frozen
                number = account_number(n, FROZEN_SUFFIX if frozen else "88")
                self.register(api, shop, number, pin=PIN if frozen else None, faults=False)
        finally:
            api.close()

    def ready(self) -> None:
        """Before the load: every account verified, the reserve set."""
        api = self.make_api(random.Random(self.settings.seed + 15))
        try:
            for shop in self.bank.shops:
                if not self.wait_verified(api, shop, lambda acc: acc is not None, 30.0):
                    raise RuntimeError(f"the bank account of {shop.id} was not verified")
        finally:
            api.close()
        if self.terms is not None and self.terms.wait(timeout=60) != 0:
            raise RuntimeError("saoma settle terms failed: see terms.log")

    def register(
        self, api: Any, shop: Any, number: str, *, pin: str | None, faults: bool = True
    ) -> bool:
        """Register ``number`` for ``shop``, sending again until a server answers."""
        body: dict[str, Any] = {"holder_name": "Chen Jianguo", "account_number": number}
        if pin is not None:
            body["manager_pin"] = pin
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            outcome, r = api.once(
                shop, "POST", "/v1/settlement/bank-accounts", json.dumps(body).encode(), None, 10.0
            )
            self.count("bank accounts asked for")
            if outcome == "ok":
                return True
            if outcome == "refused":
                self.history.violation(f"bank account of {shop.id} refused: {r.text[:200]}")
                return False
            if not faults:
                raise RuntimeError(f"bank account of {shop.id} not registered: {outcome}")
            time.sleep(0.2)
        return False

    def current(self, api: Any, shop: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The verified account payouts go to, and every account (newest first)."""
        accounts = api.get(shop, "/v1/settlement/bank-accounts")
        if accounts is None:
            return None, []
        return accounts["current"], accounts["data"]

    def wait_verified(
        self, api: Any, shop: Any, good: Callable[[dict[str, Any] | None], bool], patience: float
    ) -> bool:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            current, _ = self.current(api, shop)
            if good(current):
                return True
            time.sleep(0.1)
        return False

    def cli(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.update(
            SAOMA_DATABASE_URL=self.cluster.url,
            SAOMA_SANDBOX_BANK_DELAY_S="0.01",
            SAOMA_POOL_SIZE="2",
        )
        out = (self.cluster.workdir / f"{log}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "saoma.cli", *args], env=env, stdout=out, stderr=out
        )

    # --- during the load --------------------------------------------------------------------------

    def load(self, started: float, quiet_at: float) -> None:
        """The plan: settlement runs, instant payouts and the frozen merchant's new account."""
        s = self.settings
        plan: list[tuple[float, str]] = []
        for what, every in (("settle", s.settle_every), ("instant", s.instant_every)):
            if every:
                at = started + self.rng.uniform(0.3, 1.0) * every
                while at < quiet_at:
                    plan.append((at, what))
                    at += self.rng.uniform(0.5, 1.5) * every
        if self.frozen is not None:  # paid to the frozen account first, then to the new one
            plan.append((started + (quiet_at - started) * 0.25, "instant to the frozen account"))
            plan.append((started + (quiet_at - started) * 0.5, "fix"))
        plan.sort()
        runs = 0
        target: Callable[..., None]
        args: tuple[Any, ...]
        for at, what in plan:
            if self.bank.stop.wait(max(0.0, at - time.monotonic())):
                break
            if what == "settle":
                # The second run is always killed (when runs may be), so one at least is.
                killed = s.settle_kill_ratio > 0 and (
                    runs == 1 or self.rng.random() < s.settle_kill_ratio
                )
                target, args = self.settle, (self.next_day(), killed)
                runs += 1
            elif what == "instant":
                target, args = self.instant, (self.rng.choice(self.bank.shops),)
            elif what == "instant to the frozen account":
                target, args = self.instant, (self.frozen,)
            else:
                target, args = self.fix, ()
            thread = threading.Thread(target=target, args=args, name=f"payday-{what}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def next_day(self) -> int:
        with self.lock:
            self.day += 1
            return self.day

    def at(self, day: int) -> datetime:
        return self.midnight + timedelta(days=day - 1, minutes=5)

    def settle(self, day: int, killed: bool = False) -> None:
        """``saoma settle --at`` a day on: every merchant's period up to that midnight."""
        proc = self.cli("settle", "--at", self.at(day).isoformat(), log=f"settle-{day}")
        self.count("settlement runs")
        if killed and self.kill_mid_way(proc, self.cutoff(day)):
            self.count("settlement runs SIGKILLed")
        try:
            code = proc.wait(timeout=SETTLE_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            self.count("settlement runs that hung")
        if code == 0:
            self.count("settlement runs finished")
        elif code > 0:  # the database away for the whole run, say
            self.count("settlement runs failed")

    def cutoff(self, day: int) -> int:
        """The cut-off a run ``day`` settles through: that day's midnight, in microseconds."""
        return int((self.at(day) - timedelta(minutes=5)).timestamp() * 1_000_000)

    def kill_mid_way(self, proc: subprocess.Popen[bytes], cutoff: int) -> bool:
        """SIGKILL the run as soon as it has made its first settlement (it may have closed it
        and not moved it, or moved it and not heard the bank); False if it ended first."""
        engine = make_engine(self.cluster.url, pool_size=1)
        deadline = time.monotonic() + SETTLE_WAIT_S
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    with engine.connect() as conn:
                        made = conn.execute(
                            text("SELECT COUNT(*) FROM settlements WHERE period_end_us = :c"),
                            {"c": cutoff},
                        ).scalar_one()
                except Exception:  # the database away: try again
                    made = 0
                if made:
                    time.sleep(self.rng.uniform(0.0, 0.05))
                    if proc.poll() is None:
                        proc.kill()
                        return True
                time.sleep(0.02)
        finally:
            engine.dispose()
        return False

    def instant(self, shop: Any) -> None:
        api = self.make_api(random.Random(self.rng.random()))
        try:
            outcome, r = api.once(shop, "POST", "/v1/settlements/instant", b"", None, 10.0)
        finally:
            api.close()
        self.count("instant payouts asked")
        if outcome == "ok":
            self.count("instant payouts made")
        elif outcome == "refused":
            self.count(f"instant payouts refused ({slug(r)})")
        else:
            self.count("instant payouts with no answer")

    def fix(self) -> None:
        """The frozen merchant registers a good account with its manager PIN."""
        api = self.make_api(random.Random(self.settings.seed + 13))
        try:
            if self.register(api, self.frozen, account_number(99), pin=PIN):
                self.count("frozen account replaced")
        finally:
            api.close()

    # --- after the load ---------------------------------------------------------------------------

    def finish(self) -> None:
        """Every server up: the new account verified, every payout answered, a last run."""
        for thread in self.threads:
            thread.join(timeout=SETTLE_WAIT_S + 5)
        self.cluster.ensure_up()
        api = self.make_api(random.Random(self.settings.seed + 14))
        engine = make_engine(self.cluster.url, pool_size=1)
        try:
            if self.frozen is not None:
                self.replaced(api)
            self.answered(engine)
            day = self.next_day()
            self.settle(day)
            self.final_cutoff = self.cutoff(day)
            if not self.answered(engine):
                self.history.violation("payouts still wait for the bank after the settle-down")
            for shop in self.bank.shops:
                me = api.get(shop, "/v1/merchant")
                self.own[shop.id] = me["balance"] if me is not None else None
        finally:
            engine.dispose()
            api.close()

    def replaced(self, api: Any) -> None:
        """The frozen merchant's good account is in use (registered again if the first try died
        with its server before the bank answered, as a merchant would)."""
        good = account_number(99)[-4:]

        def in_use(acc: dict[str, Any] | None) -> bool:
            return acc is not None and str(acc["account_number"]).endswith(good)

        for _ in range(3):
            if self.wait_verified(api, self.frozen, in_use, 5.0):
                return
            self.count("bank accounts registered again")
            self.register(api, self.frozen, account_number(99), pin=PIN)
        self.history.violation(f"{self.frozen.id}: its new bank account was never verified")

    def waiting(self, engine: Engine) -> int:
        with engine.connect() as conn:
            pending = conn.execute(text("SELECT COUNT(*) FROM payouts WHERE state = 'pending'"))
            n = int(pending.scalar_one())
            states = "('open', 'closed', 'paying')"
            unmoved = conn.execute(
                text(f"SELECT COUNT(*) FROM settlements WHERE state IN {states}")
            )
            # Rejected, with a newer account verified: the background pass pays it again soon.
            rejected = conn.execute(
                text(
                    "SELECT COUNT(*) FROM settlements s WHERE s.state = 'failed'"
                    " AND s.failure <> :gave_up AND EXISTS (SELECT 1 FROM merchant_bank_accounts a"
                    " WHERE a.merchant_id = s.merchant_id AND a.state = 'verified'"
                    " AND a.id <> s.bank_account_id)"
                ),
                {"gave_up": GAVE_UP},
            )
            return n + int(unmoved.scalar_one()) + int(rejected.scalar_one())

    def answered(self, engine: Engine) -> bool:
        """Wait for the bank's answers; a server started again sends what it has not answered
        (each sandbox bank answers only what its own process sent)."""
        deadline = time.monotonic() + ANSWERED_WAIT_S
        restart_at = time.monotonic() + 2.0
        index = 0
        while time.monotonic() < deadline:
            try:
                if not self.waiting(engine):
                    return True
            except Exception:  # the database still coming back
                pass
            if time.monotonic() > restart_at:
                self.cluster.servers[index].stop()
                self.cluster.restart(index)
                self.count("servers started again to send payouts again")
                index = (index + 1) % len(self.cluster.servers)
                restart_at = time.monotonic() + 4.0
            time.sleep(0.2)
        return False

    # --- the checks -------------------------------------------------------------------------------

    def check(self, engine: Engine, came_in: dict[str, int], ledger: dict[int, int]) -> int:
        """Every check of the module's docstring; returns the instant-payout fees (the
        platform's, besides the payments' fees)."""
        with engine.connect() as conn:
            t: dict[str, Any] = {
                name: conn.execute(text(sql)).all()
                for name, sql in {
                    "moves": "SELECT id, debit_account_id, credit_account_id, amount, code,"
                    " created_at_us, ref FROM transfers WHERE (flags & 10) = 0",
                    "lines": "SELECT source, settlement_id, merchant_id, kind, amount"
                    " FROM settlement_lines",
                    "settlements": "SELECT id, merchant_id, kind, state, payout, carried_out,"
                    " consumed_by, attempt, failure FROM settlements",
                    "payouts": "SELECT id, settlement_id, merchant_id, attempt, amount, state,"
                    " failure FROM payouts",
                    "reserves": "SELECT merchant_id, amount, released_transfer_id FROM reserves",
                    "terms": "SELECT merchant_id, overdraft_granted FROM settlement_terms",
                }.items()
            }
        self.check_lines(t)
        self.check_payouts(t)
        self.instant_fees = self.check_conserved(t, came_in, ledger)
        self.report(t)
        return self.instant_fees

    def check_lines(self, t: dict[str, list[Any]]) -> None:
        """Each movement before the last cut-off in exactly one line; each line a movement."""
        v = self.history.violation
        merchant_of = {shop.account_id: shop.id for shop in self.bank.shops}
        lines = {line.source: line for line in t["lines"]}
        settlements = {s.id: s for s in t["settlements"]}
        taken = 0
        for m in t["moves"]:
            for account, sign in ((m.credit_account_id, 1), (m.debit_account_id, -1)):
                merchant = merchant_of.get(account)
                if merchant is None:
                    continue
                line = lines.pop(m.id, None)
                if m.code in NOT_LINES:
                    if line is not None:
                        v(f"transfer {m.id} (code {m.code}) is a line of {line.settlement_id}")
                    continue
                if line is None:
                    if m.created_at_us < self.final_cutoff:
                        v(f"{merchant}: movement {m.id} (code {m.code}) is in no settlement")
                    continue
                taken += 1
                if (line.merchant_id, line.amount) != (merchant, sign * m.amount):
                    v(
                        f"line {m.id} of {line.settlement_id}: {line.amount} for"
                        f" {line.merchant_id}, the ledger moved {sign * m.amount} for {merchant}"
                    )
        for source, line in lines.items():
            carried = settlements.get(source.removeprefix("carry:"))
            if not source.startswith("carry:") or carried is None:
                v(f"line {source} of {line.settlement_id} is no movement of its merchant")
            elif (carried.merchant_id, carried.carried_out) != (line.merchant_id, line.amount):
                v(
                    f"line {source}: carries {line.amount}, {carried.id} carried out"
                    f" {carried.carried_out}"
                )
            elif carried.consumed_by != line.settlement_id:
                v(f"line {source} is in {line.settlement_id}, consumed by {carried.consumed_by}")
        self.count("movements settled", taken)

    def check_payouts(self, t: dict[str, list[Any]]) -> None:
        """No settlement paid twice; the bank's money is each paid settlement's payout."""
        v = self.history.violation
        payouts = {p.id: p for p in t["payouts"]}
        succeeded: Counter[str] = Counter(
            p.settlement_id for p in payouts.values() if p.state == "succeeded"
        )
        posted: Counter[str] = Counter()
        for m in t["moves"]:
            if m.code == PAYOUT:
                payout = payouts.get(m.ref)
                posted[payout.settlement_id if payout else f"? {m.id}"] += int(m.amount)
        for s in t["settlements"]:
            if s.state in ("open", "closed", "paying"):
                v(f"settlement {s.id} is still {s.state} after the settle-down")
            if succeeded[s.id] > 1:
                v(f"settlement {s.id} paid {succeeded[s.id]} times")
            if posted[s.id] > s.payout:
                v(f"settlement {s.id}: {posted[s.id]} posted to the bank, its payout {s.payout}")
            if s.state == "paid" and (succeeded[s.id], posted[s.id]) != (1, s.payout):
                v(
                    f"settlement {s.id} paid, with {succeeded[s.id]} succeeded payouts and"
                    f" {posted[s.id]} of {s.payout} posted to the bank"
                )
        for key in posted:
            if key.startswith("? "):
                v(f"PAYOUT transfer {key[2:]} belongs to no payout")

    def check_conserved(
        self, t: dict[str, list[Any]], came_in: dict[str, int], ledger: dict[int, int]
    ) -> int:
        """Per merchant: what came in = paid + own balance + reserves held + instant fees."""
        v = self.history.violation
        paid: Counter[str] = Counter()
        for p in t["payouts"]:
            if p.state == "succeeded":
                paid[p.merchant_id] += int(p.amount)
        held: Counter[str] = Counter()
        for r in t["reserves"]:
            if r.released_transfer_id is None:
                held[r.merchant_id] += int(r.amount)
        fees: Counter[str] = Counter()
        ifee = {derived_id("ifee", s.id): s.merchant_id for s in t["settlements"]}
        for line in t["lines"]:
            if line.source in ifee:
                fees[line.merchant_id] -= int(line.amount)
        granted = {r.merchant_id: int(r.overdraft_granted) for r in t["terms"]}
        for shop in self.bank.shops:
            own = self.own.get(shop.id)
            books = ledger[shop.account_id] - granted.get(shop.id, 0)
            if own is None:
                v(f"could not read the balance of {shop.id}")
                own = books
            elif own != books:
                v(f"GET /v1/merchant shows {own} for {shop.id}, the ledger {books}")
            out = paid[shop.id] + own + held[shop.id] + fees[shop.id]
            if out != came_in[shop.id]:
                v(
                    f"{shop.id}: {came_in[shop.id]} came in, but paid {paid[shop.id]} + balance"
                    f" {own} + reserves {held[shop.id]} + instant fees {fees[shop.id]} = {out}"
                )
        return sum(fees.values())

    def report(self, t: dict[str, list[Any]]) -> None:
        f = self.figures
        with self.lock:
            f["settlements"] = len(t["settlements"])
            f["payouts paid"] = sum(1 for p in t["payouts"] if p.state == "succeeded")
            f["payouts failed"] = sum(1 for p in t["payouts"] if p.state == "failed")
            f["payouts retried"] = sum(1 for p in t["payouts"] if p.attempt > 1)
        kinds = Counter(s.kind for s in t["settlements"])
        states = Counter(s.state for s in t["settlements"])
        po = Counter(p.state for p in t["payouts"])
        retried = sum(1 for p in t["payouts"] if p.attempt > 1)
        gave_up = sum(1 for p in t["payouts"] if p.failure == GAVE_UP)
        stuck = sum(1 for s in t["settlements"] if s.state == "failed" and s.failure != GAVE_UP)
        paid = sum(int(p.amount) for p in t["payouts"] if p.state == "succeeded")
        refused = {
            k[len("instant payouts refused (") : -1]: n
            for k, n in f.items()
            if k.startswith("instant payouts refused")
        }

        def detail(counter: dict[str, int]) -> str:
            return ", ".join(f"{k} {n}" for k, n in sorted(counter.items())) or "none"

        self.lines = [
            f"  settlements               {len(t['settlements']):6}  ({detail(kinds)};"
            f" {detail(states)}; {f['movements settled']} movements in lines)",
            f"  payouts                   {len(t['payouts']):6}  (paid {po['succeeded']},"
            f" failed {po['failed']}, pending {po['pending']}; retried {retried};"
            f" given up on {gave_up}; {paid} paid out; rejected and not paid again {stuck})",
            f"  instant payouts asked     {f['instant payouts asked']:6}  (made"
            f" {f['instant payouts made']}, refused {sum(refused.values())} ({detail(refused)}),"
            f" no answer {f['instant payouts with no answer']}; fees {self.instant_fees})",
            f"  settlement runs           {f['settlement runs']:6}  (finished"
            f" {f['settlement runs finished']}, SIGKILLed {f['settlement runs SIGKILLed']},"
            f" failed {f['settlement runs failed']}; bank accounts asked for"
            f" {f['bank accounts asked for']}, registered again"
            f" {f['bank accounts registered again']}; servers started again to send payouts"
            f" {f['servers started again to send payouts again']})",
        ]
