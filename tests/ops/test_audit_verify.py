"""``saoma audit verify``: a clean chain passes; an entry edited or deleted by someone who went
around the append-only triggers, or a tail cut off, is named; concurrent appends leave no gap."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from saoma import bootstrap
from saoma.audit.log import Audit
from saoma.audit.verify import verify
from saoma.bootstrap import Platform
from saoma.cli import app
from saoma.config import get_settings
from support import wait_until


def write_entries(audit: Audit, count: int) -> None:
    for n in range(count):
        audit.record(
            operator_id="op_1",
            role="support",
            action="consumer.view",
            subject_kind="consumer",
            subject_id=f"c_{n % 3}",
            what="wallet, history, holds, devices",
            reason=f"Ticket {n}",
            address="10.0.0.7",
        )


def tamper(engine: Engine, sql: str) -> None:
    """What an attacker with the database's owner password can do: go around the append-only
    triggers (dropped on SQLite's copy; switched off for the transaction on PostgreSQL)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql))


@pytest.fixture
def audit(platform: Platform, tmp_path: Path) -> Audit:
    return Audit(platform.engine, tmp_path / "audit-head.log")


def test_the_triggers_refuse_an_edit_and_a_delete(audit: Audit) -> None:
    write_entries(audit, 2)
    for sql in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log WHERE seq = 1"):
        with pytest.raises(Exception, match=r"append-only|audit"), audit.engine.begin() as conn:
            conn.execute(text(sql))


def test_a_clean_chain_passes(audit: Audit) -> None:
    write_entries(audit, 7)
    assert audit.record_head()
    assert not audit.record_head()  # the head did not move
    verdict = audit.verify()
    assert (verdict.ok, verdict.checked) == (True, 7)


def test_an_edited_entry_is_named(audit: Audit) -> None:
    write_entries(audit, 6)
    tamper(audit.engine, "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 4")
    verdict = audit.verify()
    assert (verdict.ok, verdict.seq) == (False, 4)
    assert "entry 4 was changed" in verdict.problem


def test_a_deleted_entry_in_the_middle_is_named(audit: Audit) -> None:
    write_entries(audit, 6)
    tamper(audit.engine, "DELETE FROM audit_log WHERE seq = 3")
    verdict = audit.verify()
    assert (verdict.ok, verdict.seq, verdict.problem) == (False, 3, "entry 3 is missing")


def test_a_cut_off_tail_is_found_by_the_head_file(audit: Audit) -> None:
    write_entries(audit, 6)
    audit.record_head()
    tamper(audit.engine, "DELETE FROM audit_log WHERE seq > 4")
    with audit.engine.begin() as conn:  # the attacker fixes the head row up too
        conn.execute(
            text("UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)")
        )
    assert verify(audit.engine).ok  # without the file, nothing shows
    verdict = audit.verify()
    assert (verdict.ok, verdict.seq) == (False, 5)
    assert "head file" in verdict.problem


def test_the_command_exits_non_zero_naming_the_entry(
    platform: Platform, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAOMA_AUDIT_HEAD_FILE", str(tmp_path / "head.log"))
    get_settings.cache_clear()
    try:
        write_entries(platform.audit, 3)
        runner = CliRunner()
        clean = runner.invoke(app, ["audit", "verify", "--database-url", db_url])
        assert clean.exit_code == 0, clean.output
        assert "3 entries" in clean.output
        tamper(platform.engine, "UPDATE audit_log SET role = 'admin' WHERE seq = 2")
        broken = runner.invoke(app, ["audit", "verify", "--database-url", db_url])
    finally:
        get_settings.cache_clear()
    assert broken.exit_code == 1
    assert "entry 2" in broken.output


def test_fifty_concurrent_looks_make_entries_one_to_fifty(audit: Audit) -> None:
    def look(n: int) -> int:
        return audit.record(
            operator_id="op_1",
            role="risk",
            action="consumer.view",
            subject_id=f"c_{n}",
            reason=f"Ticket {n}",
        ).seq

    with ThreadPoolExecutor(50) as pool:
        seqs = sorted(pool.map(look, range(50)))
    assert seqs == list(range(1, 51))
    with audit.engine.connect() as conn:
        stored = conn.execute(text("SELECT seq FROM audit_log ORDER BY seq")).scalars().all()
    assert stored == list(range(1, 51))
    assert audit.verify().ok


def test_the_maintenance_loop_copies_the_head_when_it_moves(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "MAINTENANCE_EVERY_S", 0.01)
    write_entries(platform.audit, 2)
    loop = threading.Thread(target=platform._maintain, daemon=True)
    loop.start()
    try:
        head_file = platform.audit.head_file
        assert head_file is not None
        wait_until(lambda: head_file.exists() and "2 " in head_file.read_text(), what="the head")
        write_entries(platform.audit, 1)
        wait_until(lambda: head_file.read_text().count("\n") == 2, what="the moved head")
    finally:
        platform._stop.set()
        loop.join(timeout=10)
    assert [line.split()[0] for line in head_file.read_text().splitlines()] == ["2", "3"]
    assert platform.audit.verify().ok
