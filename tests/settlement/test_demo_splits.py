"""The demo world's shares: the food court's 8% from two stalls, the market's capped 5%; seeded
twice, each agreement is there once and each payment split once."""

from __future__ import annotations

from saoma.bootstrap import Platform
from saoma.demo import DEMO_PASSWORD, seed


def test_the_demo_court_and_market_take_their_shares_once(platform: Platform) -> None:
    seed(platform)
    seed(platform)
    sign_in = platform.merchants.sign_in
    court = sign_in("court@futian.demo", DEMO_PASSWORD)
    market = sign_in("market@huaqiangbei.demo", DEMO_PASSWORD)
    assert (court.name, court.name_zh) == ("Futian Food Court", "福田美食广场")
    assert (market.name, market.name_zh) == ("Huaqiangbei Market", "华强北市场")
    received = platform.splits.agreements_of(court)["data"]
    givers = sorted(
        sign_in(login, DEMO_PASSWORD).id
        for login in ("noodles@futian.demo", "dumplings@futian.demo")
    )
    assert sorted(a["merchant_id"] for a in received) == givers
    assert {(a["share_ppm"], a["standing"], a["state"]) for a in received} == {
        (80_000, True, "accepted")
    }
    (commission,) = platform.splits.agreements_of(market)["data"]
    assert (commission["share_ppm"], commission["cap"], commission["state"]) == (
        50_000,
        2_000,
        "accepted",
    )
    assert platform.merchants.balance(court) == 3 * 200  # 8% of three bowls of beef noodles
