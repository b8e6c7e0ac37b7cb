"""Real processes hammering the same wallets, and a writer killed with SIGKILL mid-load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from saoma.ledger import Account, AccountFlags, AccountKind, Ledger, Result, Transfer, TransferCode
from saoma.ledger.check import check_ledger
from saoma.ledger.tables import accounts, transfers
from support import wait_until

WORKER = Path(__file__).with_name("ledger_worker.py")
WALLETS = range(1_000, 1_020)
MERCHANTS = range(2_000, 2_005)
BANK = 1
FUNDING = 20_000


def fund(ledger: Ledger) -> None:
    ledger.create_accounts(
        [Account(BANK, "CNY", AccountKind.BANK_CLEARING)]
        + [
            Account(
                w, "CNY", AccountKind.CONSUMER_WALLET, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
            )
            for w in WALLETS
        ]
        + [Account(m, "CNY", AccountKind.MERCHANT) for m in MERCHANTS]
    )
    results = ledger.create_transfers(
        [Transfer(f"fund-{w}", BANK, w, FUNDING, TransferCode.TOP_UP) for w in WALLETS]
    )
    assert all(r is Result.OK for r in results)


def worker(url: str, seed: str, count: int, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, seed, str(count), str(out), *extra], env=env
    )


def acknowledged(files: list[Path]) -> dict[str, str]:
    acks: dict[str, str] = {}
    for f in files:
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) != 2:  # cut short by the kill: never acknowledged
                continue
            tid, result = parts
            acks.setdefault(tid, result)
            if result in ("ok", "exists"):
                acks[tid] = "ok"
    return acks


def assert_books(engine: Engine, acks: dict[str, str]) -> None:
    report = check_ledger(engine)
    assert report.ok, report.problems
    with engine.connect() as conn:
        balances = dict(
            conn.execute(
                select(accounts.c.id, accounts.c.credits_posted - accounts.c.debits_posted)
            ).all()
        )
        stored = dict(
            conn.execute(select(transfers.c.id, func.count()).group_by(transfers.c.id)).all()
        )
    assert all(balances[w] >= 0 for w in WALLETS), "a wallet went below zero"
    held = sum(balances[w] for w in WALLETS) + sum(balances[m] for m in MERCHANTS)
    assert held == FUNDING * len(WALLETS), "money appeared or vanished"
    for tid, result in acks.items():
        if result == "ok":
            assert stored.get(tid) == 1, f"acknowledged {tid} is stored {stored.get(tid, 0)} times"
        else:
            assert tid not in stored or acks[tid] == "ok", f"refused {tid} was stored"


def test_processes_spending_the_same_wallets(db_url: str, engine: Engine, tmp_path: Path) -> None:
    with Ledger(engine) as ledger:
        fund(ledger)
    outs = [tmp_path / f"acks-{n}.txt" for n in range(4)]
    procs = [
        worker(db_url, f"w{n}", 400, out, "--shared-prefix", "same-key")
        for n, out in enumerate(outs)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    acks = acknowledged(outs)
    assert len(acks) > 1_000
    assert any(r == "exceeds_credits" for r in acks.values()), "the load never hit an empty wallet"
    assert_books(engine, acks)
    with engine.connect() as conn:
        shared = conn.execute(
            select(func.count()).select_from(transfers).where(transfers.c.id.like("same-key-%"))
        ).scalar_one()
    assert shared == len({t for t in acks if t.startswith("same-key-") and acks[t] == "ok"})


def test_a_killed_writer_loses_nothing_it_acknowledged(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with Ledger(engine) as ledger:
        fund(ledger)
    out = tmp_path / "acks.txt"
    for attempt in range(3):
        proc = worker(db_url, f"crash{attempt}", 100_000, out)
        lines = len(out.read_text().splitlines()) if out.exists() else 0
        wanted = lines + 150
        wait_until(
            lambda wanted=wanted: out.exists() and len(out.read_text().splitlines()) >= wanted,
            timeout_s=30,
            what="150 more acknowledged transfers",
        )
        proc.send_signal(signal.SIGKILL)  # in the middle of the load: no chance to clean up
        proc.wait(timeout=10)
    acks = acknowledged([out])
    assert len(acks) >= 450
    assert_books(engine, acks)
