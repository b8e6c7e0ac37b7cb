"""Settling a day: 1,000,000 payments across 10,000 merchants, settled by one settlement run.

For each database (a temporary SQLite file; a fresh PostgreSQL database, dropped at the end) it
migrates a fresh database and writes yesterday straight into it, in bulk (COPY on PostgreSQL,
executemany in large transactions on SQLite), in a process of its own so that its memory is not
the run's: ``--merchants`` merchants (each with its ledger account, a verified bank account, its
terms settled up to yesterday's cut-off and its overdraft allowance granted), payers topped up
from the bank the day before, and ``--payments`` payments of yesterday, each its payment transfer
(payer to merchant), its fee transfer (merchant to the platform's fees) and its ``payments`` row,
with every account's balance the sum of its transfers. Then, in the same run:

- the baseline: one SQL aggregate over the same rows, each merchant's credits less debits of
  yesterday (GROUP BY account), read to the last row;
- the settlement run through the real service, ``platform.settlement.run(now)`` a day later:
  every merchant's lines taken, summed, and its payout moved and sent to the bank. The bank is a
  stub that records each ``pay_out`` and never answers (the settlements stay ``paying``, their
  payouts held in settlement clearing), so the figures are Saoma's alone.

It prints the run's time, lines (ledger transfers taken) per second, settlements per second and
the ratio to the baseline; its peak memory as ``tracemalloc`` sees Python's allocations (tracing
is on for the whole run, and slows it), and the process's peak RSS before and after the run. A
run that streams has the same peak memory at 100,000 payments as at 1,000,000. It then checks
that every payment was settled (each payment transfer a line of its merchant's settlement, each
settlement's net its merchant's baseline sum), and with ``--check`` that the books add up
(``saoma ledger check``) after the generation and after the run.

    .venv/bin/python bench/settlement.py [--database sqlite|postgres|both]
        [--merchants 10000] [--payments 1000000] [--check]

SAOMA_BENCH_POSTGRES_URL names the PostgreSQL server (default: the test server).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import create_engine, make_url, text

from common import scratch_postgres
from saoma.bootstrap import Platform, build
from saoma.config import get_settings
from saoma.core.ids import now_us
from saoma.core.money import rate_of
from saoma.db import migrate
from saoma.ledger import AccountFlags, AccountKind, TransferCode, TransferFlags
from saoma.ledger.check import check_ledger
from saoma.payments.rows import system_account_id
from saoma.settlement.terms import last_cutoff

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DAY_US = 86_400_000_000
CHUNK = 20_000  # payments written per batch
MERCHANT_BASE = 10_000_000  # merchant i's ledger account: MERCHANT_BASE + i
PAYER_BASE = 20_000_000
BAD_ENDINGS = {13, 44, 66}  # the sandbox bank's missing, never-answering and frozen accounts
ENDINGS = [n for n in range(100) if n not in BAD_ENDINGS]

BASELINE = (
    "SELECT m.id, SUM(x.amount) FROM ("
    " SELECT credit_account_id AS account, amount FROM transfers"
    "  WHERE created_at_us >= :start AND created_at_us < :cutoff"
    " UNION ALL"
    " SELECT debit_account_id, -amount FROM transfers"
    "  WHERE created_at_us >= :start AND created_at_us < :cutoff"
    ") x JOIN merchants m ON m.account_id = x.account GROUP BY m.id"
)

COLUMNS = {
    "accounts": (
        "id",
        "currency",
        "kind",
        "flags",
        "debits_pending",
        "debits_posted",
        "credits_pending",
        "credits_posted",
        "user_data",
        "created_at_us",
    ),
    "transfers": (
        "id",
        "debit_account_id",
        "credit_account_id",
        "amount",
        "code",
        "flags",
        "timeout_s",
        "ref",
        "user_data",
        "created_at_us",
    ),
    "payments": (
        "id",
        "merchant_id",
        "consumer_id",
        "kind",
        "amount",
        "fee",
        "refunded",
        "currency",
        "note",
        "authorisation",
        "transfer_id",
        "subsidy",
        "subsidy_refunded",
        "created_at_us",
    ),
    "merchants": (
        "id",
        "login",
        "password_hash",
        "name",
        "city",
        "category_code",
        "account_id",
        "currency",
        "fee_ppm",
        "webhook_secret",
        "created_at_us",
    ),
    "consumers": ("id", "login", "password_hash", "account_id", "currency", "created_at_us"),
    "merchant_bank_accounts": (
        "id",
        "merchant_id",
        "holder_name",
        "account_number",
        "bank_name",
        "state",
        "failure",
        "created_at_us",
        "updated_at_us",
    ),
    "settlement_terms": (
        "merchant_id",
        "schedule",
        "cutoff_hour",
        "weekday",
        "reserve_ppm",
        "reserve_days",
        "overdraft_limit",
        "overdraft_granted",
        "settled_through_us",
        "updated_at_us",
    ),
}


class StubBank:
    """A bank that takes every instruction and answers none: it only counts the payouts."""

    def __init__(self) -> None:
        self.payouts = 0
        self.paid = 0

    def collect(self, instruction_id: str, amount: int, currency: str, account: str) -> None:
        raise AssertionError("the settlement run collects nothing")

    def pay_out(self, instruction_id: str, amount: int, currency: str, account: str) -> None:
        self.payouts += 1
        self.paid += amount

    def verify_account(self, instruction_id: str, account: str, holder_name: str) -> None:
        raise AssertionError("the settlement run verifies no account")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Day:
    """What is generated: sizes, currency, fee, and yesterday's bounds."""

    merchants: int
    payments: int
    payers: int
    currency: str
    fee_ppm: int
    overdraft: int
    start: int  # yesterday's cut-off: the merchants are settled up to here
    cutoff: int  # today's cut-off
    now: int  # when the run runs


