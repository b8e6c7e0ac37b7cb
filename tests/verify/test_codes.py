"""One-time codes on both databases: hashed, expiring, limited checks under concurrency, resends."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from saoma.api.problems import status_of
from saoma.core.errors import SaomaError
from saoma.core.ids import new_account_id, new_id, now_us
from saoma.ledger import Ledger
from saoma.messaging.connector import SandboxMessenger
from saoma.wallets import tables as wm
from saoma.wallets.identifiers import (
    CODE_CHECKS_MAX,
    IDENTIFIER_SENDS_PER_DAY_MAX,
    Identifiers,
    placeholder_login,
)
from saoma.wallets.service import Consumer, Wallets

PASSWORD = "correct horse battery"
PHONE = "+8613912345678"


@dataclass
class World:
    engine: Engine
    wallets: Wallets
    identifiers: Identifiers
    messenger: SandboxMessenger

    def code(self, to: str) -> str:
        (message,) = self.messenger.recent(to=to, limit=1)
        found = re.search(r"\b(\d{6})\b", message.body)
        assert found, message.body
        return found.group(1)

    def row(self, consumer_id: str, value: str) -> object:
        with self.engine.connect() as conn:
            return conn.execute(
                select(wm.identifiers).where(
                    wm.identifiers.c.consumer_id == consumer_id, wm.identifiers.c.value == value
                )
            ).one()

    def set(self, consumer_id: str, value: str, **values: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(wm.identifiers)
                .where(wm.identifiers.c.consumer_id == consumer_id, wm.identifiers.c.value == value)
                .values(**values)
            )


@pytest.fixture
def world(engine: Engine, ledger: Ledger) -> Iterator[World]:
    messenger = SandboxMessenger(engine)
    yield World(engine, Wallets(engine, ledger), Identifiers(engine, messenger), messenger)


def claimants(world: World, value: str, n: int) -> list[Consumer]:
    """``n`` wallets that signed up with ``value`` after someone else, written straight to the
    database (a sign-up hashes a password for about 100 ms; the race is what is under test)."""
    now = now_us()
    ids = [new_id("c") for _ in range(n)]
    with world.engine.begin() as conn:
        conn.execute(
            insert(wm.consumers),
            [
                {
                    "id": cid,
                    "login": placeholder_login(cid),
                    "password_hash": "!",
                    "account_id": new_account_id(),
                    "currency": "CNY",
                    "created_at_us": now,
                }
                for cid in ids
            ],
        )
        conn.execute(
            insert(wm.identifiers),
            [{"consumer_id": cid, "value": value, "created_at_us": now} for cid in ids],
        )
    return [world.wallets.get(cid) for cid in ids]


def refused(call: object, *args: object) -> SaomaError:
    with pytest.raises(SaomaError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_a_code_is_sent_stored_hashed_and_proves_the_phone(world: World) -> None:
    c = world.wallets.sign_up(PHONE, PASSWORD)
    assert world.identifiers.owner_of(PHONE) is None
    sent = world.identifiers.send_code(c.id, PHONE)
    assert sent["verified"] is False and sent["code_tries_left"] == CODE_CHECKS_MAX
    (message,) = world.messenger.recent(to=PHONE)
    assert message.channel == "sms"
    code = world.code(PHONE)
    row = world.row(c.id, PHONE)
    assert code not in " ".join(str(v) for v in row)  # type: ignore[attr-defined]
    outcome = world.identifiers.verify(c.id, PHONE, code)
    assert outcome.newly and world.identifiers.owner_of(PHONE) == c.id
    assert world.identifiers.of(c.id)[0]["verified"] is True
    again = world.identifiers.verify(c.id, PHONE, code)  # a repeated request changes nothing
    assert not again.newly


def test_fifty_concurrent_wrong_codes_are_checked_at_most_five_times(world: World) -> None:
    c = world.wallets.sign_up(PHONE, PASSWORD)
    world.identifiers.send_code(c.id, PHONE)
    right = world.code(PHONE)
    wrong = [f"{(int(right) + 1 + n) % 10**6:06d}" for n in range(50)]
    start = threading.Barrier(50)

    def guess(code: str) -> str:
        start.wait()
        try:
            world.identifiers.verify(c.id, PHONE, code)
        except SaomaError as exc:
            return exc.slug
        return "verified"

    with ThreadPoolExecutor(50) as pool:
        slugs = Counter(pool.map(guess, wrong))
    assert slugs == {
        "verification-code-wrong": CODE_CHECKS_MAX,
        "verification-code-locked": 50 - CODE_CHECKS_MAX,
    }
    assert world.row(c.id, PHONE).code_attempts == CODE_CHECKS_MAX  # type: ignore[attr-defined]
    locked = refused(world.identifiers.verify, c.id, PHONE, right)  # even the right code
    assert (locked.slug, status_of(locked), locked.field) == (
        "verification-code-locked",
        423,
        "code",
    )
    assert world.identifiers.owner_of(PHONE) is None


def test_an_expired_code_is_refused_and_a_new_one_works(world: World) -> None:
    c = world.wallets.sign_up("mei@example.cn", PASSWORD)
    world.identifiers.send_code(c.id, "mei@example.cn")
    old = world.code("mei@example.cn")
    world.set(c.id, "mei@example.cn", code_expires_at_us=now_us() - 1)
    expired = refused(world.identifiers.verify, c.id, "mei@example.cn", old)
    assert (expired.slug, status_of(expired), expired.field) == (
        "verification-code-expired",
        410,
        "code",
    )
    world.set(c.id, "mei@example.cn", code_sent_at_us=now_us() - 61_000_000)
    world.identifiers.send_code(c.id, "MEI@example.cn")  # the same address, however typed
    assert world.identifiers.verify(c.id, "mei@example.cn", world.code("mei@example.cn")).newly


def test_codes_are_resent_once_a_minute_and_ten_times_a_day(world: World) -> None:
    c = world.wallets.sign_up(PHONE, PASSWORD)
    world.identifiers.send_code(c.id, PHONE)
    first = world.code(PHONE)
    soon = refused(world.identifiers.send_code, c.id, PHONE)
    assert (soon.slug, status_of(soon), soon.field) == (
        "verification-code-too-soon",
        429,
        "identifier",
    )
    assert len(world.messenger.recent(to=PHONE)) == 1
    world.set(c.id, PHONE, code_sent_at_us=now_us() - 61_000_000)
    world.identifiers.send_code(c.id, PHONE)
    second = world.code(PHONE)
    if first != second:  # only the last code counts
        assert (
            refused(world.identifiers.verify, c.id, PHONE, first).slug == "verification-code-wrong"
        )
    world.set(c.id, PHONE, code_sent_at_us=now_us() - 61_000_000, sends=10)
    spent = refused(world.identifiers.send_code, c.id, PHONE)
    assert (spent.slug, status_of(spent)) == ("verification-codes-exhausted", 429)
    world.set(c.id, PHONE, sends_since_us=now_us() - 25 * 3600 * 1_000_000)
    world.identifiers.send_code(c.id, PHONE)  # a new day
    assert world.identifiers.verify(c.id, PHONE, world.code(PHONE)).newly


def test_refusals_name_the_field(world: World) -> None:
    c = world.wallets.sign_up(PHONE, PASSWORD)
    for args, slug, status, field in (
        (("+8613900000000", "123456"), "identifier-unknown", 404, "identifier"),
        ((PHONE, "123456"), "verification-code-expired", 410, "code"),  # no code sent yet
        ((PHONE, "١٢٣٤٥٦"), "invalid-request", 422, "code"),
        ((PHONE, "12345"), "invalid-request", 422, "code"),
        ((PHONE, 123456), "invalid-request", 422, "code"),
        (("not a phone", "123456"), "invalid-request", 422, "identifier"),
        (("+86139\x00", "123456"), "invalid-request", 422, "identifier"),
        (("x" * 300 + "@example.cn", "123456"), "invalid-request", 422, "identifier"),
    ):
        problem = refused(world.identifiers.verify, c.id, *args)
        assert (problem.slug, status_of(problem), problem.field) == (slug, status, field), args
    unknown = refused(world.identifiers.send_code, c.id, "+8613900000000")
    assert (unknown.slug, unknown.field) == ("identifier-unknown", "identifier")


def test_the_code_receiver_wins_a_phone_two_wallets_claim(world: World) -> None:
    attacker = world.wallets.sign_up(PHONE, "attacker password")
    owner = world.wallets.sign_up(PHONE, PASSWORD)  # the unproven claim does not block it
    assert owner.login.startswith("~") and world.wallets.by_login(PHONE) == attacker
    world.identifiers.send_code(owner.id, PHONE)
    assert world.identifiers.verify(owner.id, PHONE, world.code(PHONE)).newly
    assert world.wallets.verified_owner(PHONE) == world.wallets.get(owner.id)
    assert world.wallets.get(owner.id).login == PHONE
    assert world.wallets.get(attacker.id).login.startswith("~")  # the login is freed
    late = refused(world.identifiers.send_code, attacker.id, PHONE)
    assert late.slug == "identifier-unknown"
    _token, signed_in = world.wallets.sign_in(PHONE, PASSWORD)
    assert signed_in.id == owner.id
    assert refused(world.wallets.sign_in, PHONE, "attacker password").slug == "sign-in-failed"
    taken = refused(world.wallets.sign_up, PHONE, "another password")
    assert (taken.slug, taken.field) == ("login-taken", "login")
    other = world.wallets.sign_up("li@example.cn", PASSWORD)
    claimed = refused(world.identifiers.add, other.id, PHONE)
    assert (claimed.slug, status_of(claimed)) == ("identifier-taken", 409)


def test_an_added_email_is_verified_and_signs_in(world: World) -> None:
    c = world.wallets.sign_up(PHONE, PASSWORD)
    added = world.identifiers.add(c.id, "Li@Example.cn")
    assert (added["identifier"], added["kind"], added["verified"]) == (
        "li@example.cn",
        "email",
        False,
    )
    world.identifiers.verify(c.id, "li@example.cn", world.code("li@example.cn"))
    assert world.wallets.sign_in("li@example.cn", PASSWORD)[1].id == c.id
    with world.engine.connect() as conn:
        login = conn.execute(select(wm.consumers.c.login).where(wm.consumers.c.id == c.id))
        assert login.scalar_one() == PHONE  # the sign-up login stays the login


def test_fifty_wallets_verifying_one_phone_at_once_leave_one_owner(world: World) -> None:
    """Whoever holds the phone could type every code sent to it: one wallet ends up owning it."""
    first = world.wallets.sign_up(PHONE, PASSWORD)
    wallets = [first, *claimants(world, PHONE, 49)]
    codes = []
    for w in wallets:
        with world.engine.begin() as conn:  # past the daily codes to one phone: not under test
            conn.execute(update(wm.identifier_sends).values(sends=0))
        world.identifiers.send_code(w.id, PHONE)
        codes.append(world.code(PHONE))
    start = threading.Barrier(50)

    def verify(n: int) -> str:
        start.wait()
        try:
            world.identifiers.verify(wallets[n].id, PHONE, codes[n])
        except SaomaError as exc:
            return exc.slug
        return "verified"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(verify, range(50)))
    assert outcomes.count("verified") == 1
    assert set(outcomes) - {"verified"} <= {"identifier-taken", "identifier-unknown"}
    winner = wallets[outcomes.index("verified")]
    assert world.identifiers.owner_of(PHONE) == winner.id
    assert world.wallets.get(winner.id).login == PHONE
    with world.engine.connect() as conn:
        claims = conn.execute(select(wm.identifiers).where(wm.identifiers.c.value == PHONE)).all()
        logins = conn.execute(select(wm.consumers.c.login)).scalars().all()
    assert [c.consumer_id for c in claims] == [winner.id]
    assert logins.count(PHONE) == 1


def test_fifty_wallets_asking_codes_for_one_phone_at_once_send_twenty(world: World) -> None:
    """A number anyone can type cannot be flooded: 20 codes a day, whichever wallets ask."""
    wallets = claimants(world, PHONE, 50)
    start = threading.Barrier(50)

    def ask(n: int) -> str:
        start.wait()
        try:
            world.identifiers.send_code(wallets[n].id, PHONE)
        except SaomaError as exc:
            return exc.slug
        return "sent"

    with ThreadPoolExecutor(50) as pool:
        outcomes = Counter(pool.map(ask, range(50)))
    limit = IDENTIFIER_SENDS_PER_DAY_MAX
    assert outcomes == {"sent": limit, "verification-codes-exhausted": 50 - limit}
    assert len(world.messenger.recent(to=PHONE, limit=100)) == limit
    with world.engine.connect() as conn:
        codes_out = conn.execute(
            select(func.count()).where(
                wm.identifiers.c.value == PHONE, wm.identifiers.c.code_hash != ""
            )
        ).scalar_one()
    assert codes_out == limit  # a refused request left no code behind
