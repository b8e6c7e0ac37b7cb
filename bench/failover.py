"""How long payments stop when the primary database is lost, and what the callers are told.

Starts a pg_auto_failover group of its own (``tests/failover_group.py``: a monitor, a primary
and a synchronous secondary), one ``saoma serve`` over the group's multi-host URL, and payer
threads paying a merchant's static code over HTTP (a new Idempotency-Key per payment). Then,
several times: SIGKILL the primary (its postgres and its keeper), and measure the time to the
secondary's promotion (as the monitor reports it) and to the first payment that succeeds again,
with every answer given in between by status. The lost node rejoins as the new secondary before
the next round. Baseline from the same run: payments per second and their p50 before the kill.

    .venv/bin/python bench/failover.py [--rounds 3] [--payers 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from common import pct, sign_up_shop, start_server
from saoma.client import ConsumerClient
from saoma.db import migrate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from failover_group import FailoverGroup, available

PIN = "246810"


class Load:
    """Payer threads; every answer kept as (started, ended, status), 0 for no answer."""

    def __init__(self, url: str, shop_id: str, payers: int) -> None:
        self.url = url
        self.shop_id = shop_id
        self.answers: list[tuple[float, float, int]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.tokens = [self._payer() for _ in range(payers)]
        self.threads = [threading.Thread(target=self._pay, args=(t,)) for t in self.tokens]

    def _payer(self) -> str:
        client = ConsumerClient(self.url)
        client.sign_up(f"+86138{uuid.uuid4().int % 10**8:08d}", "bench-password", "Bench")
        client.set_pin(PIN, password="bench-password")
        client.top_up(5_000_000)
        return client.token

    def _pay(self, token: str) -> None:
        with httpx.Client(timeout=15) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    r = http.post(
                        f"{self.url}/v1/merchants/{self.shop_id}/pay",
                        json={"amount": 1, "currency": "CNY", "note": "bench", "pin": PIN},
                        headers={
                            "authorization": f"Bearer {token}",
                            "idempotency-key": uuid.uuid4().hex,
                        },
                    )
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                with self.lock:
                    self.answers.append((started, time.monotonic(), status))
                if status != 201:
                    time.sleep(0.05)

    def since(self, t: float) -> list[tuple[float, float, int]]:
        with self.lock:
            return [a for a in self.answers if a[1] >= t]


def one_round(group: FailoverGroup, load: Load) -> dict[str, object]:
    time.sleep(3.0)  # steady load first: the baseline
    before = load.since(time.monotonic() - 3.0)
    ok = [a for a in before if a[2] == 201]
    lost = group.kill_primary()
    killed = time.monotonic()
    group.wait_promoted(lost)
    promoted = time.monotonic() - killed
    while True:
        after = load.since(killed)
        # The first payment asked for after the kill that went through.
        first = next((a for a in after if a[2] == 201 and a[0] >= killed), None)
        if first is not None or time.monotonic() - killed > 120:
            break
        time.sleep(0.05)
    refused = (
        Counter(str(a[2] or "no answer") for a in after if a[2] != 201 and a[1] <= first[1])
        if first
        else Counter()
    )
    group.rejoin(lost)
    return {
        "rate": len(ok) / 3.0,
        "p50": pct([a[1] - a[0] for a in ok], 0.5) * 1000,
        "promoted": promoted,
        "first": (first[1] - killed) if first else float("nan"),
        "refused": refused,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--payers", type=int, default=4)
    args = parser.parse_args()
    why = available()
    if why is not None:
        print(why, file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="saoma-failover-bench-"))
    group = FailoverGroup(root)
    proc = None
    try:
        group.up()
        name = f"saoma_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(group.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        migrate(group.url(name))
        proc, url = start_server(group.url(name), root / "server.log")
        shop = None
        for _ in range(5):  # the first requests of a fresh server on a busy machine are slow
            try:
                shop = sign_up_shop(url, "Failover Noodles")
                break
            except httpx.TimeoutException:
                time.sleep(1)
        assert shop is not None, "could not sign a merchant up"
        load = Load(url, str(shop.me()["id"]), args.payers)
        for thread in load.threads:
            thread.start()
        rows = [one_round(group, load) for _ in range(args.rounds)]
        load.stop.set()
        for thread in load.threads:
            thread.join(timeout=30)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        group.cleanup()
    print(f"failover of the primary, {args.payers} payers, one saoma serve (synchronous standby)")
    print(
        f"{'round':>5}  {'before: pay/s':>13}  {'p50 ms':>7}  {'promoted s':>10}"
        f"  {'first paid s':>12}  refused meanwhile (status: count)"
    )
    for n, r in enumerate(rows, 1):
        refused = r["refused"]
        assert isinstance(refused, Counter)
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(refused.items())) or "none"
        print(
            f"{n:>5}  {r['rate']:>13.1f}  {r['p50']:>7.1f}  {r['promoted']:>10.1f}"
            f"  {r['first']:>12.1f}  {sum(refused.values())} ({detail})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
