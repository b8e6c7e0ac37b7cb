"""The bank's daily statement against Saoma's records: a normal day has no break, and each kind
of break the bank's file can have is found, named with its reference and both amounts.

A day of top-ups and withdrawals goes through the Funding service and the sandbox bank (some
declined, one never answered), with a merchant's payout paid by the same bank; the statement is
the sandbox bank's camt.053 document of that UTC date, read back as any bank's would be.
"""

from __future__ import annotations

import dataclasses
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from sqlalchemy import func, select, update

from saoma.bootstrap import Platform
from saoma.core.errors import Conflict, InvalidRequest, NotFound
from saoma.core.ids import now_us
from saoma.db import write
from saoma.funding.bank import SandboxBank
from saoma.funding.tables import bank_transfers
from saoma.settlement import reconcile as recon
from saoma.settlement.tables import bank_statements, payouts, recon_breaks
from support import PASSWORD, PIN, wait_until

MERCHANT_ACCOUNT = "6222020000000001"  # all digits: a merchant's account at the sandbox bank


def today() -> date:
    return datetime.now(UTC).date()


def bank_of(platform: Platform) -> SandboxBank:
    assert isinstance(platform.bank, SandboxBank)
    return platform.bank


def pay_merchant(platform: Platform, amount: int) -> str:
    """A merchant's payout as the settlement service records it: sent, then succeeded."""
    payout_id = "po_" + secrets.token_hex(8)
    bank = bank_of(platform)
    bank.pay_out(payout_id, amount, "CNY", MERCHANT_ACCOUNT)
    (booked,) = [b for b in bank.journal if b.reference == payout_id]
    now = now_us()
    with write(platform.engine) as conn:
        conn.execute(
            payouts.insert().values(
                id=payout_id,
                settlement_id="stl_" + payout_id[3:],
                merchant_id="m_test",
                attempt=1,
                amount=amount,
                currency="CNY",
                bank_account_id="mba_test",
                state="succeeded",
                bank_reference=booked.bank_reference,
                created_at_us=now,
                updated_at_us=now,
            )
        )
    return payout_id


def a_day(platform: Platform) -> dict[str, str]:
    """Top-ups and withdrawals of a day, answered by the sandbox bank; one payout. Returns the
    instruction ids by what happened to them."""
    consumer = platform.wallets.sign_up(f"+86139{secrets.randbelow(10**8):08d}", PASSWORD)
    platform.wallets.set_pin(consumer.id, PIN, password=PASSWORD, old_pin=None)
    ids = {
        "topup": platform.funding.top_up(consumer, 50_000)["id"],
        "topup_2": platform.funding.top_up(consumer, 12_000)["id"],
        "declined": platform.funding.top_up(consumer, 3_013)["id"],
        "silent": platform.funding.top_up(consumer, 2_044)["id"],
    }
    wait_until(lambda: platform.wallets.balance(consumer)["balance"] == 62_000, what="the top-ups")
    ids["withdrawal"] = platform.funding.withdraw(consumer, 3_000, pin=PIN)["id"]
    ids["withdrawal_declined"] = platform.funding.withdraw(consumer, 1_013, pin=PIN)["id"]
    ids["payout"] = pay_merchant(platform, 88_800)
    platform.bank.verify_account("ver_" + secrets.token_hex(4), MERCHANT_ACCOUNT, "Old Chen")
    wait_until(bank_of(platform).quiet, what="the bank's answers")
    settled = {"balance": 59_000, "held": 0}
    wait_until(
        lambda: settled.items() <= platform.wallets.balance(consumer).items(),
        what="the withdrawals",
    )
    return ids


def balances(document: bytes) -> dict[str, str]:
    """The statement's opening and closing balances, as the bank wrote them."""
    ns = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
    stmt = SafeET.fromstring(document).find("c:BkToCstmrStmt/c:Stmt", ns)
    return {
        bal.findtext("c:Tp/c:CdOrPrtry/c:Cd", "", ns): (
            f"{bal.findtext('c:Amt', '', ns)} {bal.findtext('c:CdtDbtInd', '', ns)}"
        )
        for bal in stmt.findall("c:Bal", ns)
    }


def kinds(report: recon.Report) -> list[tuple[str, str, int | None, int | None]]:
    return [(b["kind"], b["reference"], b["expected"], b["reported"]) for b in report.breaks]


def test_a_normal_day_has_no_break(platform: Platform) -> None:
    ids = a_day(platform)
    document = platform.bank.statement(today())
    statement = recon.parse_statement(document)
    on_it = {line.reference: line.amount for line in statement.lines}
    # Money in is +, money out -; nothing declined, unanswered or merely verified is booked.
    assert on_it == {
        ids["topup"]: 50_000,
        ids["topup_2"]: 12_000,
        ids["withdrawal"]: -3_000,
        ids["payout"]: -88_800,
    }
    assert balances(document) == {"OPBD": "0.00 CRDT", "CLBD": "298.00 DBIT"}
    report = recon.reconcile(platform.engine, document, file_name="today.xml")
    assert (report.lines, report.breaks, report.imported) == (4, [], True)
    assert report.day == today()
    assert recon.open_breaks(platform.engine) == []


