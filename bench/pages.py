"""The pages' own time, beside the API's in the same run: a payer pays N orders in the wallet in
Chromium (phone size) while the till (tablet size) sits on its keypad, then the same N payments
are made over the API alone.

- **scan to success**: from the payer's "Read" on a pasted code (the camera's result) to the
  success screen: the preview, the confirm screen, the six PIN digits typed, the payment, the
  drawing. Over the API: the preview and the payment, back to back.
- **confirm to announcement**: from the payer's sixth PIN digit to the till's speech starting
  (the text handed to speechSynthesis, stamped in the till's page). Over the API: from sending the
  payment to its ``payment.succeeded`` event arriving on the merchant's live event stream.

Timestamps on both sides are the machine's wall clock (``Date.now()`` in the pages,
``time.time()`` here), so they compare across the processes.

    .venv/bin/python bench/pages.py [--payments 50] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect, sync_playwright

from common import approve, pct, start_server
from saoma import signing
from saoma.client import ConsumerClient, MerchantClient

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "bench-password"
PIN = "246810"
SPOKEN_AT = """
window.__spoken = [];
if (window.speechSynthesis) {
  const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (u) => {
    window.__spoken.push({ text: u.text, at: Date.now() });
    try { speak(u); } catch (e) {}
  };
}
"""


def now_ms() -> float:
    return time.time() * 1000


def shop(url: str) -> tuple[MerchantClient, str, str]:
    """A merchant signed up over the API: its signing client, id and login (for the till)."""
    key = signing.new_private_key()
    login = f"bench-{secrets.token_hex(4)}@example.cn"
    r = httpx.post(
        url + "/v1/merchants",
        json={
            "login": login,
            "password": PASSWORD,
            "name": "Nanshan Fresh Mart",
            "city": "Shenzhen",
            "public_key": base64.b64encode(signing.public_key_bytes(key)).decode(),
        },
    )
    r.raise_for_status()
    client = MerchantClient(url, key_id=r.json()["key_id"], private_key=key)
    return client, r.json()["merchant"]["id"], login


def payer(url: str, balance: int) -> tuple[ConsumerClient, str]:
    client = ConsumerClient(url)
    login = f"+86139{secrets.randbelow(10**8):08d}"
    client.sign_up(login, PASSWORD, "张敏")
    client.set_pin(PIN, password=PASSWORD)
    client.top_up(balance)
    deadline = time.monotonic() + 30
    while client.me()["balance"] < balance and time.monotonic() < deadline:
        time.sleep(0.05)
    return client, login


def in_pages(
    browser: Any, url: str, merchant: MerchantClient, till_login: str, wallet_login: str, n: int
) -> tuple[list[float], list[float]]:
    till_ctx = browser.new_context(
        locale="zh-CN", viewport={"width": 1024, "height": 768}, bypass_csp=True
    )
    till_ctx.add_init_script(SPOKEN_AT)
    till = till_ctx.new_page()
    till.goto(url + "/cashier")
    till.locator("#cs-login").fill(till_login)
    till.locator("#cs-password").fill(PASSWORD)
    till.locator("#c-signin-form button[type=submit]").click()
    expect(till.locator("#c-keypad")).to_be_visible()
    phone = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        bypass_csp=True,
    ).new_page()
    phone.goto(url + "/wallet")
    phone.locator("#si-login").fill(wallet_login)
    phone.locator("#si-password").fill(PASSWORD)
    phone.locator("#signin-form button[type=submit]").click()
    expect(phone.locator("#v-home")).to_be_visible()
    time.sleep(1)  # the till's live stream open
    scan, announce = [], []
    for i in range(n):
        order = merchant.create_order(f"P-{i}-{secrets.token_hex(3)}", 1_000 + i)
        if till.locator("#c-paid").is_visible():
            till.locator("#c-next").click()
        said = len(till.evaluate("window.__spoken"))
        phone.locator("#v-home [data-go='v-scan']").click()
        phone.locator("#scan-text").fill(order["qr_payload"])
        started = now_ms()
        phone.locator("#paste-form button[type=submit]").click()
        expect(phone.locator("#v-confirm")).to_be_visible()
        confirmed = now_ms()
        phone.locator("#cf-pin").fill(PIN)
        expect(phone.locator("#v-done")).to_be_visible()
        scan.append(now_ms() - started)
        announce.append(spoken_at(till, said) - confirmed)
        phone.locator("#v-done [data-go='v-home']").click()
    return scan, announce


def spoken_at(till: Page, before: int) -> float:
    till.wait_for_function(f"window.__spoken.length > {before}", timeout=10_000)
    return float(till.evaluate(f"window.__spoken[{before}].at"))


def over_api(
    url: str, merchant: MerchantClient, client: ConsumerClient, n: int
) -> tuple[list[float], list[float]]:
    arrived: dict[str, float] = {}
    ready = threading.Event()

    def listen() -> None:
        path = "/v1/merchant/events"
        headers = merchant._headers("GET", path, b"")
        try:
            with httpx.stream("GET", url + path, headers=headers, timeout=None) as stream:
                ready.set()
                kind = ""
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and kind == "payment.succeeded":
                        data = json.loads(line[5:]).get("data", {})
                        arrived[str(data.get("order_id"))] = now_ms()
        except httpx.HTTPError:  # the server stopped at the end of the run
            pass

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(10)
    time.sleep(0.5)
    scan, announce = [], []
    for i in range(n):
        order = merchant.create_order(f"A-{i}-{secrets.token_hex(3)}", 1_000 + i)
        started = now_ms()
        client.preview(order["qr_payload"])
        confirmed = now_ms()
        client.pay_order(order["id"], PIN)
        scan.append(now_ms() - started)
        deadline = time.monotonic() + 10
        while order["id"] not in arrived and time.monotonic() < deadline:
            time.sleep(0.001)
        announce.append(arrived.get(order["id"], float("nan")) - confirmed)
    return scan, announce


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=50)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url_db = args.database_url or f"sqlite:///{tmp}/saoma.db"
        proc, url = start_server(url_db, Path(tmp) / "server.log")
        try:
            merchant, merchant_id, till_login = shop(url)
            approve(url_db, merchant_id)
            client, wallet_login = payer(url, 4 * args.payments * 2_000)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                pages = in_pages(browser, url, merchant, till_login, wallet_login, args.payments)
                browser.close()
            api = over_api(url, merchant, client, args.payments)
        finally:
            proc.kill()
            proc.wait()
    print(
        f"{args.payments} payments each way, {'SQLite' if not args.database_url else 'PostgreSQL'}"
    )
    print(f"{'':28}{'pages p50':>10}{'p99':>8}{'API p50':>10}{'p99':>8}  (ms)")
    for name, index in (("scan to success", 0), ("confirm to announcement", 1)):
        figures = [pct(pages[index], 0.5), pct(pages[index], 0.99)]
        figures += [pct(api[index], 0.5), pct(api[index], 0.99)]
        print(
            f"  {name:26}"
            + "".join(f"{x:{w}.0f}" for x, w in zip(figures, (10, 8, 10, 8), strict=True))
        )


if __name__ == "__main__":
    main()
