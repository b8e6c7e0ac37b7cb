"""An Idempotency-Key's claim is leased while its request runs, and the lease is renewed.

The renewal runs beside money movements that mark their requests' keys done, in transactions of
their own: it must renew every running claim it holds, and on PostgreSQL never wait for a key a
movement has locked, since that movement may be waiting for a key the renewal locked (a deadlock
PostgreSQL breaks after a second by failing one of them).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.db import make_engine
from saoma.movements import Unit
from saoma.payments import idempotency
from support import a_fen_moved


def _locked_at(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT locked_at_us FROM idempotency_keys WHERE key = :k"), {"k": key}
            ).scalar_one()
        )


def _claim(engine: Engine, key: str) -> idempotency.Claim:
    claim = idempotency.begin(engine, "lease-test", key, "fingerprint")
    assert isinstance(claim, idempotency.Claim)
    return claim


def test_renewing_moves_every_running_lease_forward_and_no_finished_one(engine: Engine) -> None:
    _claim(engine, "running")
    finished = _claim(engine, "finished")
    idempotency.finish(engine, finished, 201, {"ok": True})
    before = {k: _locked_at(engine, k) for k in ("running", "finished")}
    idempotency.renew(engine, [("lease-test", "running"), ("lease-test", "finished")])
    assert _locked_at(engine, "running") > before["running"]
    assert _locked_at(engine, "finished") == before["finished"]


@pytest.fixture
def pg_engine(postgres_database: str) -> Iterator[Engine]:
    engine = make_engine(postgres_database)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM idempotency_keys WHERE scope = 'lease-test'"))
    yield engine
    engine.dispose()


def test_renewing_waits_for_no_key_a_movement_has_locked(pg_engine: Engine) -> None:
    """A movement holds key B and then marks key A done, while the renewal renews A and B."""
    _claim(pg_engine, "a")
    _claim(pg_engine, "b")
    a_before, b_before = _locked_at(pg_engine, "a"), _locked_at(pg_engine, "b")
    movement = create_engine(pg_engine.url)
    try:
        with movement.connect() as conn:
            done = "UPDATE idempotency_keys SET state = 'done' WHERE scope = 'lease-test'"
            conn.execute(text(done + " AND key = 'b'"))  # B locked until this commits
            renewal = threading.Thread(
                target=idempotency.renew,
                args=(pg_engine, [("lease-test", "a"), ("lease-test", "b")]),
            )
            renewal.start()
            renewal.join(timeout=10)
            assert not renewal.is_alive(), "the renewal waited for the movement's lock on B"
            # The movement goes on to mark A done: nothing of the renewal's is in its way.
            conn.execute(text(done + " AND key = 'a'"))
            conn.commit()
    finally:
        movement.dispose()
    assert _locked_at(pg_engine, "a") > a_before  # renewed before the movement reached it
    assert _locked_at(pg_engine, "b") == b_before  # locked at the time: left to the next round


def _lapse(engine: Engine, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE idempotency_keys SET locked_at_us = locked_at_us - :lease WHERE key = :k"),
            {"lease": idempotency.LEASE_US + 1, "k": key},
        )


def test_a_lapsed_key_finished_before_its_take_over_answers_as_it_finished(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry finds the first request's lease lapsed; before its take-over, the first request
    finishes. The retry hears the first answer, instead of running the request again and
    storing an answer of its own over it."""
    first = _claim(engine, "lapsed-then-done")
    _lapse(engine, "lapsed-then-done")
    looked = idempotency.read

    @contextlib.contextmanager
    def look_then_finish(*args: Any, **kwargs: Any) -> Iterator[Any]:
        monkeypatch.setattr(idempotency, "read", looked)
        with looked(*args, **kwargs) as conn:
            yield conn
        idempotency.finish(engine, first, 201, {"first": True})  # between look and take-over

    monkeypatch.setattr(idempotency, "read", look_then_finish)
    again = idempotency.begin(engine, "lease-test", "lapsed-then-done", "fingerprint")
    assert isinstance(again, idempotency.Replay), again
    assert again.status_code == 201 and json.loads(again.body) == {"first": True}


def test_a_movement_whose_key_another_request_finished_is_refused(platform: Platform) -> None:
    """A request whose lease lapsed while it ran, taken over and finished by its retry: its own
    movement then commits nothing, and the stored answer stays the retry's."""
    engine = platform.engine
    first = idempotency.begin(engine, "lease-test", "taken-over", "fingerprint")
    assert isinstance(first, idempotency.Claim)
    _lapse(engine, "taken-over")
    retry = idempotency.begin(engine, "lease-test", "taken-over", "fingerprint")
    assert isinstance(retry, idempotency.Claim)
    idempotency.finish(engine, retry, 201, {"by": "retry"})
    moved_fen = a_fen_moved(platform, "late")

    def record(unit: Unit) -> None:
        idempotency.finish_in(unit, first, 201, {"by": "first"})

    with pytest.raises(SaomaError) as refused:
        platform.payments.movements.move([moved_fen], record)
    assert refused.value.slug == "request-in-progress"
    assert platform.ledger.get_transfer(moved_fen.id) is None
    replay = idempotency.begin(engine, "lease-test", "taken-over", "fingerprint")
    assert isinstance(replay, idempotency.Replay)
    assert json.loads(replay.body) == {"by": "retry"}
