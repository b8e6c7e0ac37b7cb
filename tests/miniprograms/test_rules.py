"""The registration rules and the ride's fare, without a database."""

from __future__ import annotations

import base64

import pytest

from saoma.core.errors import InvalidRequest
from saoma.demo_apps import ride
from saoma.miniprograms import rules

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("https://bike.example.cn", "https://bike.example.cn"),
        ("HTTPS://Bike.Example.CN:443/", "https://bike.example.cn"),
        ("https://bike.example.cn:8443", "https://bike.example.cn:8443"),
    ],
)
def test_an_origin_has_one_written_form(given: str, written: str) -> None:
    assert rules.check_origin(given, allow_private=False) == written


@pytest.mark.parametrize(
    "origin",
    [
        "http://bike.example.cn",  # plain http on the internet
        "https://bike.example.cn/app",  # a path: the wallet frames origins, not pages
        "https://bike.example.cn?x=1",
        "https://user@bike.example.cn",
        "javascript:alert(1)",
        "https://10.0.0.7",  # an address on a private network
        "http://127.0.0.1:8001",  # this machine, unless the demo allows it
        "https://localhost",
        "https://bïke.example.cn",
        "",
    ],
)
def test_an_origin_a_wallet_should_not_frame_is_refused(origin: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        rules.check_origin(origin, allow_private=False)
    assert refused.value.field == "origin"


def test_this_machine_only_when_private_targets_are_allowed() -> None:
    assert (
        rules.check_origin("http://127.0.0.1:8001", allow_private=True) == "http://127.0.0.1:8001"
    )
    assert (
        rules.check_origin("http://localhost:8001", allow_private=True) == "http://localhost:8001"
    )
    with pytest.raises(InvalidRequest):
        rules.check_origin("http://10.0.0.7:8001", allow_private=True)


def test_icons_are_small_pngs_or_svgs_without_scripts() -> None:
    png = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert rules.check_icon(png) == png
    svg = "<svg xmlns='http://www.w3.org/2000/svg'/>"
    assert rules.check_icon("data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode())
    refused = [
        "https://bike.example.cn/icon.png",
        "data:image/png;base64," + base64.b64encode(b"GIF89a").decode(),
        "data:image/png;base64," + base64.b64encode(PNG + bytes(rules.ICON_BYTES_MAX)).decode(),
        "data:image/svg+xml;base64,"
        + base64.b64encode(b"<svg><script>alert(1)</script></svg>").decode(),
        "data:image/png;base64,not base64!",
    ]
    for icon in refused:
        with pytest.raises(InvalidRequest):
            rules.check_icon(icon)


def test_scopes_are_known_and_kept_in_one_order() -> None:
    assert rules.check_scopes(["profile.phone", "profile.masked_name"]) == (
        "profile.masked_name profile.phone"
    )
    assert rules.check_scopes([]) == ""
    for bad in (["profile.email"], ["profile.phone", "profile.phone"]):
        with pytest.raises(InvalidRequest):
            rules.check_scopes(bad)
    with pytest.raises(InvalidRequest):  # not among what the service registered
        rules.check_scopes(["profile.phone"], ("profile.masked_name",))


def test_the_masked_name_shows_no_more_than_a_payment_does() -> None:
    assert rules.masked_name("Li Wei 李伟") == "*伟"
    assert rules.masked_name("Li Wei") == "*Wei"
    assert rules.masked_name("陈美") == "*美"
    assert rules.masked_name("  ") == ""


def test_a_ride_costs_one_fifty_per_half_hour_started() -> None:
    assert [ride.fare_of(s) for s in (0, 5, 1799, 1800, 1801, 3601)] == [
        150,
        150,
        150,
        150,
        300,
        450,
    ]
    assert ride.fare_of(10**9) == ride.DEPOSIT  # never more than the deposit held
    assert ride.bike_of("SAOMA-BIKE:SZ-0042") == "SZ-0042"
    assert ride.bike_of("SAOMA-BIKE:sz-42") is None
