"""The wallet also has: withdrawal to the bank with the PIN, listed with the bank's answer."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from support import PIN, Server
from support_wallet import axe_violations, phone_wallet, signed_in, small_targets, verified_payer
from support_web import shot

__all__ = ["phone_wallet"]


def test_a_withdrawal_with_the_pin_lands_in_the_bank_transfers_list(
    server: Server, phone_wallet: Page, shots: Path
) -> None:
    wallet = phone_wallet
    payer = verified_payer(server, "张敏", 10_000)
    signed_in(wallet, server, payer)
    wallet.get_by_role("button", name="Withdraw").click()
    form = wallet.locator("#withdraw-form")
    expect(wallet.locator("#wd-list li")).to_have_count(1)  # the top-up that funded the wallet
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []
    form.get_by_label("Amount (¥)").fill("25")
    form.get_by_label("Payment PIN (6 digits)").fill("000000")
    expect(wallet.locator("#withdraw-out")).to_have_text("Wrong PIN. Try again.")
    assert payer.client.me()["balance"] == 10_000
    form.get_by_label("Payment PIN (6 digits)").fill(PIN)  # sent at the sixth digit
    expect(wallet.locator("#withdraw-out")).to_have_text("¥25.00 was sent to your bank.")
    row = wallet.locator("#wd-list li").first
    expect(row).to_contain_text("Withdrawal to the bank")
    expect(row).to_contain_text("-¥25.00")
    expect(row).to_contain_text("done")
    withdrawals = payer.client.request(
        "GET", "/v1/me/bank-transfers", params={"direction": "withdraw"}
    )["data"]
    assert [(w["amount"], w["state"]) for w in withdrawals] == [(2_500, "succeeded")]
    assert payer.client.me()["balance"] == 7_500
    wallet.get_by_role("button", name="中文").click()
    expect(row).to_contain_text("提现到银行卡")
    shot(wallet, shots, "wallet-withdraw-zh")
    assert wallet.errors == []  # type: ignore[attr-defined]
