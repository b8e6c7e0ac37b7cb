"""What a person does in the pages, as functions the browser tests share."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from saoma.qr import images
from support import code_sent_to

CHROMIUM = os.environ.get("SAOMA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


SHOTS = Path(
    os.environ.get(
        "SAOMA_SCREENSHOT_DIR", Path(__file__).resolve().parents[1] / "build/screenshots"
    )
)


# The run's one Playwright and one Chromium (made available to every test by tests/conftest.py).
@pytest.fixture(scope="session")
def playwright() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("SAOMA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium is required but missing at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: object) -> Iterator[object]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # type: ignore[attr-defined]
    yield b
    b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where the screenshots go (build/screenshots, or SAOMA_SCREENSHOT_DIR)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


PASSWORD = "correct horse battery"
PIN = "246810"

# Records what the cashier says aloud (the sound box) while still calling the real API.
SPEECH_SPY = """
window.__spoken = [];
if (window.speechSynthesis) {
  const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (u) => {
    window.__spoken.push({ text: u.text, lang: u.lang });
    try { speak(u); } catch (e) {}
  };
}
"""


def new_page(browser: Any, *, locale: str = "en-US", **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(locale=locale, **options)
    context.add_init_script(SPEECH_SPY)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


def phone(size: str = "phone") -> dict[str, Any]:
    if size == "tablet":
        return {"viewport": {"width": 1024, "height": 768}}
    return {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def shot(page: Page, shots: Path, name: str, *, full: bool = False) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=full)


def sign_up_consumer(
    page: Page, url: str, name: str = "Li Wei", *, database_url: str | None = None
) -> str:
    """Create a wallet; with ``database_url``, confirm the phone with the code the sandbox sent
    (as its owner would read it on the phone), otherwise put that off ("Later")."""
    login = f"+86139{secrets.randbelow(10**8):08d}"
    page.goto(url + "/wallet")
    page.get_by_role("button", name="New here? Create a wallet").click()
    form = page.locator("#signup-form")
    form.get_by_label("Your name").fill(name)
    form.get_by_label("Phone number or e-mail").fill(login)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Payment PIN (6 digits)").fill(PIN)
    form.get_by_role("button", name="Create a wallet").click()
    expect(page.locator("#vf-sent")).to_contain_text(login)
    if database_url is None:
        page.locator("#verify-form").get_by_role("button", name="Later").click()
        expect(page.locator("#unverified")).to_contain_text(login)
    else:
        confirm_phone(page, login, code_sent_to(database_url, login))
    expect(page.locator("#balance")).to_have_text("¥0.00")
    return login


def confirm_phone(page: Page, login: str, code: str) -> None:
    page.locator("#verify-form").get_by_label("Code (6 digits)").fill(code)
    page.locator("#verify-form").get_by_role("button", name="Confirm").click()
    expect(page.locator("#v-home")).to_be_visible()
    expect(page.locator("#unverified")).to_be_hidden()


def top_up(page: Page, yuan: str) -> None:
    page.get_by_role("button", name="Top up").click()
    page.locator("#topup-form").get_by_label("Amount (¥)").fill(yuan)
    page.locator("#topup-form").get_by_role("button", name="Top up").click()
    expect(page.locator("#topup-out")).to_contain_text("arrived from the bank")
    page.get_by_role("button", name="Back").click()


def set_no_pin_limit(page: Page, per_payment: str, per_day: str) -> None:
    """Settings: let small payment-code charges go through without the PIN."""
    page.get_by_role("button", name="Settings").click()
    page.get_by_label("Per payment up to (¥)").fill(per_payment)
    page.get_by_label("Per day up to (¥)").fill(per_day)
    page.locator("#lm-pin").fill(PIN)
    page.locator("#limit-form").get_by_role("button", name="Save").click()
    expect(page.locator("#limit-out")).to_have_text("Saved.")
    page.get_by_role("button", name="Back").click()


def open_stall(
    page: Page, url: str, name: str = "Old Chen Noodles", name_zh: str = "老陈面馆"
) -> str:
    login = f"stall-{secrets.token_hex(4)}@example.cn"
    page.goto(url + "/cashier")
    form = page.locator("#c-signup-form")
    form.get_by_label("Stall name (Latin letters)").fill(name)
    form.get_by_label("Name in Chinese").fill(name_zh)
    form.get_by_label("Phone number or e-mail").fill(login)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Open a stall").click()
    if name:
        expect(page.locator("#c-name")).to_have_text(name)
    else:
        expect(page.locator("#c-name")).not_to_be_empty()
    return login


def type_amount(page: Page, yuan: str) -> None:
    """Tap the amount on the cashier's keypad."""
    for key in yuan:
        page.locator(f"[data-key='{key}']").click()
    expect(page.locator("#c-display")).to_have_text("¥" + yuan)


def read_code(page: Page, selector: str) -> str:
    """Decode the QR code shown on the page from a screenshot, as a phone camera would.

    Like a camera it keeps looking for a few seconds: a toast passing over the code (a payment
    announced on the dashboard, say) hides it for a moment.
    """
    deadline = time.monotonic() + 5
    while True:
        picture = page.locator(selector).screenshot()
        found = images.read(picture)
        if found:
            return found[0]
        if time.monotonic() > deadline:
            kept = Path("build/unreadable-code.png")
            kept.parent.mkdir(exist_ok=True)
            kept.write_bytes(picture)
            raise AssertionError(f"no code could be read from {selector} (see {kept})")
        page.wait_for_timeout(250)


