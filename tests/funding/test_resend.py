"""What the bank has not answered is sent again — but not when Saoma is about to give up on it,
by one process at a time, and a bank that cannot be reached stops nothing else."""

from __future__ import annotations

import secrets
import time

import pytest

from saoma.bootstrap import Platform
from saoma.funding import service as funding
from saoma.funding.bank import TIMEOUT_SUFFIX
from support import PASSWORD, Wiring


class CountingBank:
    """A bank that takes instructions and never answers; it can be made unreachable."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.down = False

    def collect(self, instruction_id: str, amount: int, currency: str, account: str) -> None:
        if self.down:
            raise ConnectionError("the bank is unreachable")
        self.sent.append(instruction_id)

    pay_out = collect

    def close(self) -> None:
        pass


@pytest.fixture
def wiring(monkeypatch: pytest.MonkeyPatch) -> Wiring:
    # Funding reads its give-up times from module constants (no constructor parameter yet).
    monkeypatch.setattr(funding, "BANK_TIMEOUT_US", 3_000_000)
    monkeypatch.setattr(funding, "RESEND_CUTOFF_US", 2_000_000)
    return Wiring(bank=CountingBank())


def test_unanswered_instructions_go_again_until_the_give_up_is_near(platform: Platform) -> None:
    bank = platform.funding.bank
    assert isinstance(bank, CountingBank)
    consumer = platform.wallets.sign_up(f"+86139{secrets.randbelow(10**8):08d}", PASSWORD)
    top = platform.funding.top_up(consumer, 5_000 + TIMEOUT_SUFFIX)
    assert bank.sent == [top["id"]]
    assert platform.funding.resend_pending(older_than_us=0) == 1
    assert platform.funding.resend_pending() == 0  # sent a moment ago: not yet again
    assert bank.sent == [top["id"]] * 2
    bank.down = True
    assert platform.funding.resend_pending(older_than_us=0) == 0  # logged, nothing raised
    bank.down = False
    # The sleeps are the test: the give-up and the cut-off before it are times that must pass.
    time.sleep(1.1)  # within 2 s of the 3 s give-up: the bank would act as Saoma stops waiting
    assert platform.funding.resend_pending(older_than_us=0) == 0
    time.sleep(2)
    assert platform.funding.time_out_stale() == 1
    assert platform.funding.resend_pending(older_than_us=0) == 0
    assert bank.sent == [top["id"]] * 2
