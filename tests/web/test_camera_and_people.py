"""The camera path for real, money between people, and the demo start page, in Chromium."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from saoma.demo import CONSUMERS, DEMO_PIN
from support import Server, code_sent_to, free_port
from support_web import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PIN,
    confirm_phone,
    confirm_with_pin,
    new_page,
    open_stall,
    phone,
    read_code,
    scan_by_paste,
    set_no_pin_limit,
    shot,
    sign_up_consumer,
    spoken,
    top_up,
    type_amount,
)


def write_y4m(png: bytes, path: Path, *, size: tuple[int, int] = (640, 480)) -> None:
    """A short video (YUV 4:2:0, grey) of the code on a white table, for Chromium's fake camera."""
    code = Image.open(io.BytesIO(png)).convert("L")
    side = min(size) - 100
    code = code.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", size, 255)
    frame.paste(code, ((size[0] - side) // 2, (size[1] - side) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((size[0] // 2) * (size[1] // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            out.write(b"FRAME\n" + luma + chroma + chroma)


@contextmanager
def camera_on(playwright: Any, code_png: bytes, folder: Path, **page: Any) -> Iterator[Page]:
    """A page in a browser of its own whose camera sees ``code_png`` (Chromium's fake camera)."""
    video = folder / f"camera-{secrets.token_hex(4)}.y4m"
    write_y4m(code_png, video)
    camera = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        ctx, opened = new_page(camera, permissions=["camera"], **page)
        yield opened
        ctx.close()
    finally:
        camera.close()


def test_the_wallet_reads_the_cashiers_code_with_the_camera(
    server: Server, browser: Any, playwright: Any, shots: Path, tmp_path: Path
) -> None:
    till_ctx, till = new_page(browser, **phone("tablet"))
    try:
        open_stall(till, server.url, name="Old Chen Noodles")
        type_amount(till, "36")
        till.get_by_role("button", name="Show code").click()
        expect(till.locator("#c-code-amount")).to_have_text("¥36.00")
        code = till.locator("#c-order-qr").screenshot()
        with camera_on(playwright, code, tmp_path, **phone()) as wallet:
            sign_up_consumer(wallet, server.url)
            top_up(wallet, "50")
            wallet.get_by_role("button", name="Scan").click()
            # Read from the live camera, within a second or two of the code being in view.
            expect(wallet.locator("#confirm-title")).to_have_text(
                "Pay Old Chen Noodles", timeout=5000
            )
            expect(wallet.locator("#confirm-amount")).to_have_text("¥36.00")
            confirm_with_pin(wallet)
            expect(wallet.locator("#done-title")).to_have_text("Paid ¥36.00 to Old Chen Noodles")
            shot(wallet, shots, "wallet-paid")
        # The cashier, in another browser, shows it without a reload and says it.
        expect(till.locator("#c-paid-title")).to_have_text("Received ¥36.00")
        assert "Received 36 yuan" in spoken(till)  # as a sound box says it: no ".00"
    finally:
        till_ctx.close()


def test_the_cashier_reads_the_payers_code_with_the_camera(
    server: Server, browser: Any, playwright: Any, tmp_path: Path
) -> None:
    """The other way round: the till's camera reads the code on the payer's phone."""
    wallet_ctx, wallet = new_page(browser, **phone())
    try:
        sign_up_consumer(wallet, server.url)
        top_up(wallet, "40")
        set_no_pin_limit(wallet, "20", "100")
        wallet.get_by_role("button", name="Pay", exact=True).click()
        code = wallet.locator("#paycode-box svg.qr").screenshot()
        with camera_on(playwright, code, tmp_path, **phone("tablet")) as till:
            open_stall(till, server.url, name="Nanshan Fresh Mart")
            type_amount(till, "18")
            till.get_by_role("button", name="Scan payer's code").click()
            till.get_by_role("button", name="Use the camera").click()
            # Read from the live camera and charged under the payer's no-PIN limit: nothing
            # was typed, so only the camera can have brought the payer's code to the till.
            expect(till.locator("#c-paid-title")).to_have_text("Received ¥18.00", timeout=8000)
        expect(wallet.locator("#paycode-out")).to_have_text("Paid ¥18.00 to Nanshan Fresh Mart")
        wallet.get_by_role("button", name="Back").click()
        expect(wallet.locator("#balance")).to_have_text("¥22.00")
    finally:
        wallet_ctx.close()


def test_red_packet_link_claims_and_the_luckiest(server: Server, browser: Any, shots: Path) -> None:
    contexts = []
    try:
        pages = []
        for name in ("Zhang Min", "Li Wei", "Chen Mei"):
            ctx, page = new_page(browser, **phone())
            contexts.append(ctx)
            sign_up_consumer(page, server.url, name=name)
            pages.append(page)
        sender, first, second = pages
        top_up(sender, "100")
        sender.get_by_role("button", name="Red packet").click()
        form = sender.locator("#packet-form")
        form.get_by_label("Total (¥)").fill("8.88")
        form.get_by_label("How many people").fill("2")
        form.get_by_label("Greeting").fill("新年快乐")
        form.get_by_label("Payment PIN").fill(PIN)  # the packet is made at the sixth digit
        expect(sender.locator("#po-title")).to_have_text("From Zhang Min")
        expect(sender.locator("#po-left")).to_have_text("2 of 2 shares left")
        link = sender.locator("#po-share a").get_attribute("data-link")
        assert link and "/p/" in link
        assert read_code(sender, "#po-share svg") == link  # the code carries the same link

        got = []
        for page in (first, second):
            page.goto(link)
            expect(page.locator("#po-greeting")).to_have_text("新年快乐")
            page.get_by_role("button", name="Open the red packet").click()
            expect(page.locator("#po-out")).to_contain_text("You got ¥")
            got.append(page.locator("#po-out").inner_text())
            expect(page.get_by_role("button", name="Open the red packet")).to_be_hidden()
        shot(second, shots, "wallet-red-packet")
        cents = [int(text.split("¥")[1].rstrip("!").replace(".", "")) for text in got]
        assert sum(cents) == 888 and min(cents) >= 1
        expect(second.locator("#po-claims li")).to_have_count(2)
        expect(second.locator("#po-claims")).to_contain_text("luckiest")
        second.goto(server.url + "/wallet")
        expect(second.locator("#balance")).to_have_text(f"¥{cents[1] // 100}.{cents[1] % 100:02d}")
    finally:
        for ctx in contexts:
            ctx.close()


def test_send_to_a_phone_and_pay_a_friends_code(server: Server, browser: Any) -> None:
    a_ctx, alice = new_page(browser, **phone())
    b_ctx, bob = new_page(browser, **phone())
    try:
        sign_up_consumer(alice, server.url, name="Alice")
        bob_login = sign_up_consumer(bob, server.url, name="Bob")  # confirms the phone later
        top_up(alice, "80")
        alice.get_by_role("button", name="Send").click()
        form = alice.locator("#send-form")
        form.get_by_label("To (phone, e-mail or wallet id)").fill(bob_login)
        form.get_by_label("Amount (¥)").fill("20")
        form.get_by_label("Note (optional)").fill("dinner 晚饭")
        form.get_by_role("button", name="Send").click()
        confirm_with_pin(alice, button="Send ¥20.00")
        # Nobody has proven they own Bob's phone yet: the money waits for whoever does.
        expect(alice.locator("#done-details")).to_contain_text(bob_login)
        bob.reload()
        expect(bob.locator("#unverified")).to_contain_text(bob_login)
        expect(bob.locator("#balance")).to_have_text("¥0.00")
        bob.locator("#unverified").get_by_role("button", name="Confirm").click()
        confirm_phone(bob, bob_login, code_sent_to(server.database_url, bob_login))
        expect(bob.locator("#balance")).to_have_text("¥20.00")

        alice.get_by_role("button", name="Done").click()
        alice.get_by_role("button", name="Send").click()
        form.get_by_label("Amount (¥)").fill("1")  # now it arrives at once
        form.get_by_role("button", name="Send").click()
        confirm_with_pin(alice, button="Send ¥1.00")
        expect(alice.locator("#done-title")).to_have_text("Sent ¥1.00 to *Bob")
        bob.reload()
        expect(bob.locator("#balance")).to_have_text("¥21.00")
        bob.get_by_role("button", name="History").click()
        expect(bob.locator("#history")).to_contain_text("dinner 晚饭")
        expect(bob.locator("#history")).to_contain_text("+¥20.00")

        # Bob pays Alice back by scanning her personal code.
        alice.get_by_role("button", name="Done").click()
        alice.get_by_role("button", name="Receive").click()
        code = read_code(alice, "#receive-box svg")
        bob.get_by_role("button", name="Back").click()
        scan_by_paste(bob, code)
        expect(bob.locator("#confirm-title")).to_have_text("Send money to Alice")
        bob.locator("#confirm-form").get_by_label("Amount (¥)").fill("5")
        confirm_with_pin(bob)
        expect(bob.locator("#done-title")).to_have_text("Sent ¥5.00 to Alice")
        alice.get_by_role("button", name="Back").click()
        expect(alice.locator("#balance")).to_have_text("¥64.00")
    finally:
        a_ctx.close()
        b_ctx.close()


def test_money_to_people_asks_for_the_pin_even_under_the_no_pin_limit(
    server: Server, browser: Any
) -> None:
    a_ctx, alice = new_page(browser, **phone())
    b_ctx, bob = new_page(browser, **phone())
    try:
        sign_up_consumer(alice, server.url, name="Alice")
        bob_login = sign_up_consumer(bob, server.url, name="Bob", database_url=server.database_url)
        top_up(alice, "80")
        set_no_pin_limit(alice, "20", "100")  # small payments at a till go without the PIN
        alice.get_by_role("button", name="Send").click()
        form = alice.locator("#send-form")
        form.get_by_label("To (phone, e-mail or wallet id)").fill(bob_login)
        form.get_by_label("Amount (¥)").fill("5")
        form.get_by_role("button", name="Send").click()
        alice.locator("#confirm-button").click()  # under the no-PIN limit, still the PIN
        expect(alice.locator("#confirm-out")).to_have_text("Enter your payment PIN.")
        confirm_with_pin(alice, button="Send ¥5.00")
        expect(alice.locator("#done-title")).to_have_text("Sent ¥5.00 to *Bob")
        alice.get_by_role("button", name="Done").click()
        alice.get_by_role("button", name="Red packet").click()
        packet = alice.locator("#packet-form")
        packet.get_by_label("Total (¥)").fill("2")
        packet.get_by_label("How many people").fill("2")
        packet.get_by_role("button", name="Put money in the packet").click()
        expect(alice.locator("#packet-out")).to_have_text("Enter your payment PIN.")
        alice.goto(server.url + "/wallet")
        expect(alice.locator("#balance")).to_have_text("¥75.00")  # only the transfer, with its PIN
    finally:
        a_ctx.close()
        b_ctx.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``saoma serve`` in demo mode over a fresh embedded database (seeded on start)."""
    tmp = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = dict(os.environ)
    env.update(
        SAOMA_DATABASE_URL=f"sqlite:///{tmp / 'saoma.db'}",
        SAOMA_DEMO="1",
        SAOMA_SANDBOX_BANK_DELAY_S="0.01",
    )
    srv = Server(f"http://127.0.0.1:{port}", env["SAOMA_DATABASE_URL"], tmp / "log", env, port)
    srv.start()
    yield srv
    srv.stop()


def test_demo_start_page_opens_any_party_in_one_click(
    demo_server: Server, browser: Any, shots: Path
) -> None:
    ctx, page = new_page(browser, **phone("tablet"))
    try:
        page.goto(demo_server.url + "/")
        banner = "Demo mode: a made-up Shenzhen; anyone can sign in as anyone. No real money."
        expect(page.get_by_role("note")).to_have_text(banner)
        expect(page.locator("#s-pin")).to_have_text(f"Every demo PIN is {DEMO_PIN}.")
        operators = page.locator("#s-operators li.demo-operator")
        expect(operators).to_have_count(4)
        for role, name in (("support", "Support"), ("admin", "Administrator")):
            one = operators.filter(has_text=f"{role}@demo.saoma")
            expect(one).to_contain_text(name)
            expect(one).to_contain_text("otpauth://totp/")
            qr = one.get_by_role("img", name=f"Authenticator code for {role}@demo.saoma")
            expect(qr).to_be_visible()
        printed = demo_server.log.read_text()  # where `saoma demo` prints the logins too
        assert "risk@demo.saoma" in printed and "otpauth://totp/" in printed
        assert f"Ordering at the table on http://localhost:{demo_server.port + 2}" in printed
        assert f"localhost:{demo_server.port + 2}/kitchen#key=" in printed
        shot(page, shots, "start", full=True)
        li_wei = CONSUMERS[0][1]
        page.locator("#s-consumers li", has_text=li_wei).get_by_role("button").click()
        expect(page.locator("#hello")).to_have_text(li_wei)
        expect(page.get_by_role("note")).to_have_text(banner)
        assert page.locator("#balance").inner_text().startswith("¥")

        page.goto(demo_server.url + "/")
        noodles = page.locator("#s-merchants li", has_text="Old Chen Noodles")
        noodles.get_by_role("button", name="Dashboard").click()
        expect(page.locator("#d-name")).to_have_text("Old Chen Noodles")
        expect(page.locator("#d-payments tr").first).not_to_contain_text("Nothing yet.")
        page.goto(demo_server.url + "/")
        noodles.get_by_role("button", name="Cashier").click()
        expect(page.locator("#c-name")).to_have_text("Old Chen Noodles")
        expect(page.get_by_role("note")).to_have_text(banner)
    finally:
        ctx.close()


def test_demo_sign_up_shows_the_sandbox_code_to_type(demo_server: Server, browser: Any) -> None:
    """No SMS leaves a demo: the code the sandbox would have sent is shown to be typed."""
    ctx, page = new_page(browser, **phone())
    try:
        login = f"+86136{secrets.randbelow(10**8):08d}"
        page.goto(demo_server.url + "/wallet")
        page.get_by_role("button", name="New here? Create a wallet").click()
        form = page.locator("#signup-form")
        form.get_by_label("Phone number or e-mail").fill(login)
        form.get_by_label("Password").fill("correct horse battery")
        form.get_by_label("Payment PIN (6 digits)").fill(DEMO_PIN)
        form.get_by_role("button", name="Create a wallet").click()
        expect(page.locator("#vf-sandbox")).to_contain_text("your code is")
        code = page.locator("#vf-sandbox").inner_text().split("your code is ")[1][:6]
        confirm_phone(page, login, code)
        page.goto(demo_server.url + "/")
        expect(page.locator("#s-messages")).to_contain_text(login)
    finally:
        ctx.close()
