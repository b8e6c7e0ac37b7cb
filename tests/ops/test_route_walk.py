"""A walk through every ``/v1/ops/`` route in a small world (a payer who paid a shop, a contested
dispute, shops waiting for onboarding), each called by a role its permission allows:

- there is no route that reads or acts on a person's data without writing an audit entry naming
  that person with the typed reason;
- no operator route can debit a consumer wallet (a dispute decided for the payer credits it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from disputes.conftest import jpeg_b64
from ops.test_ops_routes import gate, ops_routes
from saoma.bootstrap import Platform
from saoma.disputes.photos import check_photo
from saoma.merchants.service import Merchant
from saoma.operators import totp
from saoma.operators.roles import ROLES, may
from support import PASSWORD, PIN, funded_payer
from support_ops import OpsUser, signed_in_operator

REASON = "Ticket 7781: 走一遍"
KYC_DETAILS = {
    "legal_name": "深圳市老陈餐饮有限公司",
    "licence_number": "91440300MA5EXAMPL6",
    "category": "5814",
    "owner_id_number": "11010519491231002X",
}


@dataclass(frozen=True)
class World:
    consumer_id: str
    merchant_id: str
    dispute_id: str
    file_id: str
    approving_id: str  # a shop whose details wait for approval
    rejecting_id: str  # and one whose details will be rejected
    payer_account: int


def a_shop(platform: Platform, name: str) -> Merchant:
    return platform.merchants.sign_up(
        login=f"shop-{secrets.token_hex(4)}@example.cn", password=PASSWORD, name=name, city="SZ"
    )


def small_world(platform: Platform) -> World:
    payer = funded_payer(platform, 50_000)
    shop = a_shop(platform, "Old Chen Noodles")
    paid = platform.payments.pay_static(payer, shop.id, amount=3_000, pin=PIN)
    photo = check_photo("image/jpeg", jpeg_b64())
    opened = platform.disputes.open(
        payer, paid["id"], reason="not_received", text_="Never came.", photo=photo
    )
    platform.disputes.contest(shop, opened["id"], text_="It was delivered.")
    waiting = [a_shop(platform, name) for name in ("Approve Me", "Reject Me")]
    for pending in waiting:
        platform.kyc.submit(pending, KYC_DETAILS)
    (file_id,) = [e["file_id"] for e in opened["timeline"] if e.get("file_id")]
    return World(
        payer.id, shop.id, opened["id"], file_id, waiting[0].id, waiting[1].id, payer.account_id
    )


def concrete(path: str, world: World) -> str:
    if path.startswith("/v1/ops/kyc/{merchant_id}/"):
        shop = world.approving_id if path.endswith("/approve") else world.rejecting_id
        path = path.replace("{merchant_id}", shop)
    for name, value in (
        ("consumer_id", world.consumer_id),
        ("merchant_id", world.merchant_id),
        ("dispute_id", world.dispute_id),
        ("file_id", world.file_id),
    ):
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"the walk has no id for {path}"
    return path


def subjects(path: str, world: World) -> set[str]:
    """The people whose data the route reads or acts on (one audit entry must name one)."""
    if "{dispute_id}" in path:
        return {world.consumer_id, world.merchant_id}
    if path.startswith("/v1/ops/kyc/{merchant_id}/"):
        return {world.approving_id if path.endswith("/approve") else world.rejecting_id}
    found = {"{consumer_id}": world.consumer_id, "{merchant_id}": world.merchant_id}
    return {person for name, person in found.items() if name in path}


BODIES: dict[str, dict[str, Any]] = {
    "/freeze": {"reason_shown": "Your phone was reported stolen.", "appeal": "Call 400"},
    "/unfreeze": {"note": "Found again"},
    "/decide": {"for": "payer", "note": "No proof of delivery."},
    "/reject": {"message": "The licence does not match."},
}


def order(entry: tuple[str, str, APIRoute]) -> tuple[int, str]:
    """Reads first, then actions (a dispute before the freezes, a freeze before its lift), the
    sign-out last."""
    method, path, _ = entry
    if method == "DELETE":
        return 9, path
    if method == "GET":
        return 0, path
    rank = {"/decide": 1, "/approve": 2, "/reject": 2, "/freeze": 3, "/unfreeze": 4}
    return next((r for end, r in rank.items() if path.endswith(end)), 5), path


def audit_rows(platform: Platform) -> list[tuple[str, str, str]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(text("SELECT subject_id, action, reason FROM audit_log")).all()
    return [(r.subject_id, r.action, r.reason) for r in rows]


def wallets(platform: Platform) -> dict[int, tuple[int, int]]:
    """Each consumer wallet's ledger account: (posted balance, pending debits)."""
    sql = (
        "SELECT a.id, a.credits_posted - a.debits_posted AS balance, a.debits_pending"
        " FROM accounts a JOIN consumers c ON c.account_id = a.id"
    )
    with platform.engine.connect() as conn:
        return {r.id: (r.balance, r.debits_pending) for r in conn.execute(text(sql))}


