"""What the dashboard's browser tests share: a signed-in dashboard, small taps measured."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from support import PASSWORD, Shop
from support_web import new_page

DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def dashboard(browser: Any, url: str, shop: Shop, **options: Any) -> tuple[BrowserContext, Page]:
    """The stall owner's dashboard on a desktop (axe may run: the context bypasses CSP)."""
    context, page = new_page(browser, bypass_csp=True, **(options or DESKTOP))
    page.goto(url + "/dashboard")
    page.locator("#ds-login").fill(shop.login)
    page.locator("#ds-password").fill(PASSWORD)
    page.locator("#ds-password").press("Enter")
    expect(page.locator("#d-main")).to_be_visible()
    expect(page.locator("#d-name")).not_to_be_empty()
    return context, page


def small_targets(page: Page, root: str = "body") -> list[str]:
    """Every visible control under ``root`` smaller than 44 × 44 CSS pixels (a check box or a
    radio counts by the label that holds it)."""
    found = page.evaluate(
        """(root) => {
          const small = [];
          const picked = document.querySelector(root).querySelectorAll(
            "a[href], button, input:not([type=hidden]), select, textarea, [role=link]");
          for (const node of picked) {
            const target = ["checkbox", "radio"].includes(node.type) && node.closest("label")
              ? node.closest("label") : node;
            const box = target.getBoundingClientRect();
            const style = getComputedStyle(target);
            if (!box.width || !box.height || style.visibility === "hidden") continue;
            if (box.width < 44 || box.height < 44) {
              const name = node.id || node.textContent.trim().slice(0, 30);
              small.push(`${name}: ${Math.round(box.width)}x${Math.round(box.height)}`);
            }
          }
          return small;
        }""",
        root,
    )
    return list(found)
