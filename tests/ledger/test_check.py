"""`saoma ledger check` proves the books add up, and names the account when they do not."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from saoma.cli import app
from saoma.ledger import (
    Account,
    AccountFlags,
    Ledger,
    Result,
    Transfer,
    TransferCode,
    TransferFlags,
)
from saoma.ledger.check import check_ledger

runner = CliRunner()


@pytest.fixture
def busy(engine: Engine) -> Ledger:
    """A ledger with some history: top-ups, payments, a capture and a hold still open."""
    ledger = Ledger(engine)
    ledger.create_accounts(
        [
            Account(1, "CNY", "bank_clearing", AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS),
            Account(2, "CNY", "consumer_wallet", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
            Account(3, "CNY", "merchant"),
        ]
    )
    ledger.create_transfers(
        [
            Transfer("top", 1, 2, 10_000, TransferCode.TOP_UP),
            Transfer("pay", 2, 3, 1_000, TransferCode.PAYMENT),
            Transfer("hold", 2, 3, 3_000, TransferCode.HOLD, TransferFlags.PENDING),
            Transfer("hold2", 2, 3, 500, TransferCode.HOLD, TransferFlags.PENDING),
            Transfer("cap", 0, 0, 2_000, TransferCode.CAPTURE, TransferFlags.POST_PENDING, "hold"),
        ]
    )
    ledger.close()
    return ledger


def run_check(db_url: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["ledger", "check", "--json", "--database-url", db_url])
    return result.exit_code, json.loads(result.stdout)


def test_consistent_books_pass(busy: Ledger, db_url: str) -> None:
    code, report = run_check(db_url)
    assert code == 0, report
    assert report["ok"] is True and report["transfers"] == 5
    assert report["posted_per_currency"] == {"CNY": 13_000}


def test_a_tampered_balance_is_named(busy: Ledger, engine: Engine, db_url: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = 3"))
    code, report = run_check(db_url)
    assert code == 1
    problems = " ".join(report["problems"])  # type: ignore[arg-type]
    assert "account 3" in problems and "CNY: total debits posted" in problems


def test_a_deleted_transfer_is_found(busy: Ledger, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM transfers WHERE id = 'pay'"))
    report = check_ledger(engine)
    assert not report.ok
    assert any("account 2" in p for p in report.problems)
    assert any("account 3" in p for p in report.problems)


def test_a_lost_hold_is_found(busy: Ledger, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM holds WHERE transfer_id = 'hold2'"))
    report = check_ledger(engine)
    assert any("hold2" in p and "without its hold" in p for p in report.problems)
    assert any("account 2" in p and "pending" in p for p in report.problems)


def test_a_transfer_to_a_missing_account_is_named(busy: Ledger, engine: Engine) -> None:
    """The tables have no foreign keys: the check is what proves every account exists."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE transfers SET credit_account_id = 99 WHERE id = 'pay'"))
        conn.execute(text("UPDATE holds SET debit_account_id = 98 WHERE transfer_id = 'hold2'"))
    report = check_ledger(engine)
    assert "transfer pay: account 99 does not exist" in report.problems
    assert "hold hold2: account 98 does not exist" in report.problems


def test_a_missing_account_is_refused_not_written(busy: Ledger, engine: Engine) -> None:
    ledger = Ledger(engine)
    try:
        (result,) = ledger.create_transfers([Transfer("ghost", 2, 77, 100, TransferCode.PAYMENT)])
    finally:
        ledger.close()
    assert result is Result.CREDIT_ACCOUNT_NOT_FOUND
    assert ledger.get_transfer("ghost") is None
    assert check_ledger(engine).ok


def test_human_output_says_the_ledger_balances(busy: Ledger, db_url: str) -> None:
    result = runner.invoke(app, ["ledger", "check", "--database-url", db_url])
    assert result.exit_code == 0
    assert "the ledger balances" in result.stdout
