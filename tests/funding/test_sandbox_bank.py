"""The sandbox bank acts like a real one: outcomes later, declines, silence, redelivery."""

from __future__ import annotations

import threading

from saoma.funding.bank import BankOutcome, SandboxBank
from support import wait_until


def test_outcomes_arrive_later_and_declines_and_silence_are_kept() -> None:
    seen: dict[str, BankOutcome] = {}
    told_on: set[int] = set()

    def settled(outcome: BankOutcome) -> None:
        told_on.add(threading.get_ident())
        seen[outcome.instruction_id] = outcome

    bank = SandboxBank(settled, delay_s=0.01)
    bank.collect("ok", 10_000, "CNY", "acct")
    bank.collect("declined", 10_013, "CNY", "acct")
    bank.pay_out("silent", 10_044, "CNY", "acct")
    wait_until(bank.quiet, timeout_s=5, what="the bank's answers")
    # accepted now, settled later: every outcome came from the bank's side, none within the call
    assert told_on and threading.get_ident() not in told_on
    assert seen["ok"].succeeded and seen["ok"].bank_reference.startswith("SBX")
    assert not seen["declined"].succeeded and seen["declined"].failure == "card declined"
    assert "silent" not in seen
    bank.close()


def test_a_notification_that_fails_is_sent_again_until_taken() -> None:
    calls: list[str] = []
    taken = threading.Event()

    def settled(outcome: BankOutcome) -> None:
        calls.append(outcome.instruction_id)
        if len(calls) < 3:
            raise ConnectionError("the database is away")
        taken.set()

    bank = SandboxBank(settled, delay_s=0.01)
    bank.collect("topup-1", 5_000, "CNY", "acct")
    assert taken.wait(5), calls
    wait_until(bank.quiet, timeout_s=5, what="the bank to stop sending")
    assert calls == ["topup-1"] * 3  # and not again once taken
    bank.close()


def test_an_instruction_sent_again_is_the_same_instruction() -> None:
    seen: list[BankOutcome] = []
    bank = SandboxBank(seen.append, delay_s=0.01)
    bank.collect("topup-2", 5_000, "CNY", "acct")
    bank.collect("topup-2", 5_000, "CNY", "acct")  # Saoma did not hear back, and asks again
    wait_until(bank.quiet, timeout_s=5, what="the bank's answers")
    assert len(seen) == 2 and seen[0] == seen[1]  # one outcome, one bank reference
    bank.close()
