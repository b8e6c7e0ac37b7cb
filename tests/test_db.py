"""Which writes wait for PostgreSQL's WAL flush: all but the few a later commit makes durable."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from sqlalchemy import text

from saoma.db import make_engine, read, write, write_one, write_unflushed

SETTING = text("SHOW synchronous_commit")
NONCE = text("INSERT INTO request_nonces (key_id, nonce, seen_at_us) VALUES ('k_db', :n, 1)")
SEEN = text("SELECT count(*) FROM request_nonces WHERE nonce = :n")


def test_only_the_unflushed_writes_skip_the_flush_and_they_commit_at_once(
    postgres_database: str,
) -> None:
    engine = make_engine(postgres_database)
    try:
        with write_unflushed(engine) as conn:
            assert conn.execute(SETTING).scalar() == "off"
            nonce = secrets.token_hex(8)
            conn.execute(NONCE, {"n": nonce})
        # Committed on its own: another connection sees it at once.
        with read(engine) as conn:
            assert conn.execute(SEEN, {"n": nonce}).scalar() == 1
        with write_one(engine) as conn:
            assert conn.execute(SETTING).scalar() == "on"
        with write(engine) as conn:
            assert conn.execute(SETTING).scalar() == "on"
        with read(engine) as conn:
            assert conn.execute(SETTING).scalar() == "on"
    finally:
        engine.dispose()


def test_through_a_pooler_the_unflushed_writes_are_ordinary_ones(postgres_database: str) -> None:
    """A pooler in transaction mode may not pass a connection's settings on: no exception."""
    engine = make_engine(postgres_database, pooled=True)
    try:
        with write_unflushed(engine) as conn:
            assert conn.execute(SETTING).scalar() == "on"
            nonce = secrets.token_hex(8)
            conn.execute(NONCE, {"n": nonce})
        with read(engine) as conn:
            assert conn.execute(SEEN, {"n": nonce}).scalar() == 1
    finally:
        engine.dispose()


def test_on_sqlite_an_unflushed_write_is_a_write(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "saoma.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        nonce = secrets.token_hex(8)
        with write_unflushed(engine) as conn:
            conn.execute(NONCE, {"n": nonce})
        with read(engine) as conn:
            assert conn.execute(SEEN, {"n": nonce}).scalar() == 1
    finally:
        engine.dispose()
