"""Wrong passwords are limited per login and per address: fifty guesses at once check ten, the
right password waits out the window too, and an unknown login is counted like a known one."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from saoma.bootstrap import Platform
from saoma.core.errors import SignInFailed, TooManySignIns
from saoma.server import create_app
from saoma.wallets.signins import PER_LOGIN_MAX, WINDOW_US
from saoma.wallets.tables import sign_in_tries
from support import PASSWORD

PHONE = "+8613700000001"
SHOP = "noodles@example.cn"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, start=False)) as test_client:
        yield test_client


def later(platform: Platform, by_us: int) -> None:
    """Move both services' clocks on by ``by_us``."""
    for tries in (platform.wallets.sign_ins, platform.merchants.sign_ins):
        at = tries.clock() + by_us
        tries.clock = lambda at=at: at


def outcome(sign_in: object) -> str:
    try:
        sign_in()  # type: ignore[operator]
    except SignInFailed:
        return "wrong"
    except TooManySignIns:
        return "too many"
    return "signed in"


def test_fifty_wrong_passwords_at_once_check_ten_then_even_the_right_one_waits(
    platform: Platform,
) -> None:
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    with ThreadPoolExecutor(50) as pool:
        outcomes = list(
            pool.map(
                lambda _: outcome(lambda: platform.wallets.sign_in(PHONE, "not it!!", "1.2.3.4")),
                range(50),
            )
        )
    assert outcomes.count("wrong") == PER_LOGIN_MAX
    assert outcomes.count("too many") == 50 - PER_LOGIN_MAX
    with pytest.raises(TooManySignIns) as refused:
        platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8")  # another address: the login waits
    assert 0 < refused.value.extra["retry_after_s"] <= WINDOW_US // 1_000_000
    later(platform, WINDOW_US)
    token, consumer = platform.wallets.sign_in(PHONE, PASSWORD, "1.2.3.4")
    assert token.startswith("st_") and consumer.login == PHONE


def test_fifty_wrong_merchant_passwords_at_once_check_ten(platform: Platform) -> None:
    platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    with ThreadPoolExecutor(50) as pool:
        outcomes = list(
            pool.map(
                lambda _: outcome(lambda: platform.merchants.sign_in(SHOP, "not it!!", "1.2.3.4")),
                range(50),
            )
        )
    assert (outcomes.count("wrong"), outcomes.count("too many")) == (10, 40)
    with pytest.raises(TooManySignIns):
        platform.merchants.sign_in(SHOP, PASSWORD, "1.2.3.4")
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")  # a consumer's login is counted apart
    assert platform.wallets.sign_in(PHONE, PASSWORD, "1.2.3.4")[1].login == PHONE


def test_a_right_password_clears_its_logins_count(platform: Platform) -> None:
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    for _ in range(2):
        for _ in range(PER_LOGIN_MAX - 1):
            assert outcome(lambda: platform.wallets.sign_in(PHONE, "typo typo")) == "wrong"
        assert outcome(lambda: platform.wallets.sign_in(PHONE, PASSWORD)) == "signed in"


def test_an_unknown_login_is_counted_like_a_known_one(platform: Platform) -> None:
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    for login in (PHONE, "+8613700000002"):
        answers = [
            outcome(lambda login=login: platform.wallets.sign_in(login, "not it!!"))
            for _ in range(11)
        ]
        assert answers == ["wrong"] * PER_LOGIN_MAX + ["too many"]


def test_an_address_trying_many_logins_is_stopped_at_its_own_limit(platform: Platform) -> None:
    platform.wallets.sign_ins.per_address = 25
    logins = [f"+86137000{i:05d}" for i in range(40)]
    answers = [
        outcome(lambda lg=lg: platform.wallets.sign_in(lg, PASSWORD, "9.9.9.9")) for lg in logins
    ]
    assert answers == ["wrong"] * 25 + ["too many"] * 15
    platform.wallets.sign_up(logins[-1], PASSWORD, "Li Wei")
    with pytest.raises(TooManySignIns, match="this address"):
        platform.wallets.sign_in(logins[-1], PASSWORD, "9.9.9.9")
    assert platform.wallets.sign_in(logins[-1], PASSWORD, "9.9.9.10")[1].login == logins[-1]


def test_the_table_holds_no_login_and_maintenance_forgets_old_windows(
    platform: Platform,
) -> None:
    outcome(lambda: platform.wallets.sign_in(PHONE, "not it!!", "1.2.3.4"))
    with platform.engine.connect() as conn:
        keys = conn.execute(select(sign_in_tries.c.key)).scalars().all()
    assert len(keys) == 2 and all(len(k) == 64 and PHONE not in k for k in keys)
    assert platform.wallets.sign_ins.forget_old() == 0
    later(platform, WINDOW_US)
    assert platform.wallets.sign_ins.forget_old() == 2
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sign_in_tries)).scalar() == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/sessions", {"login": PHONE, "password": "not it!!"}),
        ("/v1/merchant-sessions", {"login": SHOP, "password": "not it!!"}),
        ("/web/sessions", {"kind": "consumer", "login": PHONE, "password": "not it!!"}),
    ],
)
def test_the_api_answers_429_with_retry_after(
    platform: Platform, client: TestClient, path: str, body: dict[str, str]
) -> None:
    statuses = [client.post(path, json=body).status_code for _ in range(PER_LOGIN_MAX)]
    assert statuses == [401] * PER_LOGIN_MAX
    refused = client.post(path, json=body)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/too-many-sign-ins")
    assert "this login" in problem["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= WINDOW_US // 1_000_000
    assert problem["retry_after_s"] == int(refused.headers["Retry-After"])
