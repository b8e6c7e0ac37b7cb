"""Mandates in process, over HTTP: the app on the test's platform (both databases), a signed
shop, a payer with money, and the mandates' clock, moved by the tests (``later``).

The books and every wallet debit's authorisation (mandate debits included) are checked when
each test ends (``platform``).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saoma import signing
from saoma.api.app import create_app
from saoma.bootstrap import Platform
from saoma.client import ConsumerClient, MerchantClient
from saoma.core.ids import now_us
from support import PASSWORD, PIN, approved, funded_payer

HOUR_US = 3600 * 1_000_000


@pytest.fixture
def app(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, start=False)) as client:
        yield client


@dataclass
class Shop:
    client: MerchantClient
    id: str


@dataclass
class Payer:
    client: ConsumerClient
    id: str
    login: str


@pytest.fixture
def shop(platform: Platform, app: TestClient) -> Callable[..., Shop]:
    def sign_up(webhook_url: str = "", name: str = "Lotus Gym") -> Shop:
        merchant = platform.merchants.sign_up(
            login=f"gym-{secrets.token_hex(4)}@example.cn",
            password=PASSWORD,
            name=name,
            city="SZ",
            webhook_url=webhook_url,
        )
        approved(platform, merchant)
        key = signing.new_private_key()
        public = base64.b64encode(signing.public_key_bytes(key)).decode()
        key_id = platform.merchants.add_key(merchant.id, public)
        client = MerchantClient("http://testserver", key_id=key_id, private_key=key)
        client.http = app
        return Shop(client, merchant.id)

    return sign_up


@pytest.fixture
def payer(platform: Platform, app: TestClient) -> Callable[[int], Payer]:
    def make(balance: int) -> Payer:
        consumer = funded_payer(platform, balance)
        client = ConsumerClient("http://testserver", platform.wallets.new_session(consumer.id))
        client.http = app
        return Payer(client, consumer.id, consumer.login)

    return make


def today(platform: Platform, days: int = 0) -> str:
    """The server's calendar day, ``days`` from today, as YYYY-MM-DD."""
    now = datetime.fromtimestamp(platform.mandates.clock() / 1e6, UTC)
    return (now.astimezone(platform.mandates.tz) + timedelta(days=days)).date().isoformat()


def later(platform: Platform, hours: float) -> int:
    """Move the mandates' clock ``hours`` on (from where it stands); the new time."""
    moved = platform.mandates.clock() + int(hours * HOUR_US)
    platform.mandates.clock = lambda: moved
    return moved


def back_to_now(platform: Platform) -> None:
    platform.mandates.clock = now_us


def agreed(
    platform: Platform,
    shop: Shop,
    payer: Payer,
    *,
    frequency: str = "monthly",
    amount_max: int = 5_000,
    start_days: int = 0,
    end_days: int = 365,
    **extra: Any,
) -> dict[str, Any]:
    """A mandate the payer agreed to with the PIN."""
    asked = shop.client.request_mandate(
        payer.id,
        f"GYM-{secrets.token_hex(4)}",
        purpose=extra.get("purpose", "Gym membership"),
        amount_max=amount_max,
        frequency=frequency,
        start_on=today(platform, start_days),
        end_on=today(platform, end_days),
    )
    return payer.client.agree_mandate(asked["id"], PIN)
