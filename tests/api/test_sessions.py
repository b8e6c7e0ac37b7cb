"""Ending sessions and changing passwords, over real HTTP on both databases: a lost phone or
till is signed out everywhere, a new password ends every other session, and a live event stream
of an ended session stops."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.client import SaomaError
from saoma.core.errors import (
    Conflict,
    PasswordWrong,
    SignInFailed,
    TooManySignIns,
    Unauthenticated,
)
from saoma.server import create_app
from saoma.wallets import signins
from support import PASSWORD, Payer, Server, Shop, new_consumer, new_merchant, server_with

server = server_with("sessions", SAOMA_STREAM_SESSION_CHECK_S="0.2")
NEW_PASSWORD = "another horse battery"
SHOP_LOGIN = "noodles@example.cn"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def consumer_token(server: Server, login: str, password: str = PASSWORD) -> str:
    answer = httpx.post(
        server.url + "/v1/sessions", json={"login": login, "password": password}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def merchant_token(server: Server, login: str, password: str = PASSWORD) -> str:
    answer = httpx.post(
        server.url + "/v1/merchant-sessions",
        json={"login": login, "password": password},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def status(server: Server, method: str, path: str, token: str, **kw: object) -> httpx.Response:
    return httpx.request(method, server.url + path, headers=bearer(token), timeout=10, **kw)  # type: ignore[arg-type]


def test_a_new_password_ends_every_other_wallet_session(server: Server) -> None:
    payer = new_consumer(server, pin=None)
    phone, laptop = consumer_token(server, payer.login), consumer_token(server, payer.login)
    wrong = status(
        server,
        "PUT",
        "/v1/me/password",
        phone,
        json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 401 and wrong.json()["field"] == "current_password"
    short = status(
        server,
        "PUT",
        "/v1/me/password",
        phone,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert short.status_code == 422 and "password" in short.json()["detail"]
    assert status(server, "GET", "/v1/me", laptop).status_code == 200  # nothing changed yet
    changed = status(
        server,
        "PUT",
        "/v1/me/password",
        phone,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"sessions_ended": 2}  # the laptop's and the sign-up's
    assert status(server, "GET", "/v1/me", laptop).status_code == 401
    assert status(server, "GET", "/v1/me", phone).status_code == 200
    refused = httpx.post(
        server.url + "/v1/sessions", json={"login": payer.login, "password": PASSWORD}
    )
    assert refused.status_code == 401
    consumer_token(server, payer.login, NEW_PASSWORD)


def test_signing_out_everywhere_ends_every_session_and_stops_the_codes(server: Server) -> None:
    """A lost phone: from the laptop, every session ends and the phone's codes stop."""
    payer = new_consumer(server, pin=None)
    phone, laptop = consumer_token(server, payer.login), consumer_token(server, payer.login)
    enrolled = status(server, "POST", "/v1/me/devices", phone, json={"label": "phone"})
    assert enrolled.status_code == 201, enrolled.text
    ended = status(server, "DELETE", "/v1/sessions", laptop)
    assert ended.status_code == 200
    assert ended.json() == {"sessions_ended": 3, "devices_revoked": 1}
    for token in (phone, laptop, payer.client.token):
        assert status(server, "GET", "/v1/me", str(token)).status_code == 401
    again = consumer_token(server, payer.login)
    assert status(server, "GET", "/v1/me/devices", again).json()["data"] == []  # none makes codes


