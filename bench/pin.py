"""What checking a payment PIN costs: the keyed check (HMAC-SHA256 under the key file's key)
against the Argon2id check PINs had before (time_cost 1, 4 MiB), both in this run, in CPU time
per check (a payment checks its PIN once).

    .venv/bin/python bench/pin.py [--seconds 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from saoma.wallets.pinkeys import PinKeys, legacy_hasher


def per_call_us(fn: Callable[[], object], seconds: float) -> tuple[float, int]:
    calls = 0
    started = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        fn()
        calls += 1
    return (time.process_time() - started) / calls * 1e6, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys = PinKeys(Path(tmp) / "pin.key")
        sealed = keys.seal("c_bench", "246810")
        hashed = legacy_hasher.hash("246810")
        keyed, n_keyed = per_call_us(lambda: keys.check(sealed, "c_bench", "246810"), args.seconds)
        argon, n_argon = per_call_us(lambda: keys.check(hashed, "c_bench", "246810"), args.seconds)
    print("PIN check, CPU time per check (a right PIN)")
    print(f"  Argon2id (before, baseline)  {argon:10.1f} µs  ({n_argon} checks)")
    print(f"  HMAC-SHA256 under the key    {keyed:10.1f} µs  ({n_keyed} checks)")
    saved = (argon - keyed) / 1000
    print(f"  saved per payment            {saved:10.2f} ms  ({argon / keyed:.0f}x less)")


if __name__ == "__main__":
    main()
