"""Wrong passwords are limited per account and address, per account and per address: fifty
guesses at once from one address check ten, a stranger at one address cannot lock the owner out,
and an unknown login is counted like a known one."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from saoma.bootstrap import Platform
from saoma.core.errors import PasswordWrong, SignInFailed, TooManySignIns
from saoma.server import create_app
from saoma.wallets import signins
from saoma.wallets.signins import DEVICE_US, PER_ACCOUNT_MAX, PER_PAIR_MAX, WINDOW_US
from saoma.wallets.tables import sign_in_devices, sign_in_tries
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


def test_fifty_wrong_passwords_at_once_from_one_address_check_ten(platform: Platform) -> None:
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    with ThreadPoolExecutor(50) as pool:
        outcomes = list(
            pool.map(
                lambda _: outcome(lambda: platform.wallets.sign_in(PHONE, "not it!!", "1.2.3.4")),
                range(50),
            )
        )
    assert outcomes.count("wrong") == PER_PAIR_MAX
    assert outcomes.count("too many") == 50 - PER_PAIR_MAX
    with pytest.raises(TooManySignIns, match="from this address") as refused:
        platform.wallets.sign_in(PHONE, PASSWORD, "1.2.3.4")  # the right one waits there too
    assert 0 < refused.value.extra["retry_after_s"] <= WINDOW_US // 1_000_000
    # The owner, elsewhere, is not locked out by a stranger at one address.
    assert platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8")[1].login == PHONE
    later(platform, WINDOW_US)
    token, consumer = platform.wallets.sign_in(PHONE, PASSWORD, "1.2.3.4")
    assert token.startswith("st_") and consumer.login == PHONE


def test_guesses_from_many_addresses_stop_at_the_accounts_own_limit(platform: Platform) -> None:
    platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )

    def guess(i: int) -> str:
        return outcome(lambda: platform.merchants.sign_in(SHOP, "not it!!", f"10.0.0.{i % 20}"))

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(guess, range(80)))
    assert outcomes.count("wrong") == PER_ACCOUNT_MAX
    assert outcomes.count("too many") == 80 - PER_ACCOUNT_MAX
    with pytest.raises(TooManySignIns, match="for this account in"):
        platform.merchants.sign_in(SHOP, PASSWORD, "192.0.2.1")
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")  # a consumer's account is counted apart
    assert platform.wallets.sign_in(PHONE, PASSWORD, "10.0.0.1")[1].login == PHONE


def test_a_right_password_gives_back_its_own_try_only(platform: Platform) -> None:
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")

    def sign_in(password: str) -> str:
        return outcome(lambda: platform.wallets.sign_in(PHONE, password, "1.2.3.4"))

    answers = [sign_in("typo typo") for _ in range(PER_PAIR_MAX - 1)]
    answers += [sign_in(PASSWORD), sign_in("typo typo"), sign_in("typo typo")]
    assert answers == ["wrong"] * (PER_PAIR_MAX - 1) + ["signed in", "wrong", "too many"]


def test_an_unknown_login_is_counted_like_a_known_one(platform: Platform) -> None:
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    for login in (PHONE, "+8613700000002"):
        answers = [
            outcome(lambda login=login: platform.wallets.sign_in(login, "not it!!", "1.2.3.4"))
            for _ in range(PER_PAIR_MAX + 1)
        ]
        assert answers == ["wrong"] * PER_PAIR_MAX + ["too many"]


def test_an_address_trying_many_logins_is_stopped_at_its_own_limit(platform: Platform) -> None:
    platform.wallets.sign_ins.per_address = 25
    logins = [f"+86137000{i:05d}" for i in range(40)]
    answers = [
        outcome(lambda lg=lg: platform.wallets.sign_in(lg, PASSWORD, "9.9.9.9")) for lg in logins
    ]
    assert answers == ["wrong"] * 25 + ["too many"] * 15
    platform.wallets.sign_up(logins[-1], PASSWORD, "Li Wei")
    with pytest.raises(TooManySignIns, match="for this address"):
        platform.wallets.sign_in(logins[-1], PASSWORD, "9.9.9.9")
    assert platform.wallets.sign_in(logins[-1], PASSWORD, "9.9.9.10")[1].login == logins[-1]


def test_an_ipv6_client_is_one_address_across_its_64(platform: Platform) -> None:
    platform.wallets.sign_ins.per_address = 3
    tries = [
        ("+8613700000011", "2001:db8::1"),
        ("+8613700000012", "2001:db8::2:3"),
        ("+8613700000013", "2001:db8::ffff:1"),
        ("+8613700000014", "2001:db8::4"),  # the same /64: refused
        ("+8613700000015", "2001:db8:0:1::1"),  # the next /64
    ]
    answers = [
        outcome(lambda lg=lg, at=at: platform.wallets.sign_in(lg, PASSWORD, at)) for lg, at in tries
    ]
    assert answers == ["wrong", "wrong", "wrong", "too many", "wrong"]


def test_the_first_pin_set_with_the_password_is_counted_too(platform: Platform) -> None:
    """A stolen session cannot guess the password through the first PIN (or manager PIN)."""
    consumer = platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    shop = platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    set_pins = (
        lambda password: platform.wallets.set_pin(
            consumer.id, "135790", password=password, old_pin=None, address="1.2.3.4"
        ),
        lambda password: platform.merchants.set_manager_pin(
            shop.id, "135790", password=password, old_pin=None, address="1.2.3.4"
        ),
    )
    for set_pin in set_pins:
        for _ in range(PER_PAIR_MAX):
            with pytest.raises((SignInFailed, PasswordWrong)):
                set_pin("not it!!")
        with pytest.raises(TooManySignIns):
            set_pin(PASSWORD)
    with pytest.raises(TooManySignIns):  # the same account's count as its sign-in
        platform.wallets.sign_in(PHONE, PASSWORD, "1.2.3.4")
    later(platform, WINDOW_US)
    for set_pin in set_pins:
        set_pin(PASSWORD)
    assert platform.wallets.get(consumer.id).has_pin


def test_the_table_holds_no_login_and_maintenance_forgets_old_windows(
    platform: Platform,
) -> None:
    outcome(lambda: platform.wallets.sign_in(PHONE, "not it!!", "1.2.3.4"))
    with platform.engine.connect() as conn:
        rows = conn.execute(select(sign_in_tries)).all()
    assert len(rows) == 3  # the login from the address, the login, the address
    assert all(set(row.key) <= set("0123456789abcdef") for row in rows)
    assert platform.wallets.sign_ins.forget_old() == 0
    later(platform, WINDOW_US)
    assert platform.wallets.sign_ins.forget_old() == 3
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sign_in_tries)).scalar() == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/sessions", {"login": PHONE, "password": "not it!!"}),
        ("/v1/merchant-sessions", {"login": SHOP, "password": "not it!!"}),
        ("/web/sessions", {"kind": "consumer", "login": PHONE, "password": "not it!!"}),
        ("/web/sessions", {"kind": "merchant", "login": SHOP, "password": "not it!!"}),
    ],
)
def test_the_api_answers_429_with_retry_after(
    platform: Platform, client: TestClient, path: str, body: dict[str, str]
) -> None:
    statuses = [client.post(path, json=body).status_code for _ in range(PER_PAIR_MAX)]
    assert statuses == [401] * PER_PAIR_MAX
    refused = client.post(path, json=body)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/too-many-sign-ins")
    assert "this account from this address" in problem["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= WINDOW_US // 1_000_000
    assert problem["retry_after_s"] == int(refused.headers["Retry-After"])


DEVICE = "sd_" + "d" * 43  # a browser the owner signed in from before


def knows(tries: signins.SignInTries, who: tuple[str, str], device: str) -> bool:
    """Whether ``who`` (``("account", id)``) has ``device`` remembered, not past its time."""
    key = signins._key(tries.kind, *who, "device", device)
    with tries.engine.connect() as conn:
        found = conn.execute(
            select(sign_in_devices.c.key).where(
                sign_in_devices.c.key == key, sign_in_devices.c.expires_at_us > tries.clock()
            )
        ).first()
    return found is not None


def test_a_device_the_owner_signed_in_from_is_not_held_back_by_guesses_elsewhere(
    platform: Platform,
) -> None:
    """Strangers at many addresses run the account's count up: a new browser of the owner's
    waits, the one they signed in from before does not; its own guesses still stop at ten."""
    owner = platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8", DEVICE)  # known from now on
    guesses = [
        outcome(lambda i=i: platform.wallets.sign_in(PHONE, "not it!!", f"10.0.1.{i % 10}"))
        for i in range(PER_ACCOUNT_MAX)
    ]
    assert guesses == ["wrong"] * PER_ACCOUNT_MAX
    new_browser = "sd_" + "n" * 43
    assert outcome(lambda: platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.9")) == "too many"
    assert outcome(lambda: platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.9", new_browser)) == (
        "too many"
    )
    assert platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.9", DEVICE)[1].id == owner.id
    # A copy of the device's cookie spends the device's own ten, wherever the copies are, and
    # then meets the account's count, spent by the strangers: the device waits with the rest.
    own_guesses = [
        outcome(lambda i=i: platform.wallets.sign_in(PHONE, "not it!!", f"7.7.7.{i}", DEVICE))
        for i in range(PER_PAIR_MAX + 1)
    ]
    assert own_guesses == ["wrong"] * PER_PAIR_MAX + ["too many"]
    with pytest.raises(TooManySignIns, match="for this account in"):
        platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.9", DEVICE)


def test_a_copied_device_cookie_does_not_lock_its_owner_out(platform: Platform) -> None:
    """The device's own count spent by a copy of its cookie elsewhere, the owner's right
    password on it is counted as any device's is, and signs in."""
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8", DEVICE)
    for i in range(PER_PAIR_MAX):
        outcome(lambda i=i: platform.wallets.sign_in(PHONE, "not it!!", f"7.7.7.{i}", DEVICE))
    assert platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8", DEVICE)[1].login == PHONE