def test_a_till_signs_out_one_session_or_every_one(server: Server) -> None:
    shop = new_merchant(server)
    till, dashboard = merchant_token(server, shop.login), merchant_token(server, shop.login)
    assert status(server, "DELETE", "/v1/merchant-sessions/current", till).status_code == 204
    assert status(server, "GET", "/v1/merchant", till).status_code == 401
    assert status(server, "GET", "/v1/merchant", dashboard).status_code == 200
    with pytest.raises(SaomaError) as signed:  # a signed request has no session to end
        shop.client.request("DELETE", "/v1/merchant-sessions/current")
    assert signed.value.status == 422 and signed.value.problem["field"] == "Authorization"

    set_pin = status(
        server,
        "PUT",
        "/v1/merchant/manager-pin",
        dashboard,
        json={"pin": "135790", "password": PASSWORD},
    )
    assert set_pin.status_code == 204, set_pin.text
    no_pin = status(server, "DELETE", "/v1/merchant-sessions", dashboard)
    assert no_pin.status_code == 422 and no_pin.json()["field"] == "Saoma-Manager-Pin"
    assert status(server, "GET", "/v1/merchant", dashboard).status_code == 200
    ended = httpx.delete(
        server.url + "/v1/merchant-sessions",
        headers={**bearer(dashboard), "Saoma-Manager-Pin": "135790"},
        timeout=10,
    )
    assert ended.status_code == 200 and ended.json() == {"sessions_ended": 2}
    for token in (dashboard, shop.token):
        assert status(server, "GET", "/v1/merchant", token).status_code == 401
    assert shop.client.me()["id"] == shop.id  # the shop's API keys are not sessions


def test_a_shops_new_password_keeps_only_the_session_it_came_from(server: Server) -> None:
    shop = new_merchant(server)
    dashboard, till = merchant_token(server, shop.login), merchant_token(server, shop.login)
    changed = status(
        server,
        "PUT",
        "/v1/merchant/password",
        dashboard,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200 and changed.json() == {"sessions_ended": 2}
    assert status(server, "GET", "/v1/merchant", till).status_code == 401
    assert status(server, "GET", "/v1/merchant", dashboard).status_code == 200
    # From a signed request, no session is kept.
    answer = shop.client.request(
        "PUT",
        "/v1/merchant/password",
        {"current_password": NEW_PASSWORD, "new_password": PASSWORD},
    )
    assert answer == {"sessions_ended": 1}
    assert status(server, "GET", "/v1/merchant", dashboard).status_code == 401
    till = merchant_token(server, shop.login, PASSWORD)
    # Once the shop has a manager PIN, a till's session cannot change the password without it.
    pin = {"pin": "135790", "password": PASSWORD}
    assert status(server, "PUT", "/v1/merchant/manager-pin", till, json=pin).status_code == 204
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    no_pin = status(server, "PUT", "/v1/merchant/password", till, json=change)
    assert no_pin.status_code == 422 and no_pin.json()["field"] == "Saoma-Manager-Pin"
    merchant_token(server, shop.login, PASSWORD)  # unchanged
    with_pin = httpx.put(
        server.url + "/v1/merchant/password",
        json=change,
        headers={**bearer(till), "Saoma-Manager-Pin": "135790"},
        timeout=10,
    )
    assert with_pin.status_code == 200, with_pin.text
    merchant_token(server, shop.login, NEW_PASSWORD)


def listen(url: str, token: str, heard: list[str], ready: threading.Event) -> None:
    with httpx.stream("GET", url, headers=bearer(token), timeout=20) as stream:
        for line in stream.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            if line.startswith("event: "):
                heard.append(line[7:])
                if line == "event: signed-out":
                    return
    heard.append("closed")


@pytest.mark.parametrize("kind", ["consumer", "merchant"])
def test_a_live_stream_stops_when_its_session_ends(server: Server, kind: str) -> None:
    if kind == "consumer":
        payer: Payer = new_consumer(server, pin=None)
        token, path = consumer_token(server, payer.login), "/v1/me/events"
        end = ("DELETE", "/v1/sessions", consumer_token(server, payer.login))
    else:
        shop: Shop = new_merchant(server)
        token, path = merchant_token(server, shop.login), "/v1/merchant/events"
        end = ("DELETE", "/v1/merchant-sessions", merchant_token(server, shop.login))
    heard: list[str] = []
    ready = threading.Event()
    thread = threading.Thread(target=listen, args=(server.url + path, token, heard, ready))
    thread.start()
    assert ready.wait(10)
    assert status(server, *end).status_code == 200
    thread.join(10)
    assert not thread.is_alive()
    assert heard[-1] == "signed-out"
    again = status(server, "GET", path, token)
    assert again.status_code == 401


@pytest.fixture
def shop_login(platform: Platform) -> Iterator[tuple[Platform, str]]:
    shop = platform.merchants.sign_up(
        login=SHOP_LOGIN, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
    )
    yield platform, shop.id


def counted_tries(platform: Platform, shop_id: str) -> int:
    """The wrong passwords the shop's own count holds now."""
    key = signins._key("merchant", "account", shop_id)
    with platform.engine.connect() as conn:
        found = conn.execute(
            text("SELECT failures FROM sign_in_tries WHERE key = :k"), {"k": key}
        ).scalar()
    return int(found or 0)


def test_fifty_password_changes_at_once_leave_exactly_one_password(
    shop_login: tuple[Platform, str],
) -> None:
    platform, shop_id = shop_login
    sessions = [platform.merchants.session_token(shop_id) for _ in range(3)]

    def change(i: int) -> str:
        try:
            platform.merchants.change_password(shop_id, PASSWORD, f"new password {i:02d}")
        except PasswordWrong:
            return "wrong"
        except TooManySignIns:
            return "too many"
        except Conflict:
            return "raced"
        return f"changed {i:02d}"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(change, range(50)))
    winners = [o for o in outcomes if o.startswith("changed")]
    assert len(winners) == 1
    assert outcomes.count("wrong") + outcomes.count("too many") + outcomes.count("raced") == 49
    # Only the changes that checked the winner's new password count as guesses: those that
    # lost the race with the right password were given their tries back.
    assert counted_tries(platform, shop_id) == outcomes.count("wrong")
    winner = f"new password {winners[0][-2:]}"
    assert platform.merchants.sign_in("noodles@example.cn", winner, "192.0.2.7").id == shop_id
    assert all(platform.merchants.for_token(t) is None for t in sessions)


