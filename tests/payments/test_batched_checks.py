"""A rule a payment's record checks inside the ledger's batch (the order still open, no freeze
on the wallet) refuses its own payment only: the batch is rolled back and its requests applied
again one by one, so the other payments taken into the same batch are paid, each once."""

from __future__ import annotations

import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from saoma.bootstrap import Platform
from saoma.core.errors import OrderNotPayable, WalletFrozen
from saoma.freezes.service import Doer
from saoma.merchants.service import Merchant
from support import PASSWORD, PIN, approved, funded_payer, one_batch

WAIT_S = 10.0
SUPPORT = Doer("op_support", "support", "ticket T-9")


def _shop(platform: Platform) -> Merchant:
    return approved(
        platform,
        platform.merchants.sign_up(
            login=f"shop-{secrets.token_hex(4)}@example.cn",
            password=PASSWORD,
            name="Batch Noodles",
            city="SZ",
        ),
    )


def _outcome(future: Future[Any]) -> Any:
    try:
        return future.result(timeout=WAIT_S)
    except Exception as exc:
        return exc


def test_a_closed_order_refuses_its_own_payment_and_its_batch_is_paid(
    platform: Platform,
) -> None:
    shop = _shop(platform)
    payers = [funded_payer(platform, 1_000) for _ in range(3)]
    orders = [
        platform.payments.create_order(
            shop, merchant_order_no=f"B-{i}", amount=100 + i, currency="CNY"
        )[0]
        for i in range(3)
    ]
    with ThreadPoolExecutor(3) as pool:
        with one_batch(platform) as held:
            paying = [
                pool.submit(platform.payments.pay_order, payer, order["id"], pin=PIN)
                for payer, order in zip(payers, orders, strict=True)
            ]
            held.wait_for(3)  # each read its order open; now the merchant closes the second
            platform.payments.close_order(shop, orders[1]["id"])
        outcomes = [_outcome(f) for f in paying]
    assert held.sizes[0] == 3 * 2, held.sizes  # one batch: a payment and its fee each
    assert isinstance(outcomes[1], OrderNotPayable), outcomes[1]
    assert [o["amount"] for i, o in enumerate(outcomes) if i != 1] == [100, 102]
    assert [platform.wallets.balance(p)["balance"] for p in payers] == [900, 1_000, 898]
    assert platform.payments.get_order(shop, orders[1]["id"])["state"] == "closed"
    paid = platform.payments.list_payments(merchant=shop)["data"]
    assert sorted(p["amount"] for p in paid) == [100, 102]


def test_a_wallet_frozen_meanwhile_refuses_its_own_payment_and_its_batch_is_paid(
    platform: Platform,
) -> None:
    shop = _shop(platform)
    payers = [funded_payer(platform, 1_000) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        with one_batch(platform) as held:
            paying = [
                pool.submit(platform.payments.pay_static, payer, shop.id, amount=250, pin=PIN)
                for payer in payers
            ]
            held.wait_for(3)
            platform.freezes.freeze(SUPPORT, "consumer", payers[0].id, "Stolen phone")
        outcomes = [_outcome(f) for f in paying]
    assert held.sizes[0] == 3 * 2, held.sizes
    assert isinstance(outcomes[0], WalletFrozen), outcomes[0]
    assert [o["amount"] for o in outcomes[1:]] == [250, 250]
    assert [platform.wallets.balance(p)["balance"] for p in payers] == [1_000, 750, 750]