def test_fifty_wrong_passwords_at_once_from_a_known_device_check_ten_of_its_own(
    platform: Platform,
) -> None:
    """A copy of a known device's cookie sending fifty guesses at once from fifty addresses:
    the device's own count takes exactly ten, and the other forty are counted as any device's
    (the account's fifty), so none is checked beyond the two counts together."""
    owner = platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    platform.merchants.sign_in(SHOP, PASSWORD, "5.6.7.8", DEVICE)

    def guess(i: int) -> str:
        return outcome(lambda: platform.merchants.sign_in(SHOP, "not it!!", f"7.7.{i}.1", DEVICE))

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(guess, range(50)))
    assert outcomes == ["wrong"] * 50
    with platform.engine.connect() as conn:
        on_device = conn.execute(select(sign_in_devices.c.failures)).scalar_one()
        on_account = conn.execute(
            select(sign_in_tries.c.failures).where(
                sign_in_tries.c.key == signins._key("merchant", "account", owner.id)
            )
        ).scalar_one()
    assert (on_device, on_account) == (PER_PAIR_MAX, 50 - PER_PAIR_MAX)


def test_a_copied_device_cookie_gets_ten_guesses_until_its_owner_signs_in_again(
    platform: Platform,
) -> None:
    """No window gives a known device its own count back: after ten wrong passwords a copy of
    its cookie is counted as any device is, under the account's fifty, until a right one."""
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8", DEVICE)

    def guess(at: str) -> str:
        return outcome(lambda: platform.wallets.sign_in(PHONE, "not it!!", at, DEVICE))

    assert [guess(f"7.7.7.{i}") for i in range(PER_PAIR_MAX)] == ["wrong"] * PER_PAIR_MAX
    later(platform, WINDOW_US)
    answers = [guess(f"8.8.{i // 200}.{i % 200}") for i in range(PER_ACCOUNT_MAX + 1)]
    assert answers == ["wrong"] * PER_ACCOUNT_MAX + ["too many"]
    later(platform, WINDOW_US)
    assert platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8", DEVICE)[1].login == PHONE
    with platform.engine.connect() as conn:  # the right password renews the device's own ten
        assert conn.execute(select(sign_in_devices.c.failures)).scalar_one() == 0


