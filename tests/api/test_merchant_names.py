"""A merchant signs up with the name people know: Chinese alone will do, and no name is cut."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from support import PASSWORD, Server


def sign_up(server: Server, path: str, **names: str) -> httpx.Response:
    body: dict[str, Any] = {
        "login": f"shop-{secrets.token_hex(4)}@example.cn",
        "password": PASSWORD,
        "city": "Shenzhen",
        "category_code": "5814",
        **names,
    }
    return httpx.post(server.url + path, json=body)


def test_a_chinese_name_alone_opens_a_merchant_with_a_plain_latin_fallback(
    server: Server,
) -> None:
    for path in ("/v1/merchants", "/web/merchants"):
        opened = sign_up(server, path, name_zh="老陈面馆")
        assert opened.status_code == 201, opened.text
        merchant = opened.json().get("merchant", opened.json())
        assert merchant["name"] == "Shenzhen merchant"
    neither = sign_up(server, "/v1/merchants")
    assert neither.status_code == 422 and neither.json()["field"] == "name"


def test_a_name_too_long_is_refused_naming_the_limit_never_cut(server: Server) -> None:
    long_name = "Old Chen Hand-Pulled Noodles"  # 28 characters
    refused = sign_up(server, "/web/merchants", name=long_name)
    assert refused.status_code == 422
    assert refused.json()["field"] == "name"
    assert "25 characters" in refused.json()["detail"]
    refused_zh = sign_up(server, "/web/merchants", name_zh="面" * 26)
    assert refused_zh.status_code == 422 and refused_zh.json()["field"] == "name_zh"