def test_without_a_session_each_route_answers_a_problem_document(server: Server) -> None:
    for method, path in (
        ("DELETE", "/v1/sessions"),
        ("PUT", "/v1/me/password"),
        ("DELETE", "/v1/merchant-sessions/current"),
        ("DELETE", "/v1/merchant-sessions"),
        ("PUT", "/v1/merchant/password"),
    ):
        answer = httpx.request(method, server.url + path, timeout=10)
        assert answer.status_code in (401, 422), (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        json.loads(answer.text)


@pytest.mark.parametrize("kind", ["consumer", "merchant"])
def test_a_sign_in_checked_as_the_password_changes_makes_no_session(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The old password checked, then the password changed before the session is made: the
    sign-in is refused, so nobody who knew the old password keeps a way in."""
    if kind == "consumer":
        owner = platform.wallets.sign_up("+8613700000001", PASSWORD, "Li Wei").id
        service, module, table = platform.wallets, "saoma.wallets.service", "sessions"
        sign_in = lambda: platform.wallets.sign_in("+8613700000001", PASSWORD)  # noqa: E731
    else:
        owner = platform.merchants.sign_up(
            login=SHOP_LOGIN, password=PASSWORD, name="Old Chen Noodles", city="Shenzhen"
        ).id
        service, module, table = platform.merchants, "saoma.merchants.service", "merchant_sessions"
        sign_in = lambda: platform.merchants.sign_in_session(SHOP_LOGIN, PASSWORD)  # noqa: E731
    real = importlib.import_module(module).password_matches

    def then_changed(hashed: str, secret: str) -> bool:
        matched = bool(real(hashed, secret))
        monkeypatch.setattr(f"{module}.password_matches", real)
        service.change_password(owner, PASSWORD, NEW_PASSWORD)  # type: ignore[attr-defined]
        return matched

    monkeypatch.setattr(f"{module}.password_matches", then_changed)
    with pytest.raises(SignInFailed, match="changed meanwhile"):
        sign_in()
    with platform.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def _enrolling_client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, start=False)) as client:
        yield client


def test_a_device_enrolled_as_its_wallet_signs_out_everywhere_is_never_left_live(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The phone's session passed its check, then the wallet signed out everywhere before the
    device was written: no device is made, so none makes codes after the lost phone's owner
    stopped them all."""
    payer = platform.wallets.sign_up("+8613700000002", PASSWORD, "Li Wei")
    phone, _ = platform.wallets.sign_in("+8613700000002", PASSWORD)
    real = platform.paycodes.enrol

    def signed_out_first(*args: Any, **kw: Any) -> Any:
        platform.wallets.sign_out_everywhere(payer.id, with_it=platform.paycodes.revoke_all)
        return real(*args, **kw)

    monkeypatch.setattr(platform.paycodes, "enrol", signed_out_first)
    for client in _enrolling_client(platform):
        answer = client.post("/v1/me/devices", json={"label": "phone"}, headers=bearer(phone))
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert platform.paycodes.devices(payer.id) == []
    with platform.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM paycode_devices")).scalar() == 0


def test_fifty_enrolments_racing_a_sign_out_everywhere_leave_no_live_device(
    platform: Platform,
) -> None:
    """Fifty devices enrolled at once under one session while the wallet signs out everywhere:
    each enrolment is made and stopped, or refused; none is left making codes."""
    payer = platform.wallets.sign_up("+8613700000005", PASSWORD, "Li Wei")
    phone, _ = platform.wallets.sign_in("+8613700000005", PASSWORD)
    signed_in = partial(platform.wallets.hold_session, consumer_id=payer.id, token=phone)

    def enrol(i: int) -> str:
        try:
            platform.paycodes.enrol(payer.id, f"phone {i}", while_signed_in=signed_in)
        except Unauthenticated:
            return "refused"
        return "made"

    def sign_out() -> tuple[int, int]:
        return platform.wallets.sign_out_everywhere(payer.id, with_it=platform.paycodes.revoke_all)

    with ThreadPoolExecutor(51) as pool:
        results = pool.map(enrol, range(50))
        ended = pool.submit(sign_out)
        outcomes, (sessions, revoked) = list(results), ended.result()
    assert sessions == 1 and outcomes.count("made") + outcomes.count("refused") == 50
    assert platform.paycodes.devices(payer.id) == []  # none makes codes
    with platform.engine.connect() as conn:
        made = conn.execute(text("SELECT count(*) FROM paycode_devices")).scalar()
    assert made == revoked >= outcomes.count("made")  # every device made was stopped


def test_a_sign_out_as_the_first_handles_are_issued_answers_401_and_leaves_none(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device was made, then the wallet signed out everywhere while its handles were
    issued: the phone hears that its session ended, and no handle of the device is left."""
    payer = platform.wallets.sign_up("+8613700000004", PASSWORD, "Li Wei")
    phone, _ = platform.wallets.sign_in("+8613700000004", PASSWORD)
    real = platform.paycodes._issue

    def then_signed_out(device_id: str) -> list[str]:
        handles = real(device_id)
        platform.wallets.sign_out_everywhere(payer.id, with_it=platform.paycodes.revoke_all)
        return handles + real(device_id)  # one more batch, after the stop

    monkeypatch.setattr(platform.paycodes, "_issue", then_signed_out)
    for client in _enrolling_client(platform):
        answer = client.post("/v1/me/devices", json={"label": "phone"}, headers=bearer(phone))
        assert answer.status_code == 401, answer.text
    with platform.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM paycode_handles")).scalar() == 0
    assert platform.paycodes.devices(payer.id) == []


def test_signing_out_everywhere_during_an_enrolment_stops_that_device_too(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The enrolment holds its session; a sign-out everywhere arriving then waits for it and
    stops the device it made, so the device's codes never pay."""
    payer = platform.wallets.sign_up("+8613700000003", PASSWORD, "Li Wei")
    phone, _ = platform.wallets.sign_in("+8613700000003", PASSWORD)
    real = platform.wallets.hold_session
    outcome: list[tuple[int, int]] = []
    sign_out = threading.Thread(
        target=lambda: outcome.append(
            platform.wallets.sign_out_everywhere(payer.id, with_it=platform.paycodes.revoke_all)
        )
    )

    def then_signed_out(*args: Any, **kw: Any) -> bool:
        held = real(*args, **kw)
        sign_out.start()
        sign_out.join(0.5)  # it waits for the enrolment's commit
        return held

    monkeypatch.setattr(platform.wallets, "hold_session", then_signed_out)
    for client in _enrolling_client(platform):
        answer = client.post("/v1/me/devices", json={"label": "phone"}, headers=bearer(phone))
        # 201, or 401 when the sign-out committed before the answer was made
        assert answer.status_code in (201, 401), answer.text
    sign_out.join(10)
    assert outcome == [(1, 1)]  # the session ended and the device made under it stopped
    assert platform.paycodes.devices(payer.id) == []