def debits_since(platform: Platform, seq: int, accounts: set[int]) -> list[tuple[str, int]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, debit_account_id, amount FROM transfers WHERE seq > :s"), {"s": seq}
        ).all()
    return [(r.id, r.amount) for r in rows if r.debit_account_id in accounts]


def last_seq(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM transfers")).scalar_one())


def call(
    client: TestClient, method: str, path: str, url: str, who: OpsUser, platform: Platform
) -> int:
    if method == "DELETE":  # signing out: a session of its own
        who = signed_in_operator(platform.engine, who.role)
    headers = who.headers(REASON)
    body: dict[str, Any] | None = None
    if path == "/v1/ops/sessions":  # a real sign-in: password and the authenticator's code
        login = f"walk-{secrets.token_hex(3)}@ops.example"
        added = platform.operators.add(login, PASSWORD, "admin")
        body = {"login": login, "password": PASSWORD, "code": totp.code(added.secret)}
    elif method == "POST":
        body = next((b for end, b in BODIES.items() if path.endswith(end)), {})
        headers["Idempotency-Key"] = secrets.token_hex(8)
    query = {"q": "Chen"} if path.endswith("/search") else None
    answer = client.request(method, url, headers=headers, json=body, params=query)
    assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
    return answer.status_code


def test_every_ops_route_logs_the_person_it_touches_and_debits_no_wallet(
    platform: Platform, client: TestClient
) -> None:
    world = small_world(platform)
    by_role = {role: signed_in_operator(platform.engine, role) for role in ROLES}
    walked = []
    for method, path, route in sorted(ops_routes(platform), key=order):
        needed = gate(route)
        role = next(r for r in ROLES if needed is None or may(r, needed.permission))
        seq, before_wallets, before_audit = (
            last_seq(platform),
            wallets(platform),
            audit_rows(platform),
        )
        call(client, method, path, concrete(path, world), by_role[role], platform)
        name = f"{method} {path} ({role})"
        debited = debits_since(platform, seq, set(before_wallets))
        assert debited == [], f"{name} debited a consumer wallet: {debited}"
        after_wallets = wallets(platform)
        for account, (balance, pending) in before_wallets.items():
            assert after_wallets[account][0] >= balance, f"{name} lowered wallet {account}"
            assert after_wallets[account][1] <= pending, f"{name} reserved from wallet {account}"
        people = subjects(path, world)
        if people or getattr(needed, "needs_reason", False):
            new = audit_rows(platform)[len(before_audit) :]
            assert any(s in people and reason == REASON for s, _, reason in new), (
                f"{name} touched {people or 'a person'} and left no audit entry naming them: {new}"
            )
        walked.append(name)
    assert len(walked) >= 20, walked
    assert any("/decide" in w for w in walked) and any("/unfreeze" in w for w in walked)
    decided = client.get(
        f"/v1/ops/disputes/{world.dispute_id}", headers=by_role["support"].headers(REASON)
    )
    assert decided.json()["state"] == "decided_for_payer"
    assert wallets(platform)[world.payer_account] == (50_000, 0)  # paid 30.00, refunded 30.00
