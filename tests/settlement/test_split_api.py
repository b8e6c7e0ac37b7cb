"""Split payments over HTTP: agreements proposed and answered by signed requests and dashboard
sessions, a standing share taken by the server on its own, a split asked for, a refund."""

from __future__ import annotations

import pytest

from saoma.client import ConsumerClient, SaomaError
from support import PIN, Server, new_consumer, new_merchant, wait_for


def test_agreements_and_splits_over_http(server: Server) -> None:
    stall = new_merchant(server, name="Old Chen Noodles")
    court = new_merchant(server, name="Futian Food Court")
    market = new_merchant(server, name="Huaqiangbei Market")
    payer = new_consumer(server, balance=100_000)
    # The stall signs its requests; the court answers from its dashboard session.
    dashboard = ConsumerClient(server.url, court.token)
    standing = stall.client.request(
        "POST",
        "/v1/split-agreements",
        {"receiver_id": court.id, "share_ppm": 80_000, "standing": True},
    )
    assert (standing["state"], standing["standing"]) == ("proposed", True)
    listed = dashboard.request("GET", "/v1/split-agreements")["data"]
    assert [a["id"] for a in listed] == [standing["id"]]
    accepted = dashboard.request("POST", f"/v1/split-agreements/{standing['id']}/accept")
    assert accepted["state"] == "accepted"

    paid = payer.client.pay_static(stall.id, 2_500, PIN)
    path = f"/v1/payments/{paid['id']}/splits"
    wait_for(
        lambda: stall.client.request("GET", path)["data"],
        timeout=20,
        what="the standing split (the maintenance loop)",
    )
    (court_split,) = stall.client.request("GET", path)["data"]
    assert (court_split["amount"], court_split["receiver_id"]) == (200, court.id)
    assert dashboard.request("GET", "/v1/merchant")["balance"] == 200

    offer = stall.client.request(
        "POST",
        "/v1/split-agreements",
        {"receiver_id": market.id, "share_ppm": 50_000, "cap": 2_000},
    )
    market.client.request("POST", f"/v1/split-agreements/{offer['id']}/accept")
    split = stall.client.request("POST", path, {"agreement_id": offer["id"]})
    assert split["amount"] == 125
    assert stall.client.request("POST", path, {"agreement_id": offer["id"]}) == split  # once
    stall.client.refund(paid["id"], 2_500, "R-ALL")
    returned = stall.client.request("GET", path)["data"]
    assert [(s["amount"], s["returned"]) for s in returned] == [(200, 200), (125, 125)]
    assert market.client.request("GET", "/v1/merchant")["balance"] == 0
    ended = market.client.request("POST", f"/v1/split-agreements/{offer['id']}/end")
    assert ended["state"] == "ended"


def test_refusals_over_http(server: Server) -> None:
    stall, court = new_merchant(server), new_merchant(server, name="Futian Food Court")
    with pytest.raises(SaomaError) as bad:
        stall.client.request(
            "POST", "/v1/split-agreements", {"receiver_id": court.id, "share_ppm": 2_000_000}
        )
    assert (bad.value.status, bad.value.problem["field"]) == (422, "share_ppm")
    offer = stall.client.request(
        "POST", "/v1/split-agreements", {"receiver_id": court.id, "fixed": 100}
    )
    with pytest.raises(SaomaError) as not_theirs:  # the giver cannot accept its own offer
        stall.client.request("POST", f"/v1/split-agreements/{offer['id']}/accept")
    assert not_theirs.value.status == 404
    court.client.request("POST", f"/v1/split-agreements/{offer['id']}/decline")
    with pytest.raises(SaomaError) as declined:
        court.client.request("POST", f"/v1/split-agreements/{offer['id']}/accept")
    assert declined.value.status == 409
    paid = new_consumer(server, balance=1_000).client.pay_static(stall.id, 1_000, PIN)
    with pytest.raises(SaomaError) as unaccepted:
        stall.client.request(
            "POST", f"/v1/payments/{paid['id']}/splits", {"agreement_id": offer["id"]}
        )
    assert unaccepted.value.status == 409
    with pytest.raises(SaomaError) as hidden:
        court.client.request("GET", f"/v1/payments/{paid['id']}/splits")
    assert hidden.value.status == 404