def scan_by_paste(page: Page, payload: str) -> None:
    """The wallet's fallback to the camera: paste what a scanner app read."""
    page.get_by_role("button", name="Scan").click()
    page.locator("#paste-form").get_by_label("Or paste a code").fill(payload)
    page.get_by_role("button", name="Read").click()


def confirm_with_pin(page: Page, pin: str = PIN, *, button: str = "") -> None:
    """Type the PIN into the six-box pad: it sends at the sixth digit, no button to press
    (``button``: what the button under it says, checked first)."""
    expect(page.locator("#confirm-button")).to_contain_text(button)
    page.locator("#cf-pin").fill(pin)


def balance(page: Page) -> str:
    return page.locator("#balance").inner_text()


def spoken(page: Page) -> list[str]:
    return [s["text"] for s in page.evaluate("window.__spoken")]


def money_text(text: str) -> int:
    match = re.search(r"¥(\d+)\.(\d\d)", text)
    assert match, text
    return int(match.group(1)) * 100 + int(match.group(2))


AXE = Path(__file__).parent / "web" / "vendor" / "axe.min.js"


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA findings on the page as it is: ``rule (impact): targets``.

    The page's context must bypass the Content-Security-Policy (``bypass_csp=True``) for axe's
    script to run.
    """
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
        })).violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target).join(" ")}`)"""
    )
    return list(found)


TAP_TARGET = 44  # px: the smallest a finger hits reliably (WCAG 2.5.5, Apple and Android guides)

# Every visible thing a finger taps, as the page lays it out: buttons, links, fields, lists,
# summaries, and a checkbox or radio by the label that wraps it (the label is what is tapped).
# Behind an open modal dialog nothing can be tapped: only the dialog's targets count then.
_TARGETS = """() => {
  const modal = Array.from(document.querySelectorAll("dialog[open]"))
    .find((d) => d.matches(":modal"));
  const scope = modal || document;
  const seen = new Set();
  const found = [];
  const name = (el) => {
    const tag = el.tagName.toLowerCase();
    const id = el.id ? "#" + el.id : "";
    const text = (el.getAttribute("aria-label") || el.textContent || el.value || el.name || "")
      .trim().replace(/\\s+/g, " ").slice(0, 40);
    return `${tag}${id} "${text}"`;
  };
  const visible = (el) => {
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right > 0 && r.bottom + window.scrollY > 0;
  };
  const all = scope.querySelectorAll(
    "button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button]");
  for (let el of all) {
    if (el.matches("input[type=checkbox], input[type=radio]")) el = el.closest("label") || el;
    if (seen.has(el) || !visible(el)) continue;
    seen.add(el);
    found.push({ el, name: name(el), rect: el.getBoundingClientRect(),
      field: el.matches("input, select, textarea"), font: getComputedStyle(el).fontFamily });
  }
  return found;
}"""

_SMALL = (
    """(least) => ("""
    + _TARGETS
    + """)().filter((t) => Math.round(t.rect.width) < least
  || Math.round(t.rect.height) < least).map((t) =>
  `${t.name} is ${Math.round(t.rect.width)}×${Math.round(t.rect.height)} px`)"""
)

# A button right under (or beside) a field, closer than ``room`` px: a thumb aiming at one hits
# the other.
_CROWDED = (
    """(room) => {
  const targets = ("""
    + _TARGETS
    + """)();
  const close = [];
  for (const f of targets.filter((t) => t.field)) {
    for (const b of targets.filter((t) => !t.field)) {
      const a = f.rect, r = b.rect;
      const across = Math.min(a.right, r.right) - Math.max(a.left, r.left);
      const down = Math.min(a.bottom, r.bottom) - Math.max(a.top, r.top);
      const below = r.top - a.bottom, beside = Math.max(r.left - a.right, a.left - r.right);
      if ((across > 0 && below >= 0 && below < room)
          || (down > 0 && beside >= 0 && beside < room)) {
        close.push(`${b.name} is ${Math.round(Math.max(below, beside))} px from ${f.name}`);
      }
    }
  }
  return close;
}"""
)

_FONTS = (
    """() => {
  const page = getComputedStyle(document.body).fontFamily;
  return ("""
    + _TARGETS
    + """)().filter((t) => t.font !== page && !t.el.closest("code, .digits, .mono, .pin"))
    .map((t) => `${t.name} is in ${t.font}`);
}"""
)


def small_tap_targets(page: Page, least: int = TAP_TARGET) -> list[str]:
    """Every visible tap target smaller than ``least`` × ``least`` px, named with its size."""
    return list(page.evaluate(_SMALL, least))


def crowded_buttons(page: Page, room: int = 8) -> list[str]:
    """Every visible button or link closer than ``room`` px to a field above or beside it."""
    return list(page.evaluate(_CROWDED, room))


def foreign_fonts(page: Page) -> list[str]:
    """Every visible tap target not in the page's font (a browser default font for buttons)."""
    return list(page.evaluate(_FONTS))
