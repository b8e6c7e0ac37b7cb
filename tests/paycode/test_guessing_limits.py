"""Guessing payment codes: limited per terminal and per merchant, under concurrency too.

The terminal id is whatever the merchant's server sends, so a limit per terminal alone lets a
caller guess as often as it invents terminal ids. Each check claims a try from both allowances
with one conditional write before the code is looked at.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.core.errors import SaomaError
from saoma.paycode import codes, service
from saoma.paycode.service import FAILURES_MAX, PaymentCodes
from support import wait_until

MERCHANT_MAX = 20
WRONG = 8  # wrong codes among a busy till's real ones


def wrong_code(n: int) -> str:
    return f"28{n:010d}123456"  # well formed, no such handle


def outcome(paycodes: PaymentCodes, code: str, terminal: str) -> str:
    try:
        paycodes.resolve(code, terminal)
    except SaomaError as exc:
        return exc.slug
    return "resolved"


def test_fifty_terminal_ids_at_once_check_only_the_merchants_limit(engine: Engine) -> None:
    paycodes = PaymentCodes(engine, merchant_failures_max=MERCHANT_MAX)
    with ThreadPoolExecutor(50) as pool:
        slugs = list(
            pool.map(lambda n: outcome(paycodes, wrong_code(n), f"m_shop/till-{n}"), range(50))
        )
    assert Counter(slugs) == {"code-unknown": MERCHANT_MAX, "too-many-tries": 50 - MERCHANT_MAX}
    # A terminal refused by the merchant's limit kept its own try: none counted, none held.
    with engine.connect() as conn:
        rows = {
            r.terminal: (r.failures, r.pending)
            for r in conn.execute(text("SELECT terminal, failures, pending FROM paycode_failures"))
        }
    for n, slug in enumerate(slugs):
        expected = (1, 0) if slug == "code-unknown" else (0, 0)
        assert rows.get(f"m_shop/till-{n}", (0, 0)) == expected, (n, slug)
    # Another merchant is not held back by it.
    assert outcome(paycodes, wrong_code(99), "m_other/till-1") == "code-unknown"


def test_one_terminal_at_once_checks_only_the_terminals_limit(engine: Engine) -> None:
    paycodes = PaymentCodes(engine, merchant_failures_max=MERCHANT_MAX)
    with ThreadPoolExecutor(50) as pool:
        slugs = list(pool.map(lambda n: outcome(paycodes, wrong_code(n), "m_shop/till"), range(50)))
    assert Counter(slugs) == {"code-unknown": FAILURES_MAX, "too-many-tries": 50 - FAILURES_MAX}
    # The terminal's refusals did not use up the merchant's allowance.
    assert outcome(paycodes, wrong_code(0), "m_shop/till-2") == "code-unknown"


def test_real_codes_do_not_count_as_guesses(engine: Engine) -> None:
    paycodes = PaymentCodes(engine, merchant_failures_max=MERCHANT_MAX)
    device = paycodes.enrol("c_payer")
    secret = base64.b64decode(device["secret"])
    for n in range(MERCHANT_MAX - 1):
        assert outcome(paycodes, wrong_code(n), f"m_shop/till-{n}") == "code-unknown"
    for handle in device["handles"][:10]:  # a busy lunch hour at one till
        code = codes.generate(secret, handle, time.time())
        assert outcome(paycodes, code, "m_shop/till-0") == "resolved"
        assert outcome(paycodes, code, "m_shop/till-1") == "code-used"  # scanned twice
    assert outcome(paycodes, wrong_code(98), "m_shop/till-x") == "code-unknown"  # the 20th
    assert outcome(paycodes, wrong_code(99), "m_shop/till-y") == "too-many-tries"
    code = codes.generate(secret, device["handles"][10], time.time())
    assert outcome(paycodes, code, "m_shop/till-0") == "too-many-tries"  # until the minute ends


class Counting(PaymentCodes):
    """Counts its claims' rounds: a refused claim that waits for a try makes more than one."""

    rounds = 0

    def _claim_once(self, merchant: str, terminal: str, handle: str) -> Any:
        self.rounds += 1
        return super()._claim_once(merchant, terminal, handle)


def test_wrong_codes_beyond_the_allowance_are_refused_without_waiting(engine: Engine) -> None:
    """Once a merchant's wrong codes used its allowance, the next is refused at its first claim:
    with no code being checked there is no try to wait for, and a worker is not held."""
    paycodes = Counting(engine, merchant_failures_max=MERCHANT_MAX)
    for n in range(MERCHANT_MAX):
        assert outcome(paycodes, wrong_code(n), f"m_shop/till-{n}") == "code-unknown"
    paycodes.rounds = 0
    for n in range(3):
        assert outcome(paycodes, wrong_code(50 + n), f"m_shop/till-x{n}") == "too-many-tries"
    assert paycodes.rounds == 3


def test_a_check_refused_while_a_code_is_checked_waits_for_its_try(engine: Engine) -> None:
    """The last try is held by a code being checked: another check waits, and takes it once
    that code turns out real and gives it back."""
    paycodes = Counting(engine, merchant_failures_max=MERCHANT_MAX)
    for n in range(MERCHANT_MAX - 1):
        assert outcome(paycodes, wrong_code(n), f"m_shop/till-{n}") == "code-unknown"
    held, _ = paycodes._claim("m_shop", "m_shop/till-a", "")  # the last try, under way
    paycodes.rounds = 0
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(outcome, paycodes, wrong_code(90), "m_shop/till-b")
        wait_until(lambda: paycodes.rounds >= 2, what="the second check to wait for a try")
        assert not waiting.done()
        paycodes._settle(held, counted=0)  # a real code: its try given back
        assert waiting.result(timeout=10) == "code-unknown"
    # That was the twentieth wrong code: the next is refused at once.
    paycodes.rounds = 0
    assert outcome(paycodes, wrong_code(91), "m_shop/till-c") == "too-many-tries"
    assert paycodes.rounds == 1


def test_a_busy_till_with_real_and_wrong_codes_at_once_holds_no_try(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty real codes and some wrong ones at one till, all at once (limits high enough that
    none waits for a try): the terminal's and the merchant's rows are always taken in the same
    order, so no check waits on another in a circle (PostgreSQL would fail one after a
    second), and every try ends settled."""
    monkeypatch.setattr(service, "FAILURES_MAX", 1_000)
    paycodes = PaymentCodes(engine, merchant_failures_max=1_000)
    device = paycodes.enrol("c_payer")
    secret = base64.b64decode(device["secret"])
    real = [codes.generate(secret, h, time.time()) for h in device["handles"][:40]]
    sent = real + [wrong_code(n) for n in range(WRONG)]
    with ThreadPoolExecutor(len(sent)) as pool:
        slugs = list(pool.map(lambda code: outcome(paycodes, code, "m_shop/till"), sent))
    assert Counter(slugs) == {"resolved": len(real), "code-unknown": WRONG}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT terminal, failures, pending FROM paycode_failures")).all()
    assert sorted(tuple(r) for r in rows) == [("m_shop", WRONG, 0), ("m_shop/till", WRONG, 0)]