@pytest.mark.parametrize("fault", ["missing", "amount", "unknown", "duplicate"])
def test_each_kind_of_break_is_found_with_its_reference_and_amounts(
    platform: Platform, fault: str
) -> None:
    a_day(platform)
    first = bank_of(platform).journal[0]  # the oldest line: the one a fault takes
    assert first.amount == 50_000
    report = recon.reconcile(platform.engine, platform.bank.statement(today(), faults=[fault]))
    expected = {
        "missing": ("missing", first.reference, 50_000, None),
        "amount": ("amount", first.reference, 50_000, 50_001),
        "duplicate": ("duplicate", first.reference, 50_000, 50_000),
    }
    if fault == "unknown":
        ((kind, reference, ours, theirs),) = kinds(report)
        assert (kind, ours, theirs) == ("unknown", None, 12_345)
        assert reference.startswith("ext_")
    else:
        assert kinds(report) == [expected[fault]]
    assert [b["state"] for b in recon.open_breaks(platform.engine)] == ["open"]


def test_every_fault_at_once_is_each_its_own_break(platform: Platform) -> None:
    a_day(platform)
    journal = bank_of(platform).journal
    report = recon.reconcile(
        platform.engine,
        platform.bank.statement(today(), faults=["missing", "amount", "unknown", "duplicate"]),
    )
    found = {(b["kind"], b["reference"]) for b in report.breaks}
    assert len(report.breaks) == 4
    assert {("missing", journal[0].reference), ("amount", journal[1].reference)} <= found
    assert ("duplicate", journal[2].reference) in found
    assert {kind for kind, _ in found} == {"missing", "amount", "unknown", "duplicate"}


def test_an_instruction_recorded_as_failed_that_the_bank_booked_is_unknown(
    platform: Platform,
) -> None:
    ids = a_day(platform)
    with write(platform.engine) as conn:
        conn.execute(
            update(bank_transfers)
            .where(bank_transfers.c.id == ids["topup_2"])
            .values(state="failed", failure="the bank did not answer in time")
        )
    report = recon.reconcile(platform.engine, platform.bank.statement(today()))
    assert kinds(report) == [("unknown", ids["topup_2"], None, 12_000)]


def test_an_import_again_changes_nothing_and_a_break_is_resolved_with_a_note(
    platform: Platform,
) -> None:
    a_day(platform)
    document = platform.bank.statement(today(), faults=["amount", "unknown"])
    first = recon.reconcile(platform.engine, document)
    again = recon.reconcile(platform.engine, document)
    assert again.imported is False and again.breaks == first.breaks and len(first.breaks) == 2
    assert rows(platform, recon_breaks) == 2 and rows(platform, bank_statements) == 1

    break_id = first.breaks[0]["id"]
    with pytest.raises(InvalidRequest):
        recon.resolve(platform.engine, break_id, "  ")
    done = recon.resolve(platform.engine, break_id, "the bank's fee, agreed by phone")
    assert (done["state"], done["note"]) == ("resolved", "the bank's fee, agreed by phone")
    with pytest.raises(Conflict):
        recon.resolve(platform.engine, break_id, "again")
    with pytest.raises(NotFound):
        recon.resolve(platform.engine, "brk_nosuchbreak", "a note")
    assert [b["id"] for b in recon.open_breaks(platform.engine)] == [first.breaks[1]["id"]]
    # Imported once more, the statement still reports its breaks, the resolved one as resolved.
    assert [b["state"] for b in recon.reconcile(platform.engine, document).breaks] == [
        "resolved",
        "open",
    ]


def rows(platform: Platform, table: Any) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def midnight(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp()) * 1_000_000


def test_a_line_on_the_other_side_of_midnight_matches(platform: Platform) -> None:
    """The bank books just before midnight, Saoma records the answer just after."""
    ids = a_day(platform)
    bank = bank_of(platform)
    yesterday = today() - timedelta(days=1)
    # Saoma recorded one of today's lines tomorrow: on today's statement, it matches.
    with write(platform.engine) as conn:
        conn.execute(
            update(bank_transfers)
            .where(bank_transfers.c.id == ids["topup_2"])
            .values(updated_at_us=midnight(today() + timedelta(days=1)) + 500_000)
        )
    # The bank booked the payout yesterday at 23:59:59, Saoma recorded it today.
    bank.journal[:] = [
        dataclasses.replace(b, booked_at=datetime.combine(yesterday, time(23, 59, 59), UTC))
        if b.reference == ids["payout"]
        else b
        for b in bank.journal
    ]
    assert recon.reconcile_day(platform.engine, bank, today()).breaks == []
    assert recon.reconcile_day(platform.engine, bank, yesterday).breaks == []
    # Without the day before's statement, today's payout looks missing.
    with platform.engine.connect() as conn:
        alone = recon.find_breaks(conn, recon.parse_statement(bank.statement(today())))
    assert [(b["kind"], b["reference"]) for b in alone] == [("missing", ids["payout"])]


def test_fifty_at_once_import_a_statement_once_and_resolve_a_break_once(
    platform: Platform,
) -> None:
    a_day(platform)
    document = platform.bank.statement(today(), faults=["missing", "unknown"])
    with ThreadPoolExecutor(max_workers=50) as pool:
        reports = list(pool.map(lambda _: recon.reconcile(platform.engine, document), range(50)))
    assert sum(report.imported for report in reports) == 1
    assert {len(report.breaks) for report in reports} == {2}
    assert rows(platform, recon_breaks) == 2 and rows(platform, bank_statements) == 1

    break_id = reports[0].breaks[0]["id"]

    def resolve(n: int) -> str:
        try:
            recon.resolve(platform.engine, break_id, f"settled by operator {n}")
        except Conflict:
            return "conflict"
        return "resolved"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(resolve, range(50)))
    assert outcomes.count("resolved") == 1 and outcomes.count("conflict") == 49
    (resolved,) = recon.breaks_of(platform.engine, state="resolved")
    assert resolved["id"] == break_id and resolved["note"].startswith("settled by operator ")
