"""People, operators and an in-process client for the operators' tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from saoma.api.app import create_app
from saoma.bootstrap import Platform
from support import PASSWORD, Wiring


@dataclass(frozen=True)
class People:
    consumer_id: str
    consumer_login: str
    consumer_token: str
    merchant_id: str
    merchant_token: str


@pytest.fixture
def wiring(tmp_path: Path) -> Wiring:
    """The operators' key and the audit head file in the test's own folder."""
    return Wiring(
        settings={"ops_key_file": tmp_path / "ops.key", "audit_head_file": tmp_path / "head.log"}
    )


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, start=False)) as test_client:
        yield test_client


@pytest.fixture
def people(platform: Platform) -> People:
    consumer = platform.wallets.sign_up("+8613900001234", PASSWORD, "Wang Fang")
    token = platform.wallets.new_session(consumer.id)
    shop = platform.merchants.sign_up(
        login="noodles@example.cn",
        password=PASSWORD,
        name="Old Chen Noodles",
        name_zh="老陈面馆",
        city="Shenzhen",
    )
    return People(
        consumer.id, consumer.login, token, shop.id, platform.merchants.session_token(shop.id)
    )
