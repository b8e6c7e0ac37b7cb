"""Mandates over the HTTP API, in process on both databases: the payer agrees with the PIN,
the merchant announces and debits, and every rule refuses with its own problem type.

The mandates' clock is moved (``later``) to stand a day or more after a notice.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.client import SaomaError
from saoma.mandates import service as mandate_service
from support import PIN

from .conftest import Payer, Shop, agreed, later, today

SHENZHEN = ZoneInfo("Asia/Shanghai")  # the server's zone (SAOMA_TIMEZONE's default)
Shops = Callable[..., Shop]
Payers = Callable[[int], Payer]


def refused(call: Callable[[], Any]) -> tuple[int, str, str | None]:
    with pytest.raises(SaomaError) as caught:
        call()
    return caught.value.status, caught.value.slug, caught.value.problem.get("field")


def events(platform: Platform, mandate_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The mandate's outbox events: (type, url, data), oldest first."""
    with platform.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type, url, payload FROM outbox WHERE subject = :s ORDER BY created_at_us"),
            {"s": mandate_id},
        ).all()
    return [(r.type, r.url, json.loads(r.payload)["data"]) for r in rows]


def balance(payer: Payer) -> int:
    return int(payer.client.me()["balance"])


def test_the_payer_agrees_with_the_pin_and_sees_the_request_first(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, li = shop(webhook_url="https://gym.example.cn/hooks"), payer(10_000)
    asked = gym.client.request_mandate(
        li.id,
        "GYM-1",
        purpose="Gym membership",
        amount_max=5_000,
        frequency="monthly",
        start_on=today(platform),
        end_on=today(platform, 365),
    )
    assert asked["state"] == "requested" and asked["next_debit"] is None
    again = gym.client.request_mandate(
        li.id,
        "GYM-1",
        purpose="Gym membership",
        amount_max=5_000,
        frequency="monthly",
        start_on=today(platform),
        end_on=today(platform, 365),
    )
    assert again["id"] == asked["id"]  # the mandate number makes it idempotent
    [waiting] = li.client.mandates()["data"]
    assert (waiting["id"], waiting["state"], waiting["merchant"]["name"]) == (
        asked["id"],
        "requested",
        "Lotus Gym",
    )
    assert refused(lambda: li.client.request("POST", f"/v1/me/mandates/{asked['id']}/agree", {}))[
        :2
    ] == (401, "pin-required")
    assert refused(lambda: li.client.agree_mandate(asked["id"], "135791"))[:2] == (401, "pin-wrong")
    done = li.client.agree_mandate(asked["id"], PIN)
    assert done["state"] == "active" and done["agreed_at"]
    assert done["next_debit"]["amount"] is None  # no notice yet: only the earliest date
    assert refused(lambda: li.client.agree_mandate(asked["id"], PIN))[1] == "mandate-not-requested"
    kinds = [(e[0], e[1]) for e in events(platform, asked["id"])]
    assert kinds == [
        ("mandate.created", "https://gym.example.cn/hooks"),
        ("mandate.agreed", "https://gym.example.cn/hooks"),
    ]


def test_a_request_names_the_field_at_fault(platform: Platform, shop: Shops, payer: Payers) -> None:
    gym, li = shop(), payer(0)
    good = {
        "payer": li.id,
        "merchant_mandate_no": "M-1",
        "purpose": "Milk delivery",
        "amount_max": 900,
        "frequency": "daily",
        "start_on": today(platform),
        "end_on": today(platform, 30),
    }
    for bad, field in (
        ({"frequency": "hourly"}, "frequency"),
        ({"amount_max": 0}, "amount_max"),
        ({"start_on": "2026-13-01"}, "start_on"),
        ({"end_on": today(platform, -2)}, "end_on"),
        ({"purpose": ""}, "purpose"),
        ({"payer": "c_nobody"}, "payer"),
        ({"start_on": "9999-12-01", "end_on": "9999-12-31"}, "end_on"),
    ):
        status, _slug, named = refused(
            lambda bad=bad: gym.client.request("POST", "/v1/mandates", good | bad)
        )
        assert status in (404, 422) and named and named.endswith(field), (bad, named)
    gym.client.request("POST", "/v1/mandates", good)
    assert refused(
        lambda: gym.client.request("POST", "/v1/mandates", good | {"amount_max": 901})
    ) == (409, "conflict", "merchant_mandate_no")


def test_fifty_requests_with_one_number_at_once_make_one_mandate(
    platform: Platform, shop: Shops, payer: Payers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merchant's retries of one request, sent together: every answer is the one mandate, and
    one ``mandate.created`` is written. Each request is made to find no mandate when it first
    looks, as when all of them look before any has written."""
    gym, li = shop(), payer(0)
    looked = threading.local()
    by_number = platform.mandates._by_number

    def first_look_finds_nothing(merchant_id: str, number: str) -> Any:
        looked.once = not getattr(looked, "once", False)
        return None if looked.once else by_number(merchant_id, number)

    monkeypatch.setattr(platform.mandates, "_by_number", first_look_finds_nothing)
    body = {
        "payer": li.id,
        "merchant_mandate_no": "M-RACE",
        "purpose": "Milk delivery",
        "amount_max": 900,
        "frequency": "daily",
        "start_on": today(platform),
        "end_on": today(platform, 30),
    }
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(lambda _: gym.client.request("POST", "/v1/mandates", body), range(50))
        )
    assert len({a["id"] for a in answers}) == 1
    created = [e for e in events(platform, answers[0]["id"]) if e[0] == "mandate.created"]
    assert len(created) == 1


def test_a_shop_asking_for_many_mandates_at_once_is_stopped_at_its_limit(
    platform: Platform, shop: Shops, payer: Payers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request tells whether a wallet has that phone, and leaves a request in it: fifty at
    once from one shop, with room for twenty, look up twenty wallets; the rest are 429."""
    gym, other = shop(), shop()
    milk: dict[str, Any] = {
        "purpose": "Milk delivery",
        "amount_max": 900,
        "frequency": "daily",
        "start_on": today(platform),
        "end_on": today(platform, 30),
    }
    people = [payer(0) for _ in range(2)]
    monkeypatch.setattr(platform.mandates.lookups, "most", 20)
    looked: list[str] = []
    find = platform.mandates._payer

    def counted(who: str) -> Any:
        looked.append(who)
        return find(who)

    monkeypatch.setattr(platform.mandates, "_payer", counted)

    def ask(i: int) -> tuple[int, str]:
        try:
            gym.client.request_mandate(
                people[i % 2].id if i % 5 else "+8613799990000",  # one in five has no wallet
                f"M-{i}",
                **milk,
            )
        except SaomaError as exc:
            return exc.status, exc.slug
        return 201, "requested"

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(ask, range(50)))
    assert len(looked) == 20
    assert [a for a in answers if a[0] == 429] == [(429, "too-many-lookups")] * 30
    assert sum(1 for a in answers if a[0] in (201, 404)) == 20
    with pytest.raises(SaomaError) as again:
        gym.client.request_mandate(
            people[0].id,
            "M-LATE",
            **milk,
        )
    assert again.value.status == 429
    assert int(gym.client.last_response.headers["Retry-After"]) > 0
    # A retry of a mandate asked for already looks no wallet up: it is answered, not refused.
    i = next(i for i, a in enumerate(answers) if a[0] == 201)
    retried = gym.client.request_mandate(
        people[i % 2].id,
        f"M-{i}",
        **milk,
    )
    assert retried["state"] == "requested" and len(looked) == 20
    asked = other.client.request_mandate(  # another shop has its own count
        people[0].id,
        "M-1",
        **milk,
    )
    assert asked["state"] == "requested"


def test_a_debit_a_day_after_its_notice_moves_the_money_and_shows_in_the_bills(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, li = shop(webhook_url="https://gym.example.cn/hooks"), payer(10_000)
    mandate = agreed(platform, gym, li, purpose="Gym membership")
    notice = gym.client.announce_debit(mandate["id"], 3_900)
    seen = li.client.mandates()["data"][0]
    assert seen["notices"][0]["id"] == notice["id"]
    assert seen["next_debit"] == {
        "at": notice["debit_from"],
        "amount": 3_900,
        "notice_id": notice["id"],
    }
    later(platform, 24.5)
    made = gym.client.debit_mandate(mandate["id"], notice["id"], 3_900, idempotency_key="d-1")
    replay = gym.client.debit_mandate(mandate["id"], notice["id"], 3_900, idempotency_key="d-1")
    assert replay == made and made["state"] == "made" and made["payment"]["kind"] == "mandate"
    assert balance(li) == 6_100
    mine = li.client.mandates()["data"][0]
    assert [d["amount"] for d in mine["debits"]] == [3_900] and mine["debits_made"] == 1
    assert mine["next_debit"]["amount"] is None  # the next month, once announced
    local = datetime.fromtimestamp(platform.mandates.clock() / 1e6, UTC).astimezone(SHENZHEN)
    first = date(local.year + local.month // 12, local.month % 12 + 1, 1)
    midnight = datetime.combine(first, time(), SHENZHEN).astimezone(UTC)
    assert mine["next_debit"]["at"] == midnight.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    bills = li.client.request("GET", "/v1/me/bills")["data"]
    line = next(b for b in bills if b["payment_id"] == made["payment_id"])
    assert (line["kind"], line["amount"], line["mandate_id"], line["mandate_purpose"]) == (
        "payment",
        3_900,
        mandate["id"],
        "Gym membership",
    )
    debited = [e for e in events(platform, mandate["id"]) if e[0] == "mandate.debited"]
    assert [e[2]["debit"]["payment_id"] for e in debited] == [made["payment_id"]]
    # The merchant's statement names the mandate on the debit's line.
    day = local.date().isoformat()
    rows = list(csv.DictReader(io.StringIO(gym.client.statement(day, day))))
    debit_line = next(r for r in rows if r["payment_id"] == made["payment_id"])
    assert (debit_line["kind"], debit_line["mandate_id"]) == ("mandate", mandate["id"])


def test_each_rule_refuses_with_its_own_problem_type(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, li = shop(), payer(10_000)
    daily = agreed(platform, gym, li, frequency="daily", amount_max=1_000)
    md = daily["id"]
    first, second = (gym.client.announce_debit(md, 800) for _ in range(2))
    recent = gym.client.announce_debit(md, 800)
    assert refused(lambda: gym.client.announce_debit(md, 1_001))[:2] == (
        422,
        "mandate-amount-above-max",
    )
    assert refused(lambda: gym.client.debit_mandate(md, recent["id"], 800)) == (
        422,
        "mandate-notice-too-recent",
        "notice_id",
    )
    later(platform, 25)
    assert refused(lambda: gym.client.debit_mandate(md, "mn_none", 800))[:2] == (
        422,
        "mandate-notice-missing",
    )
    assert refused(lambda: gym.client.debit_mandate(md, first["id"], 1_200))[:2] == (
        422,
        "mandate-amount-above-max",
    )
    assert refused(lambda: gym.client.debit_mandate(md, first["id"], 700))[:2] == (
        422,
        "mandate-notice-amount",
    )
    gym.client.debit_mandate(md, first["id"], 800)
    assert refused(lambda: gym.client.debit_mandate(md, second["id"], 800))[:2] == (
        422,
        "mandate-too-soon",
    )
    assert refused(lambda: gym.client.debit_mandate(md, first["id"], 800))[:2] == (
        409,
        "mandate-notice-used",
    )
    li.client.object_to_notice(md, second["id"])
    later(platform, 24)  # the next day: the frequency allows one more
    assert refused(lambda: gym.client.debit_mandate(md, second["id"], 800))[:2] == (
        409,
        "mandate-notice-objected",
    )
    later(platform, 24 * 8)
    assert refused(lambda: gym.client.debit_mandate(md, recent["id"], 800))[:2] == (
        422,
        "mandate-notice-expired",
    )
    assert balance(li) == 9_200
    shown = li.client.mandates()["data"][0]["debits"]
    reasons = [d["reason"] for d in shown if d["state"] == "refused"]
    assert "mandate-notice-objected" in reasons and "mandate-too-soon" in reasons
    hooks = [e[2]["debit"]["reason"] for e in events(platform, md) if e[0].endswith("refused")]
    assert sorted(hooks) == sorted(reasons)
    for _ in range(3):  # the merchant's retries of one refused debit are told once
        assert refused(lambda: gym.client.debit_mandate(md, second["id"], 800))[1] == (
            "mandate-notice-objected"
        )
    shown = li.client.mandates()["data"][0]["debits"]
    again = [d["reason"] for d in shown if d["state"] == "refused"]
    assert again.count("mandate-notice-objected") == 1 and sorted(again) == sorted(reasons)
    hooks = [e[2]["debit"]["reason"] for e in events(platform, md) if e[0].endswith("refused")]
    assert sorted(hooks) == sorted(reasons)


def test_two_mandates_refused_on_one_made_up_notice_id_each_record_theirs(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    """The notice id is whatever the merchant sends: one refusal per mandate, not per id."""
    gym, pool = shop(), shop()
    li, wang = payer(10_000), payer(10_000)
    mine, theirs = agreed(platform, gym, li)["id"], agreed(platform, pool, wang)["id"]
    for client, md in ((gym.client, mine), (pool.client, theirs)):
        assert refused(lambda c=client, m=md: c.debit_mandate(m, "N-1", 800))[1] == (
            "mandate-notice-missing"
        )
    for who, md in ((li, mine), (wang, theirs)):
        (shown,) = [m for m in who.client.mandates()["data"] if m["id"] == md]
        assert [d["reason"] for d in shown["debits"]] == ["mandate-notice-missing"]
        hooks = [e for e in events(platform, md) if e[0] == "mandate.debit_refused"]
        assert len(hooks) == 1


def test_a_debit_outside_the_period_is_refused(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, li = shop(), payer(10_000)
    future = agreed(platform, gym, li, start_days=3, end_days=10)
    early = gym.client.announce_debit(future["id"], 500)
    ending = agreed(platform, gym, li, start_days=0, end_days=0)
    last = gym.client.announce_debit(ending["id"], 500)
    later(platform, 25)
    assert refused(lambda: gym.client.debit_mandate(future["id"], early["id"], 500))[:2] == (
        422,
        "mandate-not-started",
    )
    assert refused(lambda: gym.client.debit_mandate(ending["id"], last["id"], 500))[:2] == (
        422,
        "mandate-ended",
    )
    assert refused(lambda: gym.client.announce_debit(ending["id"], 500))[1] == "mandate-ended"
    later(platform, 24 * 3)
    assert gym.client.debit_mandate(future["id"], early["id"], 500)["state"] == "made"


def test_pause_resume_and_revoke_take_effect_at_once(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, li = shop(webhook_url="https://gym.example.cn/hooks"), payer(10_000)
    md = agreed(platform, gym, li, frequency="daily")["id"]
    notices = [gym.client.announce_debit(md, 300) for _ in range(2)]
    later(platform, 25)
    paused = li.client.change_mandate(md, "pause")
    assert paused["state"] == "paused" and paused["next_debit"] is None
    assert li.client.change_mandate(md, "pause")["state"] == "paused"  # a second tap: no change
    assert refused(lambda: gym.client.debit_mandate(md, notices[0]["id"], 300))[:2] == (
        409,
        "mandate-paused",
    )
    assert refused(lambda: gym.client.announce_debit(md, 300))[1] == "mandate-paused"
    assert li.client.change_mandate(md, "resume")["state"] == "active"
    gym.client.debit_mandate(md, notices[0]["id"], 300)
    later(platform, 24)
    revoked = li.client.change_mandate(md, "revoke")
    assert revoked["state"] == "revoked" and revoked["revoked_at"]
    assert refused(lambda: gym.client.debit_mandate(md, notices[1]["id"], 300))[:2] == (
        409,
        "mandate-revoked",
    )
    assert refused(lambda: li.client.change_mandate(md, "resume"))[1] == "mandate-revoked"
    assert balance(li) == 9_700
    kinds = [e[0] for e in events(platform, md)]
    assert kinds[:3] == ["mandate.created", "mandate.agreed", "mandate.paused"]
    assert kinds[3:] == [
        "mandate.debit_refused",
        "mandate.resumed",
        "mandate.debited",
        "mandate.revoked",
        "mandate.debit_refused",
    ]


def test_a_wallet_without_the_money_is_refused_and_nothing_moves(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, li = shop(), payer(200)
    md = agreed(platform, gym, li)["id"]
    notice = gym.client.announce_debit(md, 500)
    later(platform, 25)
    assert refused(lambda: gym.client.debit_mandate(md, notice["id"], 500))[:2] == (
        402,
        "insufficient-funds",
    )
    assert balance(li) == 200
    mandate = gym.client.get_mandate(md)
    assert mandate["debits_made"] == 0 and mandate["notices"][0]["state"] == "pending"
    assert mandate["debits"][0]["reason"] == "insufficient-funds"


def test_a_mandate_is_its_payer_s_and_its_merchant_s_only(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, other_shop, li, bob = shop(), shop(), payer(1_000), payer(1_000)
    md = agreed(platform, gym, li)["id"]
    assert refused(lambda: bob.client.change_mandate(md, "revoke"))[:2] == (404, "not-found")
    assert refused(lambda: other_shop.client.announce_debit(md, 100))[:2] == (404, "not-found")
    assert bob.client.mandates()["data"] == []
    seen_by_shop = gym.client.get_mandate(md)
    assert "payer" in seen_by_shop and "merchant" not in seen_by_shop
    assert li.login not in json.dumps(seen_by_shop)  # the payer's phone stays theirs


def test_a_merchant_lists_its_mandates_newest_first_a_page_at_a_time(
    platform: Platform, shop: Shops, payer: Payers
) -> None:
    gym, other_shop, li, bob = shop(), shop(), payer(1_000), payer(1_000)
    made = [agreed(platform, gym, li if i % 2 else bob)["id"] for i in range(5)]
    waiting = gym.client.request_mandate(
        li.id,
        "GYM-ASKED",
        purpose="Locker",
        amount_max=500,
        frequency="monthly",
        start_on=today(platform),
        end_on=today(platform, 30),
    )["id"]
    li.client.change_mandate(made[1], "pause")
    theirs = agreed(platform, other_shop, li)["id"]  # another merchant's: never in gym's list

    seen, cursor = [], None
    while True:
        page = gym.client.mandates(limit=2, cursor=cursor)
        assert len(page["data"]) <= 2
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [m["id"] for m in seen] == [waiting, *reversed(made)]
    assert [m["state"] for m in seen] == [
        "requested",
        "active",
        "active",
        "active",
        "paused",
        "active",
    ]
    assert all("payer" in m and li.login not in json.dumps(m) for m in seen)
    alone = gym.client.get_mandate(made[0])  # each as its own page shows it (but for the
    # next debit's earliest time, counted from the moment asked)
    assert {**seen[-1], "next_debit": None} == {**alone, "next_debit": None}

    assert [m["id"] for m in gym.client.mandates(state="paused")["data"]] == [made[1]]
    assert [m["id"] for m in gym.client.mandates(state="requested")["data"]] == [waiting]
    assert refused(lambda: gym.client.mandates(state="gone")) == (422, "invalid-request", "state")
    assert refused(lambda: gym.client.mandates(cursor="x"))[:2] == (422, "invalid-request")
    assert refused(lambda: gym.client.mandates(limit=0))[:2] == (422, "invalid-request")
    assert [m["id"] for m in other_shop.client.mandates()["data"]] == [theirs]


def test_both_lists_show_each_mandate_with_its_own_notices_and_debits(
    platform: Platform, shop: Shops, payer: Payers, monkeypatch: pytest.MonkeyPatch
) -> None:
    gym, li, bob = shop(), payer(10_000), payer(10_000)
    daily = agreed(platform, gym, li, frequency="daily", amount_max=1_000)["id"]
    monthly = agreed(platform, gym, bob)["id"]
    quiet = agreed(platform, gym, li)["id"]
    first = gym.client.announce_debit(daily, 800)
    gym.client.announce_debit(daily, 700)
    gym.client.announce_debit(monthly, 4_000)
    later(platform, 25)
    gym.client.debit_mandate(daily, first["id"], 800)

    listed = {m["id"]: m for m in gym.client.mandates()["data"]}
    assert listed.keys() == {daily, monthly, quiet}
    shown = {md: (len(m["notices"]), len(m["debits"])) for md, m in listed.items()}
    assert shown == {daily: (2, 1), monthly: (1, 0), quiet: (0, 0)}
    assert [n["amount"] for n in listed[daily]["notices"]] == [700, 800]  # newest first
    for md, seen in listed.items():
        assert seen == gym.client.get_mandate(md)  # as its own page shows it, payer included

    mine = {m["id"]: m for m in li.client.mandates()["data"]}
    assert mine.keys() == {daily, quiet}  # bob's is not in li's wallet
    for md, seen in mine.items():
        assert seen == li.client.request("GET", f"/v1/me/mandates/{md}")
        assert seen["merchant"]["id"] == gym.id

    monkeypatch.setattr(mandate_service, "NOTICES_SHOWN_MAX", 1)  # each shows its newest only
    newest = {m["id"]: m["notices"] for m in gym.client.mandates()["data"]}
    assert [n["amount"] for n in newest[daily]] == [700]
    assert [n["amount"] for n in newest[monthly]] == [4_000] and newest[quiet] == []
