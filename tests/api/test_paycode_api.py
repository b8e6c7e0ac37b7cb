"""Payment codes over HTTP: the till scans, small amounts settle, larger ones wait for the PIN."""

from __future__ import annotations

import base64
import threading
import time

import pytest

from saoma.client import SaomaError
from saoma.paycode import codes
from support import PIN, Server, new_consumer, new_merchant


def enrolled(server: Server, balance: int, *, no_pin: int = 0) -> tuple[object, bytes, list[str]]:
    payer = new_consumer(server, balance=balance)
    if no_pin:
        payer.client.request(
            "PUT", "/v1/me/no-pin-limit", {"per_payment": no_pin, "per_day": no_pin * 3, "pin": PIN}
        )
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    assert len(device["handles"]) == 100 and device["step_s"] == 30
    return payer, base64.b64decode(device["secret"]), device["handles"]


def test_small_charge_settles_at_once_under_the_no_pin_limit(server: Server) -> None:
    shop = new_merchant(server)
    payer, secret, handles = enrolled(server, 10_000, no_pin=5_000)
    code = codes.generate(secret, handles[0], time.time())
    charge = shop.client.create_charge(code, 1_800, "TILL-1")
    assert charge["state"] == "succeeded" and charge["payment_id"]
    assert shop.client.get_charge(charge["id"]) == charge  # answered as it was stored
    assert payer.client.me()["balance"] == 8_200  # type: ignore[attr-defined]
    history = payer.client.payments()["data"][0]  # type: ignore[attr-defined]
    assert (history["kind"], history["authorisation"]) == ("paycode", "no_pin_limit")
    with pytest.raises(SaomaError) as again:  # the same code cannot pay twice
        shop.client.create_charge(code, 100, "TILL-2")
    assert again.value.slug == "code-used"


def test_a_larger_charge_waits_for_the_payers_pin(server: Server) -> None:
    shop = new_merchant(server)
    payer, secret, handles = enrolled(server, 20_000, no_pin=1_000)
    charge = shop.client.create_charge(
        codes.generate(secret, handles[0], time.time()), 5_000, "T-3"
    )
    assert charge["state"] == "waiting_for_payer"
    waiting = payer.client.request("GET", "/v1/me/charges")["data"]  # type: ignore[attr-defined]
    assert [w["id"] for w in waiting] == [charge["id"]] and waiting[0]["amount"] == 5_000
    with pytest.raises(SaomaError) as wrong:
        payer.client.request(  # type: ignore[attr-defined]
            "POST", f"/v1/me/charges/{charge['id']}/answer", {"pin": "000000"}
        )
    assert wrong.value.slug == "pin-wrong"
    assert shop.client.get_charge(charge["id"])["state"] == "waiting_for_payer"
    done = payer.client.request(  # type: ignore[attr-defined]
        "POST", f"/v1/me/charges/{charge['id']}/answer", {"pin": PIN}
    )
    assert done["state"] == "succeeded"
    assert shop.client.get_charge(charge["id"])["state"] == "succeeded"
    assert payer.client.me()["balance"] == 15_000  # type: ignore[attr-defined]

    refused = shop.client.create_charge(
        codes.generate(secret, handles[1], time.time()), 4_000, "T-4"
    )
    payer.client.request(  # type: ignore[attr-defined]
        "POST", f"/v1/me/charges/{refused['id']}/answer", {"accept": False}
    )
    assert shop.client.get_charge(refused["id"])["state"] == "refused"
    assert payer.client.me()["balance"] == 15_000  # type: ignore[attr-defined]


def test_expired_guessed_and_revoked_codes_are_refused(server: Server) -> None:
    shop = new_merchant(server)
    payer, secret, handles = enrolled(server, 10_000, no_pin=5_000)
    old = codes.generate(secret, handles[0], time.time() - 90)
    with pytest.raises(SaomaError) as expired:
        shop.client.create_charge(old, 100, "E-1", terminal_id="till-e")
    assert expired.value.slug == "code-expired"
    forged = "28" + handles[1] + "000000"
    if forged != codes.generate(secret, handles[1], time.time()):
        with pytest.raises(SaomaError) as guessed:
            shop.client.create_charge(forged, 100, "E-2", terminal_id="till-e")
        assert guessed.value.slug == "code-unknown"
    device_id = payer.client.request("GET", "/v1/me/devices")["data"][0]["id"]  # type: ignore[attr-defined]
    payer.client.request("DELETE", f"/v1/me/devices/{device_id}")  # type: ignore[attr-defined]
    with pytest.raises(SaomaError) as revoked:
        shop.client.create_charge(codes.generate(secret, handles[2], time.time()), 100, "E-3")
    assert revoked.value.slug == "code-unknown"
    assert payer.client.me()["balance"] == 10_000  # type: ignore[attr-defined]


def test_guessing_at_a_terminal_is_rate_limited(server: Server) -> None:
    shop = new_merchant(server)
    slugs = []
    for n in range(7):
        try:
            shop.client.create_charge(f"28{n:010d}123456", 100, f"G-{n}", terminal_id="till-g")
        except SaomaError as exc:
            slugs.append(exc.slug)
    assert slugs[:5] == ["code-unknown"] * 5 and slugs[5:] == ["too-many-tries"] * 2
    # Another terminal of the same shop is not blocked by it.
    with pytest.raises(SaomaError) as other:
        shop.client.create_charge("28" + "9" * 16, 100, "G-x", terminal_id="till-h")
    assert other.value.slug == "code-unknown"


def test_one_code_at_two_tills_at_once_pays_once(server: Server) -> None:
    shop = new_merchant(server)
    payer, secret, handles = enrolled(server, 10_000, no_pin=5_000)
    code = codes.generate(secret, handles[0], time.time())
    outcomes: list[object] = []

    def till(n: int) -> None:
        try:
            outcomes.append(shop.client.create_charge(code, 1_000, f"R-{n}", terminal_id=f"t{n}"))
        except SaomaError as exc:
            outcomes.append(exc.slug)

    threads = [threading.Thread(target=till, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert all(o == "code-used" for o in outcomes if not isinstance(o, dict))
    assert payer.client.me()["balance"] == 9_000  # type: ignore[attr-defined]
