"""A hook's writes that nobody looks at (``Tx.write``): on PostgreSQL they wait and go as one
statement. Whatever the joining, a hook reads what it wrote before, every write commits with the
money, and a refused request leaves none of its writes while the rest of its batch keeps theirs.
"""

from __future__ import annotations

import json
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.core.errors import OrderNotPayable
from saoma.core.ids import now_us
from saoma.ledger import Result
from saoma.ledger.tx import Tx, _words
from saoma.webhooks.outbox import emit_in
from support import a_fen_moved, one_batch

# A write with CTEs of its own (as the PIN's given-back try and an outbox event are): joined,
# its CTEs come first and its own statement is a CTE, or the last.
WITH_CTES = (
    "WITH made AS (SELECT :id AS id, :subject AS subject)"
    " INSERT INTO outbox (id, type, subject, url, payload, created_at_us, attempts,"
    " next_attempt_at_us) SELECT id, 'test.with', subject, '', '{}', :at, 0, :at FROM made"
)
# Another write whose CTE has the same name: the two cannot be one statement.
SAME_NAMES = WITH_CTES.replace("'test.with'", "'test.same'").replace("(SELECT :id", "(SELECT (:id)")


def events(platform: Platform, subject: str) -> list[str]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type FROM outbox WHERE subject = :s ORDER BY seq"), {"s": subject}
        )
        return [row.type for row in rows]


def noted(tx: Tx, subject: str, kind: str) -> None:
    emit_in(tx, kind, subject=subject, data={"n": kind}, at_us=now_us())


def in_one_batch(platform: Platform, hooks: list[Any]) -> tuple[list[Any], list[int]]:
    """Each hook with a fen moved, the requests taken as one batch: each one's results, or what
    refused it; and the sizes of the batches."""
    with ThreadPoolExecutor(len(hooks)) as pool:
        with one_batch(platform) as held:
            moving = [
                pool.submit(
                    lambda hook: platform.ledger.submit(
                        [a_fen_moved(platform, "b")], hook=hook
                    ).result(),
                    hook,
                )
                for hook in hooks
            ]
            held.wait_for(len(hooks))
        outcomes = []
        for future in moving:
            try:
                outcomes.append(future.result(timeout=10))
            except OrderNotPayable as refused:
                outcomes.append(refused)
    return outcomes, held.sizes


def test_a_hooks_writes_all_commit_and_its_reads_see_the_writes_before(
    platform: Platform,
) -> None:
    subject = f"sub_{secrets.token_hex(4)}"
    seen: list[int] = []

    def hook(tx: Tx, results: list[Result]) -> None:
        noted(tx, subject, "test.one")
        noted(tx, subject, "test.two")
        count = "SELECT count(*) FROM outbox WHERE subject = :s"
        seen.append(tx.execute(count, {"s": subject}).fetchone()[0])
        noted(tx, subject, "test.three")
        tx.write(WITH_CTES, {"id": f"evt_{secrets.token_hex(6)}", "subject": subject, "at": 1})
        tx.write(SAME_NAMES, {"id": f"evt_{secrets.token_hex(6)}", "subject": subject, "at": 1})
        noted(tx, subject, "test.four")
        # SQL the joining does not read (a comment) goes on its own.
        commented = "-- a comment first\n" + WITH_CTES.replace("'test.with'", "'test.five'")
        tx.write(commented, {"id": f"evt_{secrets.token_hex(6)}", "subject": subject, "at": 1})

    (result,) = platform.ledger.submit([a_fen_moved(platform, "w")], hook=hook).result()
    assert result is Result.OK
    assert seen == [2]
    assert sorted(events(platform, subject)) == sorted(
        ["test.one", "test.two", "test.three", "test.with", "test.same", "test.four", "test.five"]
    )
    with platform.engine.connect() as conn:
        payloads = conn.execute(
            text("SELECT payload FROM outbox WHERE subject = :s AND type = 'test.two'"),
            {"s": subject},
        ).scalar_one()
    assert json.loads(payloads)["data"] == {"n": "test.two"}  # each write its own values


def test_a_subjects_events_keep_the_order_they_were_written_in(platform: Platform) -> None:
    """The outbox's numbers order a subject's webhooks: events written by one hook get theirs in
    the order written, joined writes or not."""
    subject = f"sub_{secrets.token_hex(4)}"
    kinds = [f"test.n{n}" for n in range(6)]

    def hook(tx: Tx, results: list[Result]) -> None:
        for kind in kinds:
            noted(tx, subject, kind)
            tx.write(WITH_CTES, {"id": f"evt_{secrets.token_hex(6)}", "subject": "x", "at": 1})

    (result,) = platform.ledger.submit([a_fen_moved(platform, "o")], hook=hook).result()
    assert result is Result.OK
    assert events(platform, subject) == kinds


