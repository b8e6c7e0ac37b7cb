"""Migrations create the schema on both databases and can be undone and redone."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from saoma.db import alembic_config, make_engine


def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    cfg = alembic_config(db_url)
    command.downgrade(cfg, "base")
    engine = make_engine(db_url)
    assert "transfers" not in inspect(engine).get_table_names()
    command.upgrade(cfg, "head")
    tables = set(inspect(engine).get_table_names())
    assert {"accounts", "transfers", "holds"} <= tables
    engine.dispose()


def test_0007_keeps_transfers_and_their_checks(db_url: str) -> None:
    """Dropping the foreign keys rebuilds SQLite's table: rows and CHECK constraints survive."""
    cfg = alembic_config(db_url)
    command.downgrade(cfg, "0006_paycode")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, currency, kind, flags, created_at_us)"
                    " VALUES (1, 'CNY', 'bank_clearing', 0, 0), (2, 'CNY', 'merchant', 0, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, code,"
                    " flags, created_at_us) VALUES ('t1', 1, 2, 500, 1, 0, 7)"
                )
            )
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT seq, id, amount, created_at_us FROM transfers")).all()
        assert [tuple(r) for r in rows] == [(1, "t1", 500, 7)]
        assert not inspect(engine).get_foreign_keys("transfers")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, code,"
                    " flags, created_at_us) VALUES ('t2', 1, 2, 0, 1, 0, 8)"
                )
            )
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM transfers"))
            conn.execute(text("DELETE FROM accounts"))
        engine.dispose()
