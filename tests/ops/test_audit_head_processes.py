"""The audit head file written by several processes at once (the workers of `saoma serve
--workers N`, each with its maintenance loop): every line is whole and names a real head, and
the chain verifies against the file."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from saoma.audit.log import Audit
from saoma.audit.verify import read_head_file, verify
from saoma.db import make_engine

PROCESSES = 3
ENTRIES = 40


def append_and_record(database_url: str, head_file: str, n: int) -> None:
    """One process: append entries, copying the head to the file after each, as maintenance does."""
    engine = make_engine(database_url, pool_size=1)
    audit = Audit(engine, Path(head_file))
    try:
        for k in range(ENTRIES):
            audit.record(
                operator_id=f"op_{n}",
                role="support",
                action="consumer.view",
                subject_kind="consumer",
                subject_id=f"c_{k % 5}",
                what="wallet",
                reason=f"Ticket {n}-{k}",
            )
            audit.record_head()
    finally:
        engine.dispose()


def test_several_processes_append_heads_and_the_chain_verifies(db_url: str, tmp_path: Path) -> None:
    head_file = tmp_path / "audit-head.log"
    ctx = mp.get_context("fork")
    processes = [
        ctx.Process(target=append_and_record, args=(db_url, str(head_file), n))
        for n in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
    assert [p.exitcode for p in processes] == [0] * PROCESSES

    lines = head_file.read_text().splitlines()
    assert lines and all(len(line.split()) == 3 for line in lines), lines[:5]
    heads = read_head_file(head_file)
    assert max(heads) == PROCESSES * ENTRIES  # the last head is on file
    engine = make_engine(db_url, pool_size=1)
    try:
        verdict = verify(engine, head_file)
    finally:
        engine.dispose()
    assert verdict.ok, verdict.problem
    assert verdict.checked == PROCESSES * ENTRIES
