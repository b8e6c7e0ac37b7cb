"""PINs are checked under a key that is not in the database: the stored value tells nothing
without the key file, PINs stored the old way (Argon2) move to the keyed form at their next
right entry, and a rotated key takes over PIN by PIN without anyone typing a PIN again."""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select, update

from consent.conftest import PASSWORD, PIN, shop, wallet
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.core.keyfile import load_or_make, rotate
from saoma.merchants import tables as mt
from saoma.wallets import tables as wt
from saoma.wallets.pinkeys import PinKeys, legacy_hasher


def stored_pin(p: Platform, consumer_id: str) -> str:
    with p.engine.connect() as conn:
        c = wt.consumers.c
        return str(conn.execute(select(c.pin_hash).where(c.id == consumer_id)).scalar_one())


def store(p: Platform, consumer_id: str, value: str) -> None:
    with p.engine.begin() as conn:
        c = wt.consumers.c
        conn.execute(update(wt.consumers).where(c.id == consumer_id).values(pin_hash=value))


def test_a_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pin.key"
    first = load_or_make(path)
    assert load_or_make(path) == first  # made once, then read
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    kid, key = first[0]
    assert len(key) == 32 and kid in path.read_text()


def test_the_stored_pin_needs_the_key_and_is_bound_to_its_owner(tmp_path: Path) -> None:
    keys = PinKeys(tmp_path / "pin.key")
    sealed = keys.seal("c_alice", PIN)
    assert PIN not in sealed and sealed.startswith("hmac-sha256$")
    assert keys.check(sealed, "c_alice", PIN).matches
    assert not keys.check(sealed, "c_alice", "135790").matches
    assert not keys.check(sealed, "c_bob", PIN).matches  # copied to another row: useless
    assert keys.seal("c_bob", PIN) != sealed  # the same PIN looks different for two people
    other = PinKeys(tmp_path / "other.key")  # the database without its key file
    assert not other.check(sealed, "c_alice", PIN).matches
    assert not keys.check("hmac-sha256$nokey$abc", "c_alice", PIN).matches
    assert not keys.check("", "c_alice", PIN).matches


def test_an_argon2_pin_moves_to_the_keyed_form_at_its_next_right_entry(platform: Platform) -> None:
    payer = wallet(platform, 1_000)
    assert stored_pin(platform, payer.id).startswith("hmac-sha256$")
    store(platform, payer.id, legacy_hasher.hash(PIN))  # as stored before the keyed form
    with pytest.raises(SaomaError) as wrong:  # a wrong PIN changes nothing
        platform.wallets.verify_pin(payer.id, "135790")
    assert wrong.value.slug == "pin-wrong"
    assert stored_pin(platform, payer.id).startswith("$argon2")
    platform.wallets.verify_pin(payer.id, PIN)
    renewed = stored_pin(platform, payer.id)
    assert renewed.startswith("hmac-sha256$")
    platform.wallets.verify_pin(payer.id, PIN)  # and it keeps working
    assert stored_pin(platform, payer.id) == renewed


def test_a_manager_pin_moves_to_the_keyed_form_too(platform: Platform) -> None:
    stall = shop(platform)
    platform.merchants.set_manager_pin(stall.id, PIN, password=PASSWORD, old_pin=None)
    m = mt.merchants.c
    with platform.engine.begin() as conn:
        conn.execute(
            update(mt.merchants)
            .where(m.id == stall.id)
            .values(manager_pin_hash=legacy_hasher.hash(PIN))
        )
    platform.merchants.verify_manager_pin(stall.id, PIN)
    with platform.engine.connect() as conn:
        now = conn.execute(select(m.manager_pin_hash).where(m.id == stall.id)).scalar_one()
    assert now.startswith("hmac-sha256$")
    with pytest.raises(SaomaError) as wrong:
        platform.merchants.verify_manager_pin(stall.id, "135790")
    assert wrong.value.slug == "manager-pin-wrong"


def test_a_rotated_key_takes_over_pin_by_pin(tmp_path: Path) -> None:
    path = tmp_path / "pin.key"
    running = PinKeys(path)  # a process started before the rotation
    old = running.seal("c_alice", PIN)
    new_kid = rotate(path)
    assert load_or_make(path)[0][0] == new_kid
    restarted = PinKeys(path)
    verdict = restarted.check(old, "c_alice", PIN)  # sealed under the older key: still right
    assert verdict.matches and verdict.renewed is not None
    assert verdict.renewed.split("$")[1] == new_kid
    # The process that knew only the old key reads the file again for a PIN under the new one.
    assert running.check(verdict.renewed, "c_alice", PIN).matches
    assert restarted.check(verdict.renewed, "c_alice", PIN).renewed is None


def test_a_damaged_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "pin.key"
    path.write_text("k1:not-base64!\n")
    with pytest.raises(ValueError, match=r"pin.key:1"):
        load_or_make(path)


def test_processes_starting_together_share_one_new_key(tmp_path: Path) -> None:
    path = tmp_path / "pin.key"
    start = threading.Barrier(20)

    def first_use(_: int) -> list[tuple[str, bytes]]:
        start.wait()
        return load_or_make(path)

    with ThreadPoolExecutor(20) as pool:
        seen = list(pool.map(first_use, range(20)))
    assert all(keys == seen[0] for keys in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pin.key"]  # nothing left behind