def test_a_device_signed_in_as_the_password_changes_is_not_remembered(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever signed in with the old password as the owner changed it keeps no known device."""
    owner = platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    tries = platform.merchants.sign_ins
    real = tries.remember

    def changed_first(*args: object) -> None:
        platform.merchants.change_password(owner.id, PASSWORD, "another horse battery")
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(tries, "remember", changed_first)
    platform.merchants.sign_in(SHOP, PASSWORD, "5.6.7.8", DEVICE)
    assert not knows(tries, ("account", owner.id), DEVICE)
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sign_in_devices)).scalar() == 0


def test_a_known_device_behind_a_busy_shared_address_still_signs_in(platform: Platform) -> None:
    """Many people behind one carrier address: once that address's count is spent, those who
    signed in from their device before still can, and the device helps no other account."""
    platform.wallets.sign_ins.per_address = 5
    platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    platform.wallets.sign_up("+8613700000002", PASSWORD, "Wang Fang")
    platform.wallets.sign_in(PHONE, PASSWORD, "100.64.0.1", DEVICE)
    for i in range(5):
        outcome(lambda i=i: platform.wallets.sign_in(f"+86137000100{i:02d}", "x" * 8, "100.64.0.1"))
    at_carrier = "100.64.0.1"
    assert outcome(lambda: platform.wallets.sign_in(PHONE, PASSWORD, at_carrier)) == "too many"
    assert platform.wallets.sign_in(PHONE, PASSWORD, at_carrier, DEVICE)[1].login == PHONE
    other = lambda: platform.wallets.sign_in("+8613700000002", PASSWORD, at_carrier, DEVICE)  # noqa: E731
    assert outcome(other) == "too many"  # the device is known to its own account only
    platform.wallets.sign_ins.per_address = 1000  # a stranger there guesses the owner's own
    for _ in range(PER_PAIR_MAX):
        outcome(lambda: platform.wallets.sign_in(PHONE, "not it!!", at_carrier))
    assert outcome(lambda: platform.wallets.sign_in(PHONE, PASSWORD, at_carrier)) == "too many"
    assert platform.wallets.sign_in(PHONE, PASSWORD, at_carrier, DEVICE)[1].login == PHONE


def test_maintenance_forgets_devices_not_signed_in_from_for_their_time(platform: Platform) -> None:
    owner = platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    platform.merchants.sign_in(SHOP, PASSWORD, "5.6.7.8", DEVICE)
    tries, shop = platform.merchants.sign_ins, ("account", owner.id)
    assert knows(tries, shop, DEVICE) and not knows(tries, shop, "sd_" + "n" * 43)
    assert not knows(platform.wallets.sign_ins, shop, DEVICE)  # kinds apart
    later(platform, DEVICE_US)
    assert not knows(tries, shop, DEVICE)
    assert tries.forget_old() == 4  # the sign-in's three windows, and the device
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sign_in_devices)).scalar() == 0


def test_a_new_password_or_a_sign_out_everywhere_forgets_every_device(
    platform: Platform,
) -> None:
    """Whoever once signed in with the old password, or holds a lost phone, keeps no way past
    the account's counts."""
    consumer = platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    shop = platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    platform.wallets.sign_in(PHONE, PASSWORD, "5.6.7.8", DEVICE)
    platform.merchants.sign_in(SHOP, PASSWORD, "5.6.7.8", DEVICE)
    wallet, till = platform.wallets.sign_ins, platform.merchants.sign_ins
    assert knows(wallet, ("account", consumer.id), DEVICE)
    platform.wallets.change_password(consumer.id, PASSWORD, "another horse battery")
    assert not knows(wallet, ("account", consumer.id), DEVICE)
    assert knows(till, ("account", shop.id), DEVICE)  # another account's are kept
    platform.merchants.sign_out_everywhere(shop.id)
    assert not knows(till, ("account", shop.id), DEVICE)
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sign_in_devices)).scalar() == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/sessions", {"login": PHONE, "password": PASSWORD}),
        ("/v1/merchant-sessions", {"login": SHOP, "password": PASSWORD}),
        ("/web/sessions", {"kind": "consumer", "login": PHONE, "password": PASSWORD}),
        ("/web/sessions", {"kind": "merchant", "login": SHOP, "password": PASSWORD}),
    ],
)
def test_a_sign_in_keeps_its_device_and_the_device_gets_past_a_locked_count(
    platform: Platform, client: TestClient, path: str, body: dict[str, str]
) -> None:
    consumer = platform.wallets.sign_up(PHONE, PASSWORD, "Li Wei")
    shop = platform.merchants.sign_up(
        login=SHOP, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    first = client.post(path, json=body)
    assert first.status_code == 201, first.text
    cookie = first.headers["set-cookie"]
    assert "saoma_device=sd_" in cookie and "HttpOnly" in cookie
    device = client.cookies["saoma_device"]
    kind = body.get("kind", "merchant" if "merchant" in path else "consumer")
    account = consumer.id if kind == "consumer" else shop.id
    tries = platform.wallets.sign_ins if kind == "consumer" else platform.merchants.sign_ins
    for i in range(PER_ACCOUNT_MAX):  # guesses elsewhere spend the account's own count
        tries.claim(account, "", f"10.0.2.{i}")
    again = client.post(path, json=body)  # the cookie goes with it
    assert again.status_code == 201, again.text
    assert client.cookies["saoma_device"] == device  # the same device, kept
    with TestClient(client.app) as elsewhere:
        refused = elsewhere.post(path, json=body)
    assert refused.status_code == 429, refused.text
    assert "this account in" in refused.json()["detail"]
