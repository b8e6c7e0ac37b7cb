"""Migrations create the schema on both databases and can be undone and redone."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

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
