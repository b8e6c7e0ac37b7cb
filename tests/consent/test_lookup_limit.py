"""Looking up who gets money tells whether a phone or e-mail has a wallet: each wallet may look
up ``LOOKUPS_MAX`` recipients in ten minutes, found or not, counted by one conditional upsert so
that any number of lookups at once never passes the limit (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.engine import Engine

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError, TooManyLookups
from saoma.p2p.lookups import LOOKUPS_MAX, LookupLimit
from support import Server, new_consumer

CONCURRENT = 50


def _race(calls: int, call: object) -> list[object]:
    start = threading.Barrier(calls)

    def run(n: int) -> object:
        start.wait()
        return call(n)  # type: ignore[operator]

    with ThreadPoolExecutor(calls) as pool:
        return list(pool.map(run, range(calls)))


@pytest.mark.parametrize("most", [1, 7])
def test_fifty_lookups_at_once_count_exactly_the_limit(engine: Engine, most: int) -> None:
    limit = LookupLimit(engine, most=most)

    def look(_n: int) -> str:
        try:
            limit.take("c_alice")
        except TooManyLookups as exc:
            return exc.slug
        return "counted"

    outcomes = Counter(_race(CONCURRENT, look))
    assert outcomes == {"counted": most, "too-many-lookups": CONCURRENT - most}
    limit.take("c_bob")  # another wallet is not held back by Alice's lookups


def test_the_refusal_names_the_limit_and_when_to_try_again(engine: Engine) -> None:
    limit = LookupLimit(engine, most=2, window_us=600 * 1_000_000)
    limit.take("c_alice")
    limit.take("c_alice")
    with pytest.raises(TooManyLookups) as refused:
        limit.take("c_alice")
    assert refused.value.extra["limit"] == 2
    assert refused.value.extra["window_s"] == 600
    assert 590 <= refused.value.extra["retry_after_s"] <= 600
    assert "2 recipient lookups per 10 minutes" in refused.value.detail


def test_a_new_window_counts_again(engine: Engine) -> None:
    limit = LookupLimit(engine, most=1, window_us=200_000)  # a fifth of a second
    limit.take("c_alice")
    with pytest.raises(TooManyLookups):
        limit.take("c_alice")
    time.sleep(0.25)
    limit.take("c_alice")


def test_lookups_found_or_not_count_and_the_refusal_reads_nothing(platform: Platform) -> None:
    alice = platform.wallets.sign_up(f"+86137{secrets.randbelow(10**8):08d}", "correct horse 1")
    platform.people.lookups = LookupLimit(platform.engine, most=3)
    for to in ("+8613500001111", "c_000000000000", "+8613500002222"):
        with pytest.raises(SaomaError) as missing:
            platform.people.recipient_preview(alice, to)
        assert missing.value.slug == "not-found"
    with pytest.raises(SaomaError) as refused:
        platform.people.recipient_preview(alice, "hello")  # refused before the input is read
    assert refused.value.slug == "too-many-lookups"


def test_over_http_fifty_at_once_answer_thirty_and_the_rest_429_with_retry_after(
    server: Server,
) -> None:
    alice = new_consumer(server)
    bob = new_consumer(server)
    token = alice.client.token

    def look(n: int) -> httpx.Response:
        # Half a known wallet, half phones nobody confirmed: both count.
        to = bob.id if n % 2 else f"+86135{n:08d}"
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while True:  # a 503 "overloaded" is answered before anything is done: ask again
                answer = http.post(
                    "/v1/transfers/recipient",
                    json={"to": to},
                    headers={"authorization": f"Bearer {token}"},
                )
                if answer.status_code != 503:
                    return answer
                time.sleep(float(answer.headers.get("retry-after", "1")) / 10)

    answers = _race(CONCURRENT, look)
    statuses = Counter(a.status_code for a in answers)  # type: ignore[attr-defined]
    assert statuses[429] == CONCURRENT - LOOKUPS_MAX
    assert statuses[200] + statuses[404] == LOOKUPS_MAX
    refused = [a for a in answers if a.status_code == 429]  # type: ignore[attr-defined]
    for answer in refused:
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert problem["type"].endswith("/too-many-lookups")
        assert problem["status"] == 429
        assert (problem["limit"], problem["window_s"]) == (LOOKUPS_MAX, 600)
        assert f"{LOOKUPS_MAX} recipient lookups per 10 minutes" in problem["detail"]
        assert 1 <= int(answer.headers["retry-after"]) <= 600
        assert int(answer.headers["retry-after"]) == problem["retry_after_s"]
    # Bob's own lookups are his: Alice's limit does not hold him back.
    assert bob.client.request("POST", "/v1/transfers/recipient", {"to": alice.id})["name"]