def test_a_refused_request_leaves_none_of_its_writes_and_its_batch_keeps_theirs(
    platform: Platform,
) -> None:
    subjects = [f"sub_{secrets.token_hex(4)}" for _ in range(3)]

    def hook_for(subject: str, refuse: bool) -> Any:
        def hook(tx: Tx, results: list[Result]) -> None:
            noted(tx, subject, "test.before")
            tx.write(WITH_CTES, {"id": f"evt_{secrets.token_hex(6)}", "subject": subject, "at": 1})
            if refuse:
                raise OrderNotPayable("refused after its writes")
            noted(tx, subject, "test.after")

        return hook

    hooks = [hook_for(subject, i == 1) for i, subject in enumerate(subjects)]
    outcomes, sizes = in_one_batch(platform, hooks)
    assert sizes[0] == 3, sizes  # taken as one batch
    assert isinstance(outcomes[1], OrderNotPayable)
    assert outcomes[0] == outcomes[2] == [Result.OK]
    assert events(platform, subjects[1]) == []
    for subject in (subjects[0], subjects[2]):
        assert sorted(events(platform, subject)) == ["test.after", "test.before", "test.with"]


def test_a_write_that_must_match_one_row_refuses_its_request_when_it_does_not(
    platform: Platform,
) -> None:
    """``write_or_refuse``: joined with the writes next to it, each such write's rows are
    counted; one that matched none refuses its request alone (the second of two here), and the
    rest of the batch keeps its writes, each once."""
    subject = f"sub_{secrets.token_hex(4)}"
    first, second = f"evt_{secrets.token_hex(6)}", f"evt_{secrets.token_hex(6)}"

    def made(tx: Tx, results: list[Result]) -> None:
        for known in (first, second):
            tx.write(WITH_CTES, {"id": known, "subject": subject, "at": 1})

    platform.ledger.submit([a_fen_moved(platform, "k")], hook=made).result()
    one_more = "UPDATE outbox SET attempts = attempts + 1 WHERE id = :id"
    ten_more = "UPDATE outbox SET attempts = attempts + 10 WHERE id = :id"

    def hook_for(target: str, mark: str) -> Any:
        def hook(tx: Tx, results: list[Result]) -> None:
            noted(tx, subject, f"test.{mark}.before")
            tx.write_or_refuse(one_more, {"id": first}, lambda: OrderNotPayable("first"))
            tx.write_or_refuse(ten_more, {"id": target}, lambda: OrderNotPayable(mark))
            noted(tx, subject, f"test.{mark}.after")

        return hook

    hooks = [hook_for(second, "kept"), hook_for("evt_none", "gone")]
    outcomes, sizes = in_one_batch(platform, hooks)
    assert outcomes[0] == [Result.OK]
    assert isinstance(outcomes[1], OrderNotPayable) and str(outcomes[1]) == "gone"
    assert sizes[0] == 2, sizes  # taken as one batch
    assert sorted(events(platform, subject)) == [
        "test.kept.after",
        "test.kept.before",
        "test.with",
        "test.with",
    ]
    with platform.engine.connect() as conn:
        attempts = conn.execute(
            text("SELECT id, attempts FROM outbox WHERE id IN (:a, :b)"), {"a": first, "b": second}
        )
        assert dict(attempts.all()) == {first: 1, second: 10}  # the kept request's, once


def test_a_write_naming_a_waiting_ctes_name_is_found_as_a_word_match_would_find_it() -> None:
    """A waiting write's CTE would stand for a table of the same name in a write joined to it,
    so such a write goes after a flush: its words are found as ``\\bname\\b``, ignoring case."""
    statements = [
        WITH_CTES,
        SAME_NAMES,
        "UPDATE Made_Tries SET n = n + 1 WHERE id = :made",
        "INSERT INTO outbox_made (id) SELECT id FROM MADE WHERE made.id = :id",
        "SELECT premade, made2, _made FROM t",
    ]
    for sql in statements:
        for name in ("made", "made_tries", "outbox", "outbox_made", "id", "premade", "ade"):
            expected = re.search(rf"\b{name}\b", sql, re.IGNORECASE) is not None
            assert (name in _words(sql)) is expected, (name, sql)