def merchant_id(i: int) -> str:
    return f"m_bench{i:09d}"


def amount_of(k: int) -> int:
    return 100 + (k * 7919) % 19_900  # 1.00 to 199.99 yuan


# --- writing rows ------------------------------------------------------------------------------


class Writer:
    """Bulk rows into one database: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.execute("BEGIN")
        else:
            plain = make_url(url).set(drivername="postgresql").render_as_string(False)
            self.conn = psycopg.connect(plain)

    def rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        columns = COLUMNS[table]
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )
            return
        copying = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.conn.cursor() as cur, cur.copy(copying) as copy:
            for row in rows:
                copy.write_row(row)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if not self.sqlite:
            sql = sql.replace("?", "%s")
        self.conn.execute(sql, params)

    def commit(self) -> None:
        if self.sqlite:
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN")
        else:
            self.conn.commit()

    def close(self) -> None:
        self.commit()
        if self.sqlite:
            self.conn.execute("COMMIT")
        self.conn.close()


def parties(w: Writer, day: Day) -> None:
    """Merchants with their bank accounts and terms, and the payers."""
    at = day.start - DAY_US
    for lo in range(0, day.merchants, CHUNK):
        ids = range(lo, min(lo + CHUNK, day.merchants))
        w.rows(
            "merchants",
            [
                (
                    merchant_id(i),
                    f"shop-{i}@bench.example.cn",
                    "x",
                    f"Bench Shop {i}",
                    "Shenzhen",
                    "5812",
                    MERCHANT_BASE + i,
                    day.currency,
                    day.fee_ppm,
                    "whsec_bench",
                    at,
                )
                for i in ids
            ],
        )
        w.rows(
            "merchant_bank_accounts",
            [
                (
                    f"ba_bench{i:09d}",
                    merchant_id(i),
                    f"Owner {i}",
                    f"62220210011188{ENDINGS[i % len(ENDINGS)]:02d}",
                    "Bench Bank",
                    "verified",
                    "",
                    at,
                    at,
                )
                for i in ids
            ],
        )
        w.rows(
            "settlement_terms",
            [
                (merchant_id(i), "daily", 0, 0, 0, 0, day.overdraft, day.overdraft, day.start, at)
                for i in ids
            ],
        )
    w.rows(
        "consumers",
        [
            (
                f"c_bench{j:09d}",
                f"payer-{j}@bench.example.cn",
                "x",
                PAYER_BASE + j,
                day.currency,
                at,
            )
            for j in range(day.payers)
        ],
    )
    w.commit()


def payments(w: Writer, day: Day) -> tuple[list[int], list[int], list[int]]:
    """Yesterday's payments, evenly spread over the day; (what each merchant was paid, the fees
    each paid, what each payer paid)."""
    gross = [0] * day.merchants
    fees = [0] * day.merchants
    paid = [0] * day.payers
    step = DAY_US // day.payments
    fees_account = system_account_id(day.currency, AccountKind.PLATFORM_FEES)
    linked = int(TransferFlags.LINKED)
    for lo in range(0, day.payments, CHUNK):
        transfers: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for k in range(lo, min(lo + CHUNK, day.payments)):
            i, j, amount = k % day.merchants, (k * 31) % day.payers, amount_of(k)
            fee = rate_of(amount, day.fee_ppm)
            at = day.start + k * step
            pid, tid = f"pay_bench{k:011d}", f"pay:{k:032x}"
            account = MERCHANT_BASE + i
            transfers.append((tid, PAYER_BASE + j, account, amount, 2, linked, 0, pid, "", at))
            transfers.append((f"fee:{k:032x}", account, fees_account, fee, 6, 0, 0, pid, "", at))
            rows.append(
                (
                    pid,
                    merchant_id(i),
                    f"c_bench{j:09d}",
                    "static",
                    amount,
                    fee,
                    0,
                    day.currency,
                    "",
                    "pin:bench",
                    tid,
                    0,
                    0,
                    at,
                )
            )
            gross[i] += amount
            fees[i] += fee
            paid[j] += amount
        w.rows("transfers", transfers)
        w.rows("payments", rows)
        w.commit()
    return gross, fees, paid


def funding(w: Writer, day: Day, gross: list[int], fees: list[int], paid: list[int]) -> None:
    """Payers' top-ups and merchants' allowances the day before, then every account's balance:
    the sum of its transfers."""
    bank = system_account_id(day.currency, AccountKind.BANK_CLEARING)
    overdraft = system_account_id(day.currency, AccountKind.OVERDRAFT)
    fees_account = system_account_id(day.currency, AccountKind.PLATFORM_FEES)
    at = day.start - DAY_US
    top_up, allowance = int(TransferCode.TOP_UP), int(TransferCode.ALLOWANCE)
    w.rows(
        "transfers",
        [
            (f"top:{j:032x}", bank, PAYER_BASE + j, paid[j], top_up, 0, 0, "", "", at)
            for j in range(day.payers)
            if paid[j]
        ],
    )
    if day.overdraft:
        w.rows(
            "transfers",
            [
                (
                    f"odl:{i:032x}",
                    overdraft,
                    MERCHANT_BASE + i,
                    day.overdraft,
                    allowance,
                    0,
                    0,
                    merchant_id(i),
                    "",
                    at,
                )
                for i in range(day.merchants)
            ],
        )
    wallet = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    w.rows(
        "accounts",
        [
            (
                PAYER_BASE + j,
                day.currency,
                "consumer_wallet",
                wallet,
                0,
                paid[j],
                0,
                paid[j],
                "",
                at,
            )
            for j in range(day.payers)
        ]
        + [
            (
                MERCHANT_BASE + i,
                day.currency,
                "merchant",
                0,
                0,
                fees[i],
                0,
                gross[i] + day.overdraft,
                "",
                at,
            )
            for i in range(day.merchants)
        ],
    )
    add = "UPDATE accounts SET {side}_posted = {side}_posted + ? WHERE id = ?"
    w.execute(add.format(side="debits"), (sum(paid), bank))
    w.execute(add.format(side="credits"), (sum(fees), fees_account))
    w.execute(add.format(side="debits"), (day.overdraft * day.merchants, overdraft))
    w.commit()


def generate(url: str, day: Day) -> float:
    """Write the day into the migrated database at ``url``; returns the seconds it took."""
    t0 = time.perf_counter()
    w = Writer(url)
    try:
        parties(w, day)
        funding(w, day, *payments(w, day))
    finally:
        w.close()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))  # a database in service has its statistics
    engine.dispose()
    return time.perf_counter() - t0


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Figures:
    database: str
    merchants: int
    payments: int
    generated_s: float
    baseline_s: float
    run_s: float
    lines: int
    settlements: int
    settled_payments: int
    payouts: int
    traced_peak: int  # bytes
    rss_before: int  # kibibytes
    rss_after: int
    matches_baseline: bool
    books: str = "not checked (--check)"


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def baseline(platform: Platform, day: Day) -> tuple[float, dict[str, int]]:
    """One aggregate query over yesterday's transfers: each merchant's net, read to the end."""
    t0 = time.perf_counter()
    with platform.engine.connect() as conn:
        sums = {
            mid: int(total)
            for mid, total in conn.execute(
                text(BASELINE), {"start": day.start, "cutoff": day.cutoff}
            )
        }
    return time.perf_counter() - t0, sums


def outcome(platform: Platform, sums: dict[str, int]) -> tuple[int, int, int, bool]:
    """(lines, settlements, payments settled, whether each settlement's net is its baseline)."""
    with platform.engine.connect() as conn:
        lines, paid = conn.execute(
            text(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN kind = 'payment' THEN 1 ELSE 0 END), 0)"
                " FROM settlement_lines"
            )
        ).one()
        nets = dict(
            conn.execute(
                text("SELECT merchant_id, net FROM settlements WHERE kind = 'scheduled'")
            ).all()
        )
    return int(lines), len(nets), int(paid), nets == sums


