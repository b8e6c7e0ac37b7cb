"""``saoma check-authorisations`` proves the consent rules from the database, so a row written
behind the service's back (a no-PIN debit beyond the limits, a PIN check that never happened)
makes it fail, naming the debit."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from consent.conftest import PIN, shop, wallet
from saoma.bootstrap import Platform
from saoma.paycode import codes


@dataclass
class Debits:
    charge: str  # a payment-code charge of 1,000 without the PIN (allowance 1,000 / 1,500)
    paid: str  # a payment of 2,500 with the PIN
    sent: str  # a transfer of 500 to a friend with the PIN


def cli(db_url: str) -> tuple[int, str]:
    """Run the command as an operator would: its exit status and what it printed."""
    env = dict(os.environ, COLUMNS="1000", SAOMA_DATABASE_URL=db_url)
    done = subprocess.run(
        [sys.executable, "-m", "saoma.cli", "check-authorisations"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def _transfer(p: Platform, table: str, row_id: str) -> str:
    with p.engine.connect() as conn:
        return str(
            conn.execute(
                text(f"SELECT transfer_id FROM {table} WHERE id = :id"), {"id": row_id}
            ).scalar_one()
        )


@pytest.fixture
def debits(platform: Platform) -> Debits:
    p = platform
    payer = p.wallets.set_no_pin_limit(wallet(p, 10_000).id, 1_000, 1_500, PIN)
    friend = wallet(p, 0)
    till = shop(p)
    device = p.paycodes.enrol(payer.id, "phone")
    code = codes.generate(base64.b64decode(device["secret"]), device["handles"][0], time.time())
    charge = p.payments.create_charge(
        till, code=code, amount=1_000, currency="CNY", merchant_order_no="A", terminal_id="t"
    )
    paid = p.payments.pay_static(payer, till.id, amount=2_500, pin=PIN)
    sent = p.people.send(payer, to=friend.id, amount=500, pin=PIN)
    return Debits(
        _transfer(p, "payments", charge["payment_id"]),
        _transfer(p, "payments", paid["id"]),
        _transfer(p, "p2p_transfers", sent["id"]),
    )


def _write(p: Platform, sql: str, **params: Any) -> None:
    with p.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_an_honest_database_passes(platform: Platform, debits: Debits, db_url: str) -> None:
    status, said = cli(db_url)
    assert status == 0, said
    assert "every wallet debit rests on the payer's authorisation" in said


def test_a_no_pin_payment_beyond_the_limits_is_named(
    platform: Platform, debits: Debits, db_url: str
) -> None:
    _write(
        platform,
        "UPDATE payments SET authorisation = 'no_pin_limit:forged' WHERE transfer_id = :t",
        t=debits.paid,
    )
    status, said = cli(db_url)
    assert status == 1
    assert f"transfer {debits.paid!r}" in said and "beyond its allowance" in said
    assert debits.charge not in said  # the honest no-PIN charge stays proven


def test_a_pin_authorisation_without_its_check_is_named(
    platform: Platform, debits: Debits, db_url: str
) -> None:
    _write(
        platform,
        "UPDATE p2p_transfers SET authorisation = 'pin:pc_neverhappened' WHERE transfer_id = :t",
        t=debits.sent,
    )
    status, said = cli(db_url)
    assert status == 1
    assert f"transfer {debits.sent!r}" in said
    assert "'pc_neverhappened', which is not recorded" in said


def test_one_pin_check_under_two_debits_is_named(
    platform: Platform, debits: Debits, db_url: str
) -> None:
    _write(
        platform,
        "UPDATE p2p_transfers SET authorisation = (SELECT authorisation FROM payments"
        " WHERE transfer_id = :paid) WHERE transfer_id = :sent",
        sent=debits.sent,
        paid=debits.paid,
    )
    status, said = cli(db_url)
    assert status == 1
    assert f"transfer {debits.sent!r}" in said
    assert f"already used by transfer {debits.paid!r}" in said


def test_a_transfer_to_a_person_without_the_pin_is_named(
    platform: Platform, debits: Debits, db_url: str
) -> None:
    _write(
        platform,
        "UPDATE p2p_transfers SET authorisation = 'no_pin_limit:p2p' WHERE transfer_id = :t",
        t=debits.sent,
    )
    status, said = cli(db_url)
    assert status == 1
    assert f"transfer {debits.sent!r}" in said and "to a person without the PIN" in said


def test_no_pin_debits_count_against_the_limits_in_force_at_the_time(
    platform: Platform, debits: Debits, db_url: str
) -> None:
    # Had the payer never raised the limits (their change erased), the charge broke them.
    _write(platform, "DELETE FROM no_pin_limit_changes WHERE per_payment > 0")
    status, said = cli(db_url)
    assert status == 1
    assert f"transfer {debits.charge!r}" in said and "0 a payment and 0 a day" in said


def test_a_bare_pin_is_accepted_only_from_before_the_rule(
    platform: Platform, debits: Debits, db_url: str
) -> None:
    _write(
        platform,
        "UPDATE payments SET authorisation = 'pin' WHERE transfer_id = :t",
        t=debits.paid,
    )
    status, said = cli(db_url)
    assert status == 1 and f"transfer {debits.paid!r}" in said and "no PIN check" in said
    # The same row from a database migrated after it was written is as the old rules left it.
    _write(platform, "DELETE FROM consent_rules")
    _write(
        platform,
        "INSERT INTO consent_rules (rule, since_us) VALUES ('pin-checks', :later)",
        later=(time.time_ns() // 1_000) + 3_600_000_000,
    )
    status, said = cli(db_url)
    assert status == 0, said