def books(platform: Platform) -> str:
    t0 = time.perf_counter()
    report = check_ledger(platform.engine)
    if not report.ok:
        raise SystemExit("the books do not add up:\n" + "\n".join(report.problems[:20]))
    return f"ok in {time.perf_counter() - t0:.1f} s"


def measure(label: str, url: str, args: Any) -> Figures:
    migrate(url)
    settings = get_settings().model_copy(update={"database_url": url})
    bank = StubBank()
    platform = build(settings, bank=bank)
    try:
        now = now_us()
        cutoff = last_cutoff(now, ZoneInfo(settings.timezone), "daily", 0, 0)
        day = Day(
            merchants=args.merchants,
            payments=args.payments,
            payers=min(10_000, max(1, args.payments // 100)),
            currency=settings.currency,
            fee_ppm=settings.fee_ppm,
            overdraft=settings.merchant_overdraft,
            start=cutoff - DAY_US,
            cutoff=cutoff,
            now=now,
        )
        # Written by a process of its own: the run's peak memory is the run's alone.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            generated_s = pool.apply(generate, (url, day))
        checked = [books(platform)] if args.check else []
        baseline_s, sums = baseline(platform, day)
        rss_before = max_rss_kib()
        tracemalloc.start()
        t0 = time.perf_counter()
        ran = platform.settlement.run(day.now)
        run_s = time.perf_counter() - t0
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss_after = max_rss_kib()
        lines, made, settled, matches = outcome(platform, sums)
        assert ran["settlements"] == made, (ran, made)
        if args.check:
            checked.append(books(platform))
        return Figures(
            label,
            day.merchants,
            day.payments,
            generated_s,
            baseline_s,
            run_s,
            lines,
            made,
            settled,
            bank.payouts,
            traced_peak,
            rss_before,
            rss_after,
            matches,
            *([f"after generation {checked[0]}; after the run {checked[1]}"] if checked else []),
        )
    finally:
        platform.close()


@contextmanager
def scratch(db: str) -> Iterator[str]:
    """The URL of a fresh database of kind ``db``, removed afterwards."""
    if db == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="saoma-bench-"))
        try:
            yield f"sqlite:///{folder / 'settlement.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with scratch_postgres(PG_SERVER, "saoma_bench") as url:
        yield url


def report(f: Figures) -> None:
    mib = 1024 * 1024
    transfers = 2 * f.payments
    print(
        f"{f.database}: {f.payments:,} payments across {f.merchants:,} merchants"
        f" ({transfers:,} ledger transfers of yesterday), generated in {f.generated_s:.1f} s"
    )
    print(
        f"  baseline, one aggregate query:  {f.baseline_s:8.2f} s"
        f"  {transfers / f.baseline_s:12,.0f} rows/s"
    )
    print(
        f"  settlement run (real service):  {f.run_s:8.2f} s  {f.lines / f.run_s:12,.0f} rows/s"
        f"  {f.settlements / f.run_s:8,.0f} settlements/s  {f.run_s / f.baseline_s:6.1f}x the"
        " baseline"
    )
    print(
        f"  memory: tracemalloc peak {f.traced_peak / mib:.1f} MiB; max RSS"
        f" {f.rss_before / 1024:.0f} MiB before the run, {f.rss_after / 1024:.0f} MiB after"
    )
    print(
        f"  settled {f.settled_payments:,} of {f.payments:,} payments: {f.lines:,} lines in"
        f" {f.settlements:,} settlements, {f.payouts:,} payouts sent to the bank stub;"
        f" nets {'match' if f.matches_baseline else 'DO NOT MATCH'} the baseline's sums"
    )
    print(f"  books: {f.books}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--merchants", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--check", action="store_true", help="prove the books add up (slow)")
    args = parser.parse_args()
    if args.merchants < 1 or args.payments < args.merchants:
        parser.error("at least one merchant, and at least a payment per merchant")
    failed = False
    for db in ("sqlite", "postgres") if args.database == "both" else (args.database,):
        with scratch(db) as url:
            figures = measure("postgresql" if db == "postgres" else "sqlite", url, args)
        report(figures)
        failed |= figures.settled_payments != figures.payments or not figures.matches_baseline
    if failed:
        raise SystemExit("not every payment was settled")


if __name__ == "__main__":
    main()
